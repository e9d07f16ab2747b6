"""Config and command line of the FCN renderer trainer, without torch (``--help`` stays fast).

The trainer itself is :mod:`common.renderers.neural_training`; this module holds what the entry scripts
``compositor/train_renderer_FCN.py`` (``oil``) and ``segpaint/train.py`` (``bezier13``) need before the
arguments are parsed: :class:`FCNTrainConfig` (the one config schema of both), :func:`add_fcn_train_args`
and :func:`fcn_main`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FCNTrainConfig", "STROKES", "add_fcn_train_args", "fcn_main", "OUTPUT_DIR_DEFAULTS"]

#: ``--output_dir`` default per stroke format (the runs/ folders the READMEs name).
OUTPUT_DIR_DEFAULTS = {"oil": "runs/fcn", "bezier13": "runs/segpaint_renderer"}

#: Stroke formats the FCN can learn: name -> (parameters per stroke, output channel names).
STROKES: dict[str, tuple[int, tuple[str, ...]]] = {
    "oil": (5, ("alpha", "intensity", "edge")),
    "bezier13": (10, ("alpha",)),
}


@dataclass
class FCNTrainConfig:
    """Everything one FCN training run depends on (stored in config.json and every checkpoint).

    Attributes:
        stroke: ``"oil"`` or ``"bezier13"``: the analytic renderer to imitate.
        steps: total optimiser steps [LtP 500k; CNP paper 1M]; the lr decays at 40 % and 80 % of them.
        batch_size: strokes per step per process [LtP 64; CNP 32].
        lr: initial Adam learning rate [LtP 1e-4].
        edge: oil only: learn the stroke-edge channel too (3 channels; False: alpha and intensity).
        save_every: steps between ``last.pt`` saves.
        val_every: steps between held-out validations (keep-best); 0 = none.
        val_size: held-out strokes.
        max_minutes: wall-time limit, 0 = none (agreed across torchrun ranks).
        seed: data seed (rank r draws from ``seed * 1000 + r``).
    """

    stroke: str = "oil"
    steps: int = 500_000
    batch_size: int = 64
    lr: float = 1e-4
    edge: bool = True
    save_every: int = 200
    val_every: int = 1000
    val_size: int = 128
    max_minutes: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.stroke not in STROKES:
            raise ValueError(f"unknown stroke format {self.stroke!r} (expected one of {', '.join(STROKES)})")

    @property
    def channels(self) -> tuple[str, ...]:
        """Output channel names: oil (alpha, intensity[, edge]); bezier13 (alpha,)."""
        names = STROKES[self.stroke][1]
        return names if self.stroke != "oil" or self.edge else names[:2]

    def build_model(self):
        """A fresh ``common.renderers.neural.FCNRenderer(D, C)`` for this stroke format."""
        from common.renderers.neural import FCNRenderer

        return FCNRenderer(STROKES[self.stroke][0], len(self.channels))


def add_fcn_train_args(parser, stroke: str) -> None:
    """The flags of both FCN trainers (one schema): ``--steps --batch_size --lr --save_every --val_every
    --val_size --max_minutes --fresh --export`` and, for ``oil``, ``--no_edge``."""
    from common.cli import non_negative_float, non_negative_int, positive_float, positive_int

    d = FCNTrainConfig(stroke=stroke)
    parser.add_argument("--steps", type=positive_int, default=d.steps, help="total optimiser steps")
    parser.add_argument(
        "--batch_size", type=positive_int, default=d.batch_size, help="strokes per step per process"
    )
    parser.add_argument("--lr", type=positive_float, default=d.lr, help="initial learning rate")
    parser.add_argument(
        "--save_every", type=positive_int, default=d.save_every, help="steps between last.pt saves"
    )
    parser.add_argument(
        "--val_every", type=non_negative_int, default=d.val_every, help="steps between validations"
    )
    parser.add_argument(
        "--val_size", type=positive_int, default=d.val_size, help="held-out validation strokes"
    )
    parser.add_argument(
        "--max_minutes", type=non_negative_float, default=0.0, help="wall-time limit (0: none)"
    )
    parser.add_argument("--fresh", action="store_true", help="move an earlier run aside and start at step 0")
    parser.add_argument(
        "--export", default=None, help="also copy the best fp16 renderer file here at the end"
    )
    if stroke == "oil":
        parser.add_argument("--no_edge", action="store_true", help="2 output channels (no stroke-edge map)")


def fcn_main(argv, stroke: str, script: str, description: str | None = None) -> int:
    """The whole command line of an FCN trainer (``compositor/train_renderer_FCN.py``, ``segpaint/train.py``):
    parse ``argv`` (flags of :func:`add_fcn_train_args` plus ``--device --seed --output_dir --threads``),
    set up torchrun/DDP when launched by it, train, return exit status 0.

    Args:
        argv: command-line arguments (None: ``sys.argv[1:]``).
        stroke: ``"oil"`` or ``"bezier13"``.
        script: the entry script's ``__file__`` (recorded in the provenance, relative to the repository).
        description: ``--help`` text (the script's docstring).

    Raises:
        UserError: bad flag values or an unwritable output folder (one ``error:`` line via ``run_main``).
    """
    from pathlib import Path

    from common.cli import ArgumentParser, add_common_args, config_kwargs, prepare_output_dir, run_training

    script = Path(script).resolve()
    repo = Path(__file__).resolve().parent.parent
    script = str(script.relative_to(repo)) if script.is_relative_to(repo) else script.name
    parser = ArgumentParser(description=description)
    add_common_args(parser, output_dir_default=OUTPUT_DIR_DEFAULTS[stroke])
    add_fcn_train_args(parser, stroke=stroke)
    args = parser.parse_args(argv)
    flags = {**config_kwargs(FCNTrainConfig, vars(args)), "stroke": stroke}
    cfg = FCNTrainConfig(**flags, edge=not getattr(args, "no_edge", False))
    out_dir = prepare_output_dir(args.output_dir)
    from common.renderers.neural_training import train_fcn_renderer

    run_training(
        lambda ctx, log: train_fcn_renderer(
            cfg, out_dir, ctx, fresh=args.fresh, export=args.export, script=script
        ),
        args.device,
        summary=None,
    )
    return 0
