"""Train the LineRelifer refiner GAN on synthetic (and optionally real) line pairs.

    python linerefiner/train.py --style taper --output_dir results/linerefiner/taper
    python linerefiner/train.py --style nib --steps 2000 --crop_size 64 --max_minutes 10 \\
        --export checkpoints/linerefiner_nib.pt
    python linerefiner/train.py --pairs_dir DIR --real_fraction 0.5     # DIR/inputs + DIR/targets, same names
    torchrun --nproc_per_node=2 linerefiner/train.py --style taper          # DDP

Writes ``OUTPUT_DIR/last.pt`` (resumable: generator, discriminator, optimisers), ``OUTPUT_DIR/config.json``
and ``OUTPUT_DIR/log.jsonl``; running the same command again resumes from ``last.pt`` (``--restart`` starts
over). ``--export PATH`` also writes a shippable fp16 generator checkpoint with provenance at the end.
"""

from __future__ import annotations

import json
import platform
import sys
import time

import torch

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
from common.device import cleanup_distributed, init_distributed
from common.errors import UserError
from linerefiner.model import RefinerConfig, count_parameters
from linerefiner.synth import STYLES
from linerefiner.training import Trainer


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
    p.add_argument("--export", default=None, help="also write a shippable fp16 generator checkpoint here")
    p.add_argument("--restart", action="store_true", help="ignore OUTPUT_DIR/last.pt and start over")
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
    )


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    ctx = init_distributed(args.device)
    out = prepare_output_dir(args.output_dir)
    last = out / "last.pt"
    if last.exists() and not args.restart:
        trainer = Trainer.resume(last, ctx.device, ctx.rank, ctx.world_size, steps=args.steps)
        if ctx.is_main:
            print(f"resuming {last} at step {trainer.step_count}", flush=True)
    else:
        trainer = Trainer(config_from_args(args), ctx.device, ctx.rank, ctx.world_size)
    cfg = trainer.cfg
    if ctx.is_main:
        print(
            f"G {count_parameters(trainer.G):,} params, D {count_parameters(trainer.D):,} params; "
            f"style {cfg.style}, {cfg.steps} steps, batch {cfg.batch_size}x{cfg.crop_size}^2, "
            f"world size {ctx.world_size}, device {ctx.device}",
            flush=True,
        )
    provenance = {
        "data": f"synthetic pairs (linerefiner.synth, style {cfg.style}, seeds < 1e9)"
        + (f" + real pairs {cfg.pairs_dir} ({cfg.real_fraction:.0%})" if cfg.pairs_dir else ""),
        "command": "python linerefiner/train.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "hardware": f"{ctx.device} x{ctx.world_size}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads",
    }
    start = time.time()
    try:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=trainer.step_count, disable=not ctx.is_main, mininterval=5)
        with open(out / "log.jsonl", "a") if ctx.is_main else open("/dev/null", "w") as log:
            while trainer.step_count < cfg.steps:
                logs = trainer.step()
                bar.update(1)
                bar.set_postfix(mse=f"{logs['g_mse']:.4f}", adv=f"{logs['g_adv']:.3f}", refresh=False)
                if ctx.is_main and trainer.step_count % 10 == 0:
                    log.write(json.dumps({"step": trainer.step_count, **logs}) + "\n")
                    log.flush()
                timed_out = args.max_minutes is not None and time.time() - start > 60 * args.max_minutes
                if ctx.is_main and (
                    trainer.step_count % cfg.save_every == 0 or timed_out or trainer.step_count == cfg.steps
                ):
                    trainer.save(last, provenance)
                if timed_out:
                    if ctx.is_main:
                        print(
                            f"stopping at step {trainer.step_count}: "
                            f"--max_minutes {args.max_minutes} reached",
                            flush=True,
                        )
                    break
        bar.close()
        if ctx.is_main:
            trainer.save(last, provenance)
            if args.export:
                provenance["wall_s"] = round(trainer.wall_s, 1)
                provenance["steps"] = trainer.step_count
                trainer.export(args.export, provenance)
                print(f"exported {args.export}", flush=True)
            print(
                f"done: step {trainer.step_count}, losses {trainer.last}, train wall {trainer.wall_s:.0f} s",
                flush=True,
            )
    finally:
        cleanup_distributed()
    return 0


if __name__ == "__main__":
    run_main(main)
