"""Train the stippling network on a dataset made by stipple/make_dataset.py.

    python stipple/train.py --data data/stipple_train --epochs 50 --batch_size 8 --lr 5e-4 --points 1024
    torchrun --nproc_per_node=4 stipple/train.py --data data/stipple_train --device cuda
    python stipple/train.py --data data/stipple_train --export checkpoints/stipple_net.pt   # fp16 copy

Resumes from ``--checkpoint_dir``/last.pt when it exists (``--fresh`` to start over); writes the resolved
config to ``--checkpoint_dir``/config.json. ``--encoder resnet50`` (or resnet18) needs the torchvision
weights in the torch.hub cache; without them the run says which file is missing and continues on the offline
path: the encoder is trained from random initialisation (logged and stored in the checkpoint's provenance).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from common.cli import ArgumentParser, positive_float, positive_int, run_main
from common.device import cleanup_distributed, init_distributed
from stipple.losses import LossWeights
from stipple.model import StippleNetConfig
from stipple.training import TrainConfig, export_checkpoint, train


def build_parser() -> ArgumentParser:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True, help="dataset folder with source/ and target/ (and points/)")
    p.add_argument("--epochs", type=positive_int, default=50)
    p.add_argument("--batch_size", type=positive_int, default=8)
    p.add_argument("--lr", type=positive_float, default=5e-4)
    p.add_argument(
        "--points", type=positive_int, default=1024, help="stipples per target, G x G (G = 4 * 2^k)"
    )
    p.add_argument("--subset", type=positive_int, default=None, help="use only the first N pairs")
    p.add_argument("--encoder", choices=("resnet50", "resnet18", "scratch"), default="resnet50")
    p.add_argument("--slots", type=positive_int, default=6, help="stipples a grid cell may emit")
    p.add_argument("--image_size", type=positive_int, default=128)
    p.add_argument(
        "--no_skip", action="store_true", help="decoder sees only the style code (no density skip)"
    )
    p.add_argument(
        "--no_slot_prior", action="store_true", help="slot offsets without the low-discrepancy prior"
    )
    p.add_argument("--no_density_prior", action="store_true", help="density head without the darkness prior")
    p.add_argument("--spectrum_weight", type=float, default=0.1)
    p.add_argument("--kmax", type=positive_int, default=24, help="spectrum loss frequencies |k| <= kmax")
    p.add_argument("--checkpoint_dir", default="runs/stipple")
    p.add_argument("--fresh", action="store_true", help="ignore an existing last.pt")
    p.add_argument("--max_minutes", type=positive_float, default=None, help="stop after this wall time")
    p.add_argument("--export", default=None, help="also write an fp16 copy without optimizer state here")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", force=True)
    model_cfg = StippleNetConfig(
        points=args.points,
        slots=args.slots,
        image_size=args.image_size,
        encoder=args.encoder,
        encoder_trainable=args.encoder == "scratch",
        skip=not args.no_skip,
        slot_prior=not args.no_slot_prior,
        density_prior=not args.no_density_prior,
    ).validate()
    cfg = TrainConfig(
        data=args.data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        subset=args.subset,
        checkpoint_dir=args.checkpoint_dir,
        max_minutes=args.max_minutes,
        seed=args.seed,
        workers=args.workers,
        model=model_cfg,
        loss=LossWeights(spectrum=args.spectrum_weight, kmax=args.kmax),
    )
    ctx = init_distributed(args.device)
    if args.fresh and ctx.is_main and Path(args.checkpoint_dir, "last.pt").exists():
        shutil.move(Path(args.checkpoint_dir, "last.pt"), Path(args.checkpoint_dir, "last.pt.old"))
    try:
        means = train(cfg, ctx)
        if ctx.is_main:
            print("final " + " ".join(f"{k}={v:.4f}" for k, v in means.items()))
            if args.export:
                print(f"exported {export_checkpoint(Path(args.checkpoint_dir) / 'last.pt', args.export)}")
    finally:
        cleanup_distributed()
    return 0


if __name__ == "__main__":
    run_main(main)
