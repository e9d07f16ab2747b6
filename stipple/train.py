"""Train the stippling network on a dataset made by stipple/make_dataset.py.

    python stipple/train.py --data data/stipple_train --epochs 50 --batch_size 8 --lr 5e-4 --points 1024
    torchrun --nproc_per_node=4 stipple/train.py --data data/stipple_train --device cuda
    python stipple/train.py --data data/train --val_data data/val --max_minutes 60 \
        --export checkpoints/stipple_net.pt

The defaults train the shipped design (8-px cells with 4 stipples each, K = 16 slots, 4 decoder blocks, the
blue-noise slot prior, repulsion; ``stipple/__init__.py`` departure 15); the 2025 network was
``--cell_px 4 --slots 6 --blocks 5 --reach 1.5 --prior r2 --repulsion_weight 0 --tone_weight 10
--radius_weight 1``. Resumes from ``--checkpoint_dir``/last.pt when it exists (``--fresh`` moves the old
run aside; a resumed run takes the command's ``--lr``); writes the resolved config to
``--checkpoint_dir``/config.json; with ``--val_data`` keeps ``best.pt`` (and the fp16 ``stipple_net_best.pt``)
by the held-out tone PSNR (common.training.TrainLoop), averaged over ``--val_scales``.
"""

from __future__ import annotations

import logging

from common.cli import ArgumentParser, config_kwargs, positive_float, positive_int, run_main, run_training


def build_parser() -> ArgumentParser:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True, help="dataset folder with source/ and target/ (and points/)")
    p.add_argument("--epochs", type=positive_int, default=50)
    p.add_argument("--batch_size", type=positive_int, default=8)
    p.add_argument("--lr", type=positive_float, default=5e-4)
    p.add_argument("--points", type=positive_int, default=1024, help="stipples per training target")
    p.add_argument("--subset", type=positive_int, default=None, help="use only the first N pairs")
    p.add_argument("--slots", type=positive_int, default=16, help="stipples a grid cell may emit")
    p.add_argument("--image_size", type=positive_int, default=128, help="training input side (4 px per cell)")
    p.add_argument("--width", type=positive_int, default=64, help="decoder channels")
    p.add_argument("--blocks", type=positive_int, default=4, help="residual decoder blocks")
    p.add_argument("--reach", type=positive_float, default=1.0, help="slot reach in cells from the centre")
    p.add_argument("--cell_px", type=int, choices=(4, 8), default=8, help="input pixels per grid cell")
    p.add_argument("--prior", choices=("r2", "blue"), default="blue", help="slot pattern under the offsets")
    p.add_argument(
        "--repulsion_weight", type=float, default=1.0, help="nearest-neighbour repulsion among the points"
    )
    p.add_argument("--no_slot_prior", action="store_true", help="slots without the low-discrepancy prior")
    p.add_argument("--no_density_prior", action="store_true", help="density head without the darkness prior")
    p.add_argument("--spectrum_weight", type=float, default=0.1)
    p.add_argument("--radius_weight", type=float, default=0.1)
    p.add_argument("--tone_weight", type=float, default=40.0, help="weight of the blurred-render tone loss")
    p.add_argument(
        "--tone_scales",
        type=positive_int,
        nargs="+",
        default=[1],
        help="tone-loss render scales (one per step)",
    )
    p.add_argument(
        "--val_scales", type=positive_int, nargs="+", default=[1], help="validation render scales (mean)"
    )
    p.add_argument("--angular_bins", type=positive_int, default=8, help="spectrum loss sectors (1 = radial)")
    p.add_argument("--val_data", default=None, help="held-out dataset folder: keep-best by its tone PSNR")
    p.add_argument("--val_every", type=positive_int, default=100, help="steps between validations")
    p.add_argument("--save_every", type=positive_int, default=200, help="steps between last.pt saves")
    p.add_argument("--checkpoint_dir", default="runs/stipple")
    p.add_argument("--fresh", action="store_true", help="move an existing run aside and start over")
    p.add_argument("--max_minutes", type=positive_float, default=None, help="stop after this wall time")
    p.add_argument("--export", default=None, help="also write an fp16 copy of the best (else last) here")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from stipple.losses import LossWeights  # torch: after the flags
    from stipple.model import StippleNetConfig
    from stipple.training import TrainConfig, train

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", force=True)
    flags = vars(args)
    model_cfg = StippleNetConfig(
        **config_kwargs(StippleNetConfig, flags),
        slot_prior=not args.no_slot_prior,
        density_prior=not args.no_density_prior,
    ).validate()
    loss = LossWeights(
        spectrum=args.spectrum_weight,
        radius=args.radius_weight,
        angular_bins=args.angular_bins,
        repulsion=args.repulsion_weight,
        tone=args.tone_weight,
        tone_scales=tuple(args.tone_scales),
    )
    run = {
        "max_minutes": args.max_minutes or 0.0,
        "val_points": args.points,
        "val_scales": tuple(args.val_scales),
        "model": model_cfg,
        "loss": loss,
    }
    cfg = TrainConfig(**{**config_kwargs(TrainConfig, flags), **run})
    run_training(
        lambda ctx, log: train(cfg, ctx, fresh=args.fresh),
        args.device,
        lambda s: "final " + " ".join(f"{k}={v}" for k, v in s.items()),
        export=(args.checkpoint_dir, args.export),
    )
    return 0


if __name__ == "__main__":
    run_main(main)
