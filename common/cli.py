"""Command-line helpers shared by every entry script.

Usage in a script::

    from common.cli import ArgumentParser, add_common_args, run_main

    def main(argv=None):
        parser = ArgumentParser(description=__doc__)
        add_common_args(parser, output_dir_default="results/mymethod")
        args = parser.parse_args(argv)
        ...

    if __name__ == "__main__":
        run_main(main)

Every ``ArgumentParser`` has ``--threads N`` and applies the CPU thread policy of :mod:`common.threads` right
after parsing (``--threads`` when given, else a user's ``OMP_NUM_THREADS``, else the CPUs that other work
leaves free); a script that defines its own ``--threads`` replaces the shared flag and its value is applied
the same way. Pass ``thread_policy=False`` for a parser that must not touch the thread count.

Bad input ends with ONE line on stderr (``error: ...``) and a non-zero exit status, never a traceback:
argparse errors exit 2, :class:`common.errors.UserError` exits 2, Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from common.errors import OutputDirError, UserError

if TYPE_CHECKING:  # torch is imported only when a trainer starts (``--help`` stays fast)
    from common.device import DistributedContext

__all__ = [
    "ArgumentParser",
    "add_common_args",
    "positive_int",
    "non_negative_int",
    "positive_float",
    "non_negative_float",
    "float_in",
    "int_in",
    "run_main",
    "prepare_output_dir",
    "print_error",
    "run_training",
    "config_kwargs",
]


def print_error(message: str) -> None:
    """Print ``error: <message>`` as one line on stderr (newlines in ``message`` are flattened)."""
    line = " ".join(str(message).split())
    print(f"error: {line}", file=sys.stderr, flush=True)


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose errors are one line ``error: ...`` on stderr and exit status 2.

    The usage text is not printed on error (``--help`` still shows it), so a bad flag value gives exactly
    one line. Uses ``RawDescriptionHelpFormatter`` so script docstrings keep their layout in ``--help``.

    Args:
        thread_policy: add ``--threads N`` and apply :func:`common.threads.configure_threads` in
            :meth:`parse_args` (default True). Nothing is imported or measured for ``--help`` or a bad flag.
    """

    def __init__(self, *args: Any, thread_policy: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self._thread_policy = thread_policy
        self._threads_action = None
        if thread_policy:
            self._threads_action = self.add_argument(
                "--threads",
                type=positive_int,
                default=None,
                metavar="N",
                help="torch CPU threads (default: the CPUs this process may use minus those other work keeps "
                "busy, or OMP_NUM_THREADS when set; see common/threads.py)",
            )

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        """``argparse`` ``add_argument``; a script's own ``--threads`` replaces the shared one."""
        shared = getattr(self, "_threads_action", None)
        if shared is not None and "--threads" in args:
            self._handle_conflict_resolve(None, [(s, shared) for s in list(shared.option_strings)])
            self._threads_action = None
        return super().add_argument(*args, **kwargs)

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> argparse.Namespace:
        """Parse the flags, then apply the thread policy (``--threads`` when given)."""
        parsed = super().parse_args(args, namespace)
        if self._thread_policy:
            from common.threads import configure_threads

            threads = getattr(parsed, "threads", None)
            configure_threads(threads if isinstance(threads, int) and threads > 0 else None)
        return parsed

    def parse_known_args(self, args=None, namespace=None):  # noqa: D401 - argparse API
        """argparse's ``parse_known_args``; ``--offline`` (see :func:`add_common_args`) takes effect here,
        before any model is loaded (``common.pretrained.set_offline``)."""
        parsed, extras = super().parse_known_args(args, namespace)
        if getattr(parsed, "offline", False):
            from common.pretrained import set_offline

            set_offline(True)
        return parsed, extras

    def error(self, message: str) -> NoReturn:  # noqa: D401 - argparse API
        """Print ``error: <message>`` and exit with status 2."""
        print_error(message)
        sys.exit(2)


def add_common_args(parser: argparse.ArgumentParser, output_dir_default: str) -> argparse.ArgumentParser:
    """Add the shared flags ``--device``, ``--seed``, ``--offline`` and ``--output_dir`` to ``parser``.

    Args:
        parser: the script's parser.
        output_dir_default: default value of ``--output_dir`` (a path string, relative to the working dir).

    Returns:
        The same parser, for chaining.
    """
    parser.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda", "mps"],
        help="compute device; auto picks cuda, then mps, then cpu (default: auto)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="never touch the network: pretrained weights only from the local caches (as HF_HUB_OFFLINE=1)",
    )
    parser.add_argument(
        "--output_dir",
        default=output_dir_default,
        help=f"folder for the outputs (default: {output_dir_default})",
    )
    return parser


def _number(text: str, kind: type) -> int | float:
    try:
        return kind(text)
    except (TypeError, ValueError):
        name = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {name}, got {text!r}") from None


