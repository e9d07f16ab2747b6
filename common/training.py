"""One training loop for every StrokeLab trainer: resume, keep-best, rank-0 saving, agreed stopping, logging.

A method supplies its own step, loss and validation; :class:`TrainLoop` does what every trainer does the
same way (DESIGN.md "Training scripts ... resume from their last checkpoint, and write their resolved
config beside their checkpoints")::

    loop = TrainLoop(out_dir, config=cfg, state={"model": net, "opt": opt}, max_steps=cfg.steps,
                     max_minutes=cfg.max_minutes, save_every=cfg.save_every, best_metric="val_psnr",
                     best_mode="max", export=write_fp16, ctx=ctx)
    loop.resume()                                       # last.pt -> every state object, step, RNG
    for step in loop.steps():                           # every rank runs the same step numbers
        loss = train_step(...)
        loop.log(step, loss=float(loss))                # rank 0: progress bar + log.txt
        if loop.due(step, every=500):
            loop.report(step, val_psnr=validate(...))   # every rank calls it; rank 0's figures decide
    summary = loop.close()                              # final last.pt (+ export "last")

Files in ``out_dir`` (written by rank 0 only, each through a temporary file renamed into place):

- ``config.json``: the run's resolved config (a dataclass or a json-able dict).
- ``last.pt``: a :mod:`common.checkpoint` file, resumable. ``model`` holds the weights of the main module
  (``state["model"]``, else the first ``nn.Module`` in ``state``); ``extra["state"]`` the state dicts of the
  other state objects; ``extra["loop"]`` the best figure so far and the accumulated wall time;
  ``extra["rng"]`` one entry per rank (Python, NumPy, torch CPU/CUDA generators and every
  ``torch.Generator`` in ``state``), restored when the run resumes with the same world size.
- ``best.pt``: the same layout without the optimizer/scheduler states (modules and the loop record only:
  a third of the size under Adam), written when a reported ``best_metric`` improves.
- ``<export_name>_best.pt`` / ``<export_name>_last.pt``: whatever the method's ``export`` callback writes
  (its shipped, self-describing file), called at each improvement and each ``last.pt`` save.
- ``log.txt``: one line per ``log_every`` steps (means since the previous line) and per report.

Under ``torchrun`` every rank must construct the loop and call ``resume``, ``steps``, ``report`` and
``close`` at the same step numbers (``log`` and ``due`` may be called anywhere). Each save is wrapped in
``dist.barrier()``; the stop decision (``max_steps``, ``max_minutes`` by each rank's clock, SIGINT/SIGTERM on
any rank) is an all-reduce (max) of a flag at every step boundary, so all ranks leave the loop after the
same step and none is left waiting in a collective. Breaking out of ``steps()`` on one rank only would
break that agreement; stop through ``max_steps``/``max_minutes`` or a signal instead.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.checkpoint import load_checkpoint, load_model_state, save_checkpoint
from common.device import DistributedContext, unwrap_model
from common.errors import CheckpointError
from common.image_io import save_json

__all__ = ["TrainLoop", "export_best"]

_STOP_REASONS = ("max_steps", "max_minutes", "SIGINT", "SIGTERM")


def _config_dict(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    if isinstance(config, Mapping):
        return dict(config)
    raise TypeError(f"config must be a dataclass instance or a dict, got {type(config).__name__}")


def _rng_state(generators: Mapping[str, torch.Generator], device: torch.device) -> dict[str, Any]:
    """This process's random state as plain tensors/numbers (storable with ``weights_only=True``)."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state = {
        "python": {
            "version": py_version,
            "internal": torch.tensor(py_internal, dtype=torch.int64),
            "gauss": py_gauss,
        },
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
        "generators": {name: gen.get_state() for name, gen in generators.items()},
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: Mapping[str, Any], generators: Mapping[str, torch.Generator], device) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["internal"].tolist()), py["gauss"]))
    nps = state["numpy"]
    keys = nps["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, nps["pos"], nps["has_gauss"], nps["cached_gaussian"]))
    torch.set_rng_state(state["torch"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)
    for name, gen in generators.items():
        if name in state.get("generators", {}):
            gen.set_state(state["generators"][name].cpu())


class TrainLoop:
    """Resume, keep-best, rank-0 checkpointing, agreed stopping and logging around a method's own step.

    Args:
        out_dir: folder for ``last.pt``, ``best.pt``, ``config.json``, ``log.txt`` and the exports (created).
        config: the run's resolved config, a dataclass instance or a json-able dict; written to
            ``config.json`` and stored in every checkpoint (``ckpt["config"]``).
        state: name -> object with ``state_dict()``/``load_state_dict()`` (modules, optimizers,
            schedulers, GradScaler...) or a ``torch.Generator`` (stored per rank with the RNG state).
            ``nn.Module`` entries may be DDP/compile-wrapped; they are saved unwrapped and loaded strictly
            (:func:`common.checkpoint.load_model_state`). The main module is ``state["model"]`` if present,
            else the first ``nn.Module``; ``None`` when ``state`` has no module.
        max_steps: the loop yields steps ``start .. max_steps - 1``; 0 = no limit.
        max_minutes: wall-time limit in minutes from construction, 0 = none. The limit is checked at every
            step boundary; the first rank past it stops every rank after the same step.
        save_every: ``last.pt`` is written after every ``save_every``-th completed step (and by
            :meth:`close`); 0 = only at the end.
        best_metric: name of the reported figure that decides ``best.pt`` (None: no keep-best).
        best_mode: ``"min"`` (lower is better, e.g. a loss) or ``"max"`` (e.g. PSNR).
        export: ``fn(path: Path, tag: "best" | "last", metrics: dict)`` writing the method's shipped file;
            called on rank 0 with ``path = out_dir / f"{export_name}_{tag}.pt"``.
        export_model: instead of ``export``, the module whose shipped file the loop writes itself: its fp16
            weights with the loop's config, the step (``best_step`` for ``"best"``), the figures and
            :meth:`provenance_now` plus ``tag`` (a :mod:`common.checkpoint` file, as nanoGPT's ckpt.pt).
        fresh: start over: rank 0 moves ``last.pt``, ``best.pt``, ``log.txt`` and the exports into
            ``out_dir/previous_<UTC time>/`` before any rank reads them (barrier).
        ctx: :class:`common.device.DistributedContext` (from ``init_distributed``); default single process.
        export_name: stem of the export files.
        log_every: steps between lines in ``log.txt`` (and on stdout when stderr is not a terminal).
        provenance: extra provenance stored in every checkpoint (data, command...); the loop adds the
            command line, world size, accumulated wall time and the UTC start time.
        progress: show a tqdm progress bar on rank 0 when stderr is a terminal.
        handle_signals: turn SIGINT/SIGTERM into a clean stop (final save) while ``steps()`` runs; a second
            signal of the same kind interrupts at once.

    Raises:
        ValueError: ``best_mode`` not "min"/"max"; ``state`` empty; negative limits.
        TypeError: a ``config`` that is neither a dataclass nor a dict.
    """

    def __init__(
        self,
        out_dir: str | Path,
        *,
        config: Any = None,
        state: Mapping[str, Any],
        max_steps: int = 0,
        max_minutes: float = 0.0,
        save_every: int = 1000,
        best_metric: str | None = None,
        best_mode: str = "min",
        export: Callable[[Path, str, dict], Any] | None = None,
        export_model: torch.nn.Module | None = None,
        fresh: bool = False,
        ctx: DistributedContext | None = None,
        export_name: str = "model",
        log_every: int = 50,
        provenance: Mapping[str, Any] | None = None,
        progress: bool = True,
        handle_signals: bool = True,
    ) -> None:
        if best_mode not in ("min", "max"):
            raise ValueError(f"best_mode must be 'min' or 'max', got {best_mode!r}")
        if not state:
            raise ValueError("state must name at least one object to checkpoint")
        if export is not None and export_model is not None:
            raise ValueError("give export or export_model, not both")
        if max_steps < 0 or max_minutes < 0 or save_every < 0 or log_every < 0:
            raise ValueError("max_steps, max_minutes, save_every and log_every must be >= 0")
        self.out_dir = Path(out_dir)
        self.config = _config_dict(config)
        self.ctx = ctx or DistributedContext()
        self.max_steps, self.max_minutes = int(max_steps), float(max_minutes)
        self.save_every, self.log_every = int(save_every), int(log_every)
        self.best_metric, self.best_mode = best_metric, best_mode
        self.export, self.export_name, self.export_model = export, export_name, export_model
        self.provenance = dict(provenance or {})
        self.progress, self.handle_signals = progress, handle_signals
        self.generators = {k: v for k, v in state.items() if isinstance(v, torch.Generator)}
        self.objects = {k: v for k, v in state.items() if not isinstance(v, torch.Generator)}
        modules = [k for k, v in self.objects.items() if isinstance(v, torch.nn.Module)]
        self.model_key = "model" if "model" in modules else (modules[0] if modules else None)

        self.step = 0  # completed steps
        self.best: float | None = None
        self.best_step: int | None = None
        self.stopped: str | None = None
        self.metrics: dict[str, float] = {}  # the latest reported figures
        self._resumed = False
        self._saved_step: int | None = None
        self._t0 = time.monotonic()
        self._wall_before = 0.0  # wall seconds of earlier runs (from last.pt)
        self._started_utc = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        self._signal: str | None = None
        self._old_handlers: dict[int, Any] = {}
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._bar = None
        self._log_file = None

        if self.ctx.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if fresh:
                self._move_aside()
            save_json(self.config, self.out_dir / "config.json")
            self._log_file = open(self.out_dir / "log.txt", "a", encoding="utf-8")  # noqa: SIM115
            self._write_log(f"# start {self._started_utc} world_size {self.ctx.world_size}")
        self._barrier()

    # ------------------------------------------------------------------------------------------------------
    # distributed helpers

    @property
    def _dist(self) -> bool:
        return bool(self.ctx.distributed and torch.distributed.is_initialized())

    def _barrier(self) -> None:
        if self._dist:
            torch.distributed.barrier()

    def _any_rank(self, flag: int) -> int:
        """Max of ``flag`` over all ranks (``flag`` itself in a single process)."""
        if not self._dist:
            return flag
        t = torch.tensor([flag], dtype=torch.int32, device=self.ctx.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return int(t.item())

    def _broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self._dist:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0, device=self._object_device())
        return box[0]

    def _object_device(self):
        return self.ctx.device if self.ctx.device.type == "cuda" else None

    def _gather_rng(self) -> list[dict[str, Any]]:
        mine = _rng_state(self.generators, self.ctx.device)
        if not self._dist:
            return [mine]
        everyone: list[Any] = [None] * self.ctx.world_size
        torch.distributed.all_gather_object(everyone, mine)
        return everyone

    # ------------------------------------------------------------------------------------------------------
    # files

    def _move_aside(self) -> None:
        names = [
            "last.pt",
            "best.pt",
            "log.txt",
            f"{self.export_name}_best.pt",
            f"{self.export_name}_last.pt",
        ]
        present = [self.out_dir / n for n in names if (self.out_dir / n).exists()]
        if not present:
            return
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
        aside = self.out_dir / f"previous_{stamp}"
        aside.mkdir(exist_ok=True)
        for path in present:
            path.replace(aside / path.name)
        print(f"--fresh: moved {', '.join(p.name for p in present)} to {aside}", flush=True)

    def wall_seconds(self) -> float:
        """Seconds of training so far, including the runs this one resumed."""
        return self._wall_before + time.monotonic() - self._t0

    def provenance_now(self) -> dict[str, Any]:
        """The provenance stored in ``last.pt``/``best.pt``, for an ``export`` callback's shipped file:
        ``provenance`` (the constructor's) plus ``command`` (the command line), ``world_size``, ``wall_s``
        (accumulated over resumed runs) and ``started_utc`` (this run)."""
        return {
            **self.provenance,
            "command": " ".join(sys.argv),  # as typed (python segpaint/train.py ..., or torchrun's)
            "world_size": self.ctx.world_size,
            "wall_s": round(self.wall_seconds(), 1),
            "started_utc": self._started_utc,
        }

    def _write(self, path: Path, step: int, modules_only: bool = False) -> None:
        """Every rank: gather RNG; rank 0: write ``path`` (``step`` completed steps); barriers around it.

        ``modules_only``: leave out the state of non-module objects (optimizers, schedulers)."""
        self._barrier()
        rng = self._gather_rng()
        if self.ctx.is_main:
            main = unwrap_model(self.objects[self.model_key]).state_dict() if self.model_key else {}
            others = {}
            for name, obj in self.objects.items():
                if modules_only and not isinstance(obj, torch.nn.Module):
                    continue
                if name != self.model_key:
                    obj = unwrap_model(obj) if isinstance(obj, torch.nn.Module) else obj
                    others[name] = obj.state_dict()
            loop = {
                "best": self.best,
                "best_step": self.best_step,
                "best_metric": self.best_metric,
                "best_mode": self.best_mode,
                "wall_s": self.wall_seconds(),
            }
            save_checkpoint(
                path,
                model_state=main,
                config=self.config,
                step=step,
                metrics={**self._means(), **self.metrics},
                provenance=self.provenance_now(),
                extra={"state": others, "loop": loop, "rng": rng},
            )
        self._barrier()

    def _export(self, tag: str) -> None:
        if not self.ctx.is_main:
            return
        path, metrics = self.out_dir / f"{self.export_name}_{tag}.pt", {**self._means(), **self.metrics}
        if self.export is not None:
            self.export(path, tag, metrics)
        elif self.export_model is not None:
            save_checkpoint(
                path,
                model_state=unwrap_model(self.export_model).state_dict(),
                config=self.config,
                step=self.best_step if tag == "best" else self.step,  # report() runs inside a step
                metrics=metrics,
                provenance={**self.provenance_now(), "tag": tag},
                half=True,
            )

    def save_last(self) -> None:
        """Write ``last.pt`` (and the ``"last"`` export) now. Every rank must call it at the same step."""
        self._write(self.out_dir / "last.pt", self.step)
        self._export("last")
        self._saved_step = self.step

    # ------------------------------------------------------------------------------------------------------
    # resume

    def resume(self) -> int:
        """Load ``last.pt`` when present: every state object, step, best figure, wall time, per-rank RNG.

        Every rank reads the file (after a barrier, so rank 0's ``fresh`` move is done).

        Returns:
            The step to start from (0 when there is nothing to resume).

        Raises:
            CheckpointError: ``last.pt`` unreadable, or its weights/state do not match the objects in
                ``state`` (e.g. another model size): the message names the file.
        """
        self._barrier()
        self._resumed = True
        last = self.out_dir / "last.pt"
        if not last.is_file():
            return self.step
        ckpt = load_checkpoint(last, map_location=self.ctx.device)
        extra = ckpt["extra"] or {}
        stored = extra.get("state", {})
        try:
            if self.model_key:
                load_model_state(self.objects[self.model_key], ckpt["model"])
            for name, obj in self.objects.items():
                if name == self.model_key:
                    continue
                if name not in stored:
                    raise CheckpointError(f"{last} holds no state for {name!r} (it has {sorted(stored)})")
                if isinstance(obj, torch.nn.Module):
                    load_model_state(obj, stored[name])
                else:
                    obj.load_state_dict(stored[name])
        except (KeyError, ValueError, RuntimeError) as err:
            raise CheckpointError(f"cannot resume from {last}: {str(err).splitlines()[0][:200]}") from None
        loop = extra.get("loop", {})
        if loop.get("best_metric") == self.best_metric and loop.get("best_mode") == self.best_mode:
            self.best, self.best_step = loop.get("best"), loop.get("best_step")
        self._wall_before = float(loop.get("wall_s", 0.0))
        self.step = self._saved_step = int(ckpt["step"])
        rng = extra.get("rng") or []
        if len(rng) == self.ctx.world_size:
            _set_rng_state(rng[self.ctx.rank], self.generators, self.ctx.device)
            rng_note = "RNG restored"
        else:
            rng_note = f"RNG not restored (saved by {len(rng)} rank(s), now {self.ctx.world_size})"
        changed = sorted(
            k for k in set(self.config) | set(ckpt["config"]) if self.config.get(k) != ckpt["config"].get(k)
        )
        note = f"; config changed: {', '.join(changed)}" if changed else ""
        self.print(f"resumed from {last} at step {self.step} ({rng_note}{note})")
        return self.step

    # ------------------------------------------------------------------------------------------------------
    # the loop

    def _on_signal(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        if self._signal == name:  # second time: the user means it
            signal.signal(signum, self._old_handlers.get(signum, signal.SIG_DFL))
            raise KeyboardInterrupt
        self._signal = name  # acted on (and said) at the next step boundary

    def _install_signals(self) -> None:
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)

    def _restore_signals(self) -> None:
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()

    def _stop_reason(self) -> str | None:
        code = 0
        if self.max_steps and self.step >= self.max_steps:
            code = 1
        elif self.max_minutes and time.monotonic() - self._t0 >= 60.0 * self.max_minutes:
            code = 2
        elif self._signal is not None:
            code = _STOP_REASONS.index(self._signal) + 1
        code = self._any_rank(code)
        return _STOP_REASONS[code - 1] if code else None

    def steps(self) -> Iterator[int]:
        """Yield step numbers ``start, start + 1, ...`` until an agreed stop; save ``last.pt`` periodically.

        Calls :meth:`resume` first if it has not been called. The yielded number is the index of the step
        being run (0-based); after the body, ``self.step`` (completed steps) is one more.
        """
        if not self._resumed:
            self.resume()
        self._install_signals()
        if self.ctx.is_main and self.progress and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.max_steps or None, initial=self.step, dynamic_ncols=True, unit="step")
        try:
            while True:
                self.stopped = self._stop_reason()
                if self.stopped:
                    if self.stopped.startswith("SIG"):
                        self.print(f"{self.stopped} received: stopped cleanly after step {self.step}")
                    return
                yield self.step
                self.step += 1
                if self._bar is not None:
                    self._bar.update(1)
                if self.save_every and self.step % self.save_every == 0:
                    self.save_last()
        finally:
            self._restore_signals()

    def due(self, step: int, every: int) -> bool:
        """True after every ``every``-th step and after step ``max_steps - 1`` (``every`` <= 0: never)."""
        if every <= 0:
            return False
        return (step + 1) % every == 0 or (self.max_steps > 0 and step + 1 == self.max_steps)

    # ------------------------------------------------------------------------------------------------------
    # logging and keep-best

    def print(self, message: str) -> None:
        """Rank 0: one line on stdout (above the progress bar) and in ``log.txt``."""
        if not self.ctx.is_main:
            return
        if self._bar is not None:
            self._bar.write(message)
        else:
            print(message, flush=True)
        self._write_log(message)

    def _write_log(self, message: str) -> None:
        if self._log_file is not None:
            self._log_file.write(message + "\n")
            self._log_file.flush()

    def _means(self) -> dict[str, float]:
        return {k: self._sums[k] / self._counts[k] for k in self._sums if self._counts[k]}

    def log(self, step: int, **scalars: float) -> None:
        """Record scalars of step ``step`` (e.g. ``loss=float(loss)``); rank 0 shows them.

        The progress bar shows the latest values; every ``log_every`` steps a line with their means since the
        previous line goes to ``log.txt`` (and to stdout when there is no bar). Other ranks: no-op.
        """
        if not self.ctx.is_main:
            return
        for key, value in scalars.items():
            value = float(value)
            self._sums[key] = self._sums.get(key, 0.0) + value
            self._counts[key] = self._counts.get(key, 0) + 1
        if self._bar is not None:
            self._bar.set_postfix({k: f"{float(v):.4g}" for k, v in scalars.items()}, refresh=False)
        if self.log_every and (step + 1) % self.log_every == 0:
            means = self._means()
            line = f"step {step + 1}  " + "  ".join(f"{k} {v:.5g}" for k, v in means.items())
            line += f"  {self.wall_seconds():.0f} s"
            if self._bar is None:
                print(line, flush=True)
            self._write_log(line)
            self._sums, self._counts = {}, {}

    def _better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value < self.best if self.best_mode == "min" else value > self.best

    def report(self, step: int, **metrics: float) -> bool:
        """Record validation figures after step ``step``; write ``best.pt`` (+ export "best") when improved.

        Call it on every rank at the same steps; rank 0's figures decide and are returned on every rank
        (other ranks may pass nothing).

        Returns:
            True when ``best_metric`` improved (on every rank).

        Raises:
            KeyError: ``best_metric`` is set but missing from rank 0's ``metrics``.
        """
        metrics = self._broadcast({k: float(v) for k, v in metrics.items()} if self.ctx.is_main else None)
        self.metrics.update(metrics)
        improved = False
        if self.best_metric is not None:
            if self.best_metric not in metrics:
                raise KeyError(f"report() needs {self.best_metric!r} (best_metric); got {sorted(metrics)}")
            improved = self._better(metrics[self.best_metric])
        text = "  ".join(f"{k} {v:.5g}" for k, v in metrics.items())
        if improved:
            self.best, self.best_step = metrics[self.best_metric], step + 1
            self._write(self.out_dir / "best.pt", step + 1, modules_only=True)
            self._export("best")
            text += "  (best)"
        self.print(f"step {step + 1}  {text}")
        return improved

    def close(self) -> dict[str, Any]:
        """Final ``last.pt`` save (+ export "last") unless this step is already saved; close bar and log.

        Every rank must call it. Returns ``{"step", "best", "best_step", "stopped", "wall_s"}`` with
        ``stopped`` one of ``"max_steps"``, ``"max_minutes"``, ``"SIGINT"``, ``"SIGTERM"`` or ``"caller"``
        (the loop was left by ``break``).
        """
        self._restore_signals()
        if self.stopped is None:
            self.stopped = "caller"
        unsaved = self._saved_step != self.step or not (self.out_dir / "last.pt").is_file()
        if self._broadcast(unsaved):  # rank 0 decides: only its file system is known to hold last.pt
            self.save_last()
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        summary = {
            "step": self.step,
            "best": self.best,
            "best_step": self.best_step,
            "stopped": self.stopped,
            "wall_s": round(self.wall_seconds(), 1),
        }
        self.print(f"stopped ({self.stopped}) at step {self.step}; best {self.best_metric} {self.best}")
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return summary


def export_best(run_dir: str | Path, dst: str | Path, **provenance: Any) -> Path:
    """Write ``dst``, the shippable copy of a finished run: ``run_dir/best.pt``, else ``run_dir/last.pt``.

    The copy holds the main module's weights in float16, the run's config, step, figures and provenance
    (plus ``steps`` and ``provenance``) and the loop record, no optimizer state (what a ``--export PATH``
    flag writes after training; call it on rank 0).

    Returns:
        The source file (``best.pt`` or ``last.pt``).

    Raises:
        CheckpointError: neither file exists, or the source is corrupt.
    """
    run_dir = Path(run_dir)
    src = run_dir / "best.pt" if (run_dir / "best.pt").is_file() else run_dir / "last.pt"
    ckpt = load_checkpoint(src, map_location="cpu")
    save_checkpoint(
        dst,
        model_state=ckpt["model"],
        config=ckpt["config"],
        step=int(ckpt["step"]),
        metrics=dict(ckpt["metrics"]),
        provenance={**ckpt["provenance"], "steps": int(ckpt["step"]), **provenance},
        extra={k: v for k, v in (ckpt["extra"] or {}).items() if k == "loop"},
        half=True,
    )
    return src
