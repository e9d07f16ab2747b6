"""Train the LineRelifer refiner GAN on synthetic (and optionally real) line pairs.

    python linerefiner/train.py --style taper --output_dir results/linerefiner/taper
    python linerefiner/train.py --style taper --dilated --crop_size 64 --lr 5e-4 --adv_warmup 100 --bf16 \
        --diff_weight 4 --max_minutes 35 --threads 1 --output_dir runs/linerefiner_taper \
        --export checkpoints/linerefiner_taper.pt
    python linerefiner/train.py --pairs_dir DIR --real_fraction 0.5     # DIR/inputs + DIR/targets, same names
    torchrun --nproc_per_node=2 linerefiner/train.py --style taper          # DDP

The loop is :class:`common.training.TrainLoop`: ``OUTPUT_DIR/last.pt`` (resumable: generator, discriminator,
optimisers, step, RNG), ``best.pt`` and ``refiner_best.pt`` (the best ``val_target_score`` on held-out
pairs, every ``--val_every`` steps), ``config.json`` and ``log.txt``; running the same command again resumes
from ``last.pt`` (``--restart`` moves the old files aside). ``--export PATH`` writes the best generator as a
shippable fp16 file with provenance at the end.
"""

from __future__ import annotations

import platform

import torch

from common.checkpoint import load_checkpoint
from common.cli import (
    ArgumentParser,
    add_common_args,
    float_in,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    prepare_output_dir,
    run_main,
)
from common.device import cleanup_distributed, init_distributed, unwrap_model
from common.errors import UserError
from common.training import TrainLoop
from linerefiner.model import RefinerConfig, count_parameters, receptive_radius
from linerefiner.synth import STYLES, heldout_samples
from linerefiner.training import Trainer, export_generator, validate

#: Seed offset of the validation pairs (the bench uses offset 0: the two never overlap below 500,000 pairs).
VAL_OFFSET = 500_000


def build_parser() -> ArgumentParser:
    """Command-line flags (defaults are the original release's, see :class:`RefinerConfig`)."""
    d = RefinerConfig()
    p = ArgumentParser(description=__doc__)
    add_common_args(p, output_dir_default="results/linerefiner/train")
    p.add_argument("--style", default=d.style, choices=sorted(STYLES), help="target drawing style")
    p.add_argument("--steps", type=positive_int, default=d.steps, help="iterations (D step + G step each)")
    p.add_argument("--batch_size", type=positive_int, default=d.batch_size)
    p.add_argument(
        "--crop_size", type=positive_int, default=d.crop_size, help="training crop side, multiple of 32"
    )
    p.add_argument("--lr", type=positive_float, default=d.lr)
    p.add_argument("--beta1", type=float_in(0.0, 1.0), default=d.beta1)
    p.add_argument("--channels", type=positive_int, default=d.channels)
    p.add_argument("--blocks", type=positive_int, default=d.blocks, help="residual blocks")
    p.add_argument("--dilated", action="store_true", help="dilations 1,2,4,8 in the residual blocks")
    p.add_argument("--mse_weight", type=non_negative_float, default=d.mse_weight)
    p.add_argument("--adv_weight", type=non_negative_float, default=d.adv_weight)
    p.add_argument(
        "--adv_warmup",
        type=non_negative_int,
        default=d.adv_warmup,
        help="MSE-only steps before the adversarial term starts",
    )
    p.add_argument("--pairs_dir", default=None, help="folder with inputs/ and targets/ of real pairs")
    p.add_argument(
        "--real_fraction",
        type=float_in(0.0, 1.0),
        default=None,
        help="share of real pairs per batch (default 1 with --pairs_dir, else 0)",
    )
    p.add_argument("--save_every", type=positive_int, default=d.save_every)
    p.add_argument(
        "--max_minutes", type=positive_float, default=None, help="stop (and save) after this wall time"
    )
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    p.add_argument(
        "--export", default=None, help="at the end, write the best generator here (fp16, with provenance)"
    )
    p.add_argument(
        "--restart", action="store_true", help="start over (the old files move to OUTPUT_DIR/previous_*)"
    )
    p.add_argument("--init", default=None, help="start the generator from this checkpoint's weights")
    p.add_argument("--white_point", type=float_in(0.0, 1.0), default=d.white_point, help="0 = off")
    p.add_argument("--diff_weight", type=non_negative_float, default=d.diff_weight)
    p.add_argument("--val_every", type=positive_int, default=100, help="steps between validations")
    p.add_argument("--val_pairs", type=positive_int, default=48, help="held-out validation pairs")
    p.add_argument(
        "--bf16", action="store_true", help="bfloat16 autocast forward passes (~1.7x faster on CPU)"
    )
    return p