def positive_int(text: str) -> int:
    """argparse type: an integer > 0. Raises ``argparse.ArgumentTypeError`` otherwise."""
    value = _number(text, int)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0. Raises ``argparse.ArgumentTypeError`` otherwise."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0. Raises ``argparse.ArgumentTypeError`` otherwise."""
    value = _number(text, float)
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite float >= 0. Raises ``argparse.ArgumentTypeError`` otherwise."""
    value = _number(text, float)
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _in_range(kind: type, lo: float, hi: float) -> Callable[[str], int | float]:
    """argparse type: a number of ``kind`` (int or float) in the closed interval ``[lo, hi]``."""
    name = "an integer" if kind is int else "a number"

    def parse(text: str) -> int | float:
        value = _number(text, kind)
        if not (lo <= value <= hi):
            raise argparse.ArgumentTypeError(f"expected {name} in [{lo}, {hi}], got {text!r}")
        return value

    parse.__name__ = f"{'integer' if kind is int else 'float'} in [{lo}, {hi}]"
    return parse


def float_in(lo: float, hi: float) -> Callable[[str], float]:
    """argparse type factory: a float in the closed interval ``[lo, hi]``.

    Example: ``parser.add_argument("--w_perc", type=float_in(0, 10))``.
    """
    return _in_range(float, lo, hi)


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """argparse type factory: an integer in the closed interval ``[lo, hi]``."""
    return _in_range(int, lo, hi)


def run_main(main_fn: Callable[[Sequence[str] | None], Any], argv: Sequence[str] | None = None) -> NoReturn:
    """Run ``main_fn(argv)`` and exit with a status a shell understands.

    - returns normally: exit with the returned int, or 0 for ``None``;
    - :class:`common.errors.UserError`: print ``error: <message>`` (one line, stderr), exit 2;
    - ``KeyboardInterrupt``: print ``error: interrupted``, exit 130;
    - any other exception propagates with its traceback (it is a bug, not bad input).
    """
    try:
        result = main_fn(argv)
    except UserError as err:
        print_error(str(err) or type(err).__name__)
        sys.exit(2)
    except KeyboardInterrupt:
        print_error("interrupted")
        sys.exit(130)
    sys.exit(int(result) if isinstance(result, int) and not isinstance(result, bool) else 0)


def prepare_output_dir(path: str | os.PathLike) -> Path:
    """Create the output folder ``path`` (with parents) and check that it is writable.

    Returns:
        The folder as a ``Path``.

    Raises:
        OutputDirError: the path exists and is not a folder, cannot be created, or is not writable.
    """
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"output folder is an existing file: {out}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputDirError(f"cannot create output folder {out}: {err.strerror or err}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write_test_", delete=True):
            pass
    except OSError as err:
        raise OutputDirError(f"output folder is not writable: {out} ({err.strerror or err})") from None
    return out


def config_kwargs(config_cls: type, flags: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``flags`` that name a field of the dataclass ``config_cls``.

    Builds a typed config from parsed flags whose names match its fields, in ``main``:
    ``PainterTrainConfig(**config_kwargs(PainterTrainConfig, vars(args)))``; the other flags are left out.

    Raises:
        TypeError: ``config_cls`` is not a dataclass.
    """
    import dataclasses

    names = {f.name for f in dataclasses.fields(config_cls)}
    return {k: v for k, v in flags.items() if k in names}


def run_training(
    train: Callable[[DistributedContext, Callable[[str], None]], dict[str, Any]],
    device: str = "auto",
    summary: Callable[[dict[str, Any]], str] | None = lambda s: f"done: {s}",
    export: tuple[str | os.PathLike, str | os.PathLike | None] | None = None,
) -> dict[str, Any]:
    """Run a trainer in this process or as one ``torchrun`` rank: the shared tail of every ``train.py``.

    Sets up the process group when launched by ``torchrun`` (:func:`common.device.init_distributed`),
    calls ``train(ctx, log)``, on rank 0 writes the ``--export`` copy and prints ``summary(result)``, and
    destroys the process group afterwards, also when ``train`` raises. torch is imported here, not when
    this module is imported.

    Args:
        train: ``train(ctx, log) -> summary``; ``ctx`` is the
            :class:`common.device.DistributedContext`, ``log(message)`` prints (flushed) on rank 0 only.
        device: the ``--device`` value (``auto``, ``cpu``, ``cuda``, ``mps``).
        summary: the last line printed on rank 0, from the returned summary (default ``done: {...}``;
            None: no line).
        export: ``(run folder, destination)``: when the destination is set, write the run's shippable
            fp16 copy there after training (:func:`common.training.export_best`: ``best.pt``, else
            ``last.pt``).

    Returns:
        What ``train`` returned (on every rank).
    """
    from common.device import cleanup_distributed, init_distributed

    ctx = init_distributed(device)
    try:

        def log(message: str) -> None:
            if ctx.is_main:
                print(message, flush=True)

        result = train(ctx, log)
        if export is not None and export[1] and ctx.is_main:
            from common.training import export_best

            log(f"exported {export[1]} from {export_best(*export)}")
        if summary is not None:
            log(summary(result))
        return result
    finally:
        cleanup_distributed()
