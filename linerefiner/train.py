"""Train the LineRelifer refiner GAN on synthetic (and optionally real) line pairs.

    python linerefiner/train.py --style taper --output_dir results/linerefiner/taper
    python linerefiner/train.py --style taper --dilated --crop_size 64 --lr 5e-4 --adv_warmup 100 --bf16 \
        --diff_weight 4 --max_minutes 35 --threads 1 --output_dir runs/linerefiner_taper \
        --export checkpoints/linerefiner_taper.pt
    python linerefiner/train.py --pairs_dir DIR --real_fraction 0.5     # DIR/inputs + DIR/targets, same names
    torchrun --nproc_per_node=2 linerefiner/train.py --style taper          # DDP

The loop is :func:`linerefiner.training.train_refiner` (:class:`common.training.TrainLoop`):
``OUTPUT_DIR/last.pt`` (resumable: generator, discriminator, optimisers, step, RNG), ``best.pt`` and
``refiner_best.pt`` (the best ``val_target_score`` on held-out pairs, every ``--val_every`` steps),
``config.json`` and ``log.txt``; running the same command again resumes from ``last.pt`` (``--restart``
moves the old files aside). ``--export PATH`` writes the best generator as a shippable fp16 file with
provenance at the end.
"""

from __future__ import annotations

from common.cli import (
    ArgumentParser,
    add_common_args,
    config_kwargs,
    float_in,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    prepare_output_dir,
    run_main,
    run_training,
)
from common.errors import UserError
from linerefiner.config import STYLE_NAMES, RefinerConfig


def build_parser() -> ArgumentParser:
    """Command-line flags (defaults are the original release's, see :class:`RefinerConfig`)."""
    d = RefinerConfig()
    p = ArgumentParser(description=__doc__)
    add_common_args(p, output_dir_default="results/linerefiner/train")
    p.add_argument("--style", default=d.style, choices=STYLE_NAMES, help="target drawing style")
    p.add_argument("--steps", type=positive_int, default=d.steps, help="iterations (D step + G step each)")
    p.add_argument("--batch_size", type=positive_int, default=d.batch_size)
    p.add_argument(
        "--crop_size", type=positive_int, default=d.crop_size, help="training crop, multiple of 32"
    )
    p.add_argument("--lr", type=positive_float, default=d.lr)
    p.add_argument("--beta1", type=float_in(0.0, 1.0), default=d.beta1)
    p.add_argument("--channels", type=positive_int, default=d.channels)
    p.add_argument("--blocks", type=positive_int, default=d.blocks, help="residual blocks")
    p.add_argument("--dilated", action="store_true", help="dilations 1,2,4,8 in the residual blocks")
    p.add_argument("--mse_weight", type=non_negative_float, default=d.mse_weight)
    p.add_argument("--adv_weight", type=non_negative_float, default=d.adv_weight)
    p.add_argument("--adv_warmup", type=non_negative_int, default=d.adv_warmup, help="MSE-only first steps")
    p.add_argument("--pairs_dir", default=None, help="folder with inputs/ and targets/ of real pairs")
    p.add_argument(
        "--real_fraction",
        type=float_in(0.0, 1.0),
        default=None,
        help="share of real pairs per batch (default 1 with --pairs_dir, else 0)",
    )
    p.add_argument("--save_every", type=positive_int, default=d.save_every)
    p.add_argument("--max_minutes", type=positive_float, default=None, help="wall-time limit, then save")
    p.add_argument("--export", default=None, help="at the end, write the best generator here (fp16)")
    p.add_argument("--restart", action="store_true", help="start over (old files to OUTPUT_DIR/previous_*)")
    p.add_argument("--init", default=None, help="start the generator from this checkpoint's weights")
    p.add_argument("--white_point", type=float_in(0.0, 1.0), default=d.white_point, help="0 = off")
    p.add_argument("--diff_weight", type=non_negative_float, default=d.diff_weight)
    p.add_argument("--val_every", type=positive_int, default=100, help="steps between validations")
    p.add_argument("--val_pairs", type=positive_int, default=48, help="held-out validation pairs")
    p.add_argument(
        "--bf16", action="store_true", help="bfloat16 autocast forward passes (~1.7x faster on CPU)"
    )
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from linerefiner.training import RefinerRun, train_refiner  # torch: after the flags

    if args.crop_size % 32:
        raise UserError(f"--crop_size must be a multiple of 32 (D halves it 5 times), got {args.crop_size}")
    real_fraction = args.real_fraction if args.real_fraction is not None else float(bool(args.pairs_dir))
    cfg = RefinerConfig(**{**config_kwargs(RefinerConfig, vars(args)), "real_fraction": real_fraction})
    run = RefinerRun(**config_kwargs(RefinerRun, vars(args)))
    out = prepare_output_dir(args.output_dir)
    run_training(lambda ctx, log: train_refiner(cfg, run, out, ctx), args.device, export=(out, args.export))
    return 0


if __name__ == "__main__":
    run_main(main)