def config_from_args(args) -> RefinerConfig:
    """The :class:`RefinerConfig` named by the flags; raises UserError for an invalid combination."""
    if args.crop_size % 32:
        raise UserError(
            f"--crop_size must be a multiple of 32 (the discriminator halves it 5 times), "
            f"got {args.crop_size}"
        )
    real_fraction = args.real_fraction if args.real_fraction is not None else (1.0 if args.pairs_dir else 0.0)
    return RefinerConfig(
        channels=args.channels,
        blocks=args.blocks,
        dilated=args.dilated,
        mse_weight=args.mse_weight,
        adv_weight=args.adv_weight,
        adv_warmup=args.adv_warmup,
        lr=args.lr,
        beta1=args.beta1,
        batch_size=args.batch_size,
        crop_size=args.crop_size,
        style=args.style,
        pairs_dir=args.pairs_dir,
        real_fraction=real_fraction,
        steps=args.steps,
        save_every=args.save_every,
        seed=args.seed,
        bf16=args.bf16,
        white_point=args.white_point,
        diff_weight=args.diff_weight,
    )


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    ctx = init_distributed(args.device)
    out = prepare_output_dir(args.output_dir)
    resuming = (out / "last.pt").is_file() and not args.restart
    cfg = config_from_args(args)
    if resuming:  # the stored config defines the run; --steps may extend it
        stored = RefinerConfig.from_dict(load_checkpoint(out / "last.pt", map_location="cpu")["config"])
        stored.steps = cfg.steps
        cfg = stored
    trainer = Trainer(cfg, ctx.device, ctx.rank, ctx.world_size)
    if args.init and not resuming:
        trainer.init_generator(args.init)
    provenance = {
        "data": f"synthetic pairs (linerefiner.synth, style {cfg.style}, seeds < 1e9)"
        + (f" + real pairs {cfg.pairs_dir} ({cfg.real_fraction:.0%})" if cfg.pairs_dir else ""),
        "hardware": f"{ctx.device} x{ctx.world_size}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads",
        "init": args.init,
        "validation": f"{args.val_pairs} held-out pairs of 128 px (seeds 1e9 + 500000 + i)",
    }

    def export(path, tag, metrics):  # "best" is reported inside step loop.step, before it is counted
        step = loop.step + 1 if tag == "best" else loop.step
        trainer.export(
            path, {**provenance, "wall_s": round(loop.wall_seconds(), 1), "tag": tag}, metrics, step
        )

    loop = TrainLoop(
        out,
        config=cfg.to_dict(),
        state=trainer.state(),
        max_steps=cfg.steps,
        max_minutes=args.max_minutes or 0.0,
        save_every=cfg.save_every,
        best_metric="val_target_score",
        best_mode="max",
        export=export,
        export_name="refiner",
        fresh=args.restart,
        ctx=ctx,
        log_every=10,
        provenance=provenance,
    )
    loop.resume()
    loop.print(
        f"G {count_parameters(trainer.G):,} params (receptive radius {receptive_radius(cfg)} px), "
        f"D {count_parameters(trainer.D):,} params; style {cfg.style}, {cfg.steps} steps, "
        f"batch {cfg.batch_size}x{cfg.crop_size}^2, world size {ctx.world_size}, device {ctx.device}"
    )
    samples = heldout_samples(cfg.style, args.val_pairs, 128, VAL_OFFSET) if ctx.is_main else []
    try:
        for step in loop.steps():
            loop.log(step, **trainer.step(step))
            if loop.due(step, every=args.val_every):
                loop.report(
                    step, **(validate(unwrap_model(trainer.G), samples, ctx.device) if ctx.is_main else {})
                )
        summary = loop.close()
        if ctx.is_main and args.export:
            best = out / "best.pt"
            export_generator(best if best.is_file() else out / "last.pt", args.export)
            loop.print(f"exported the {'best' if best.is_file() else 'last'} generator to {args.export}")
        if ctx.is_main:
            print(f"done: {summary}", flush=True)
    finally:
        cleanup_distributed()
    return 0


if __name__ == "__main__":
    run_main(main)
