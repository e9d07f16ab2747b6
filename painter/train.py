"""Train the CNP painter: 5 oil strokes per call from (target, canvas) 128x128 patches.

    python painter/train.py                              # bundled photos (benchmark photos held out)
    python painter/train.py --dataset DIR --steps 20000 --output_dir runs/painter
    python painter/train.py --arch anchors --objective gains --patch 64 --rollout 20 --batch_size 16 --opencv
    torchrun --nproc_per_node=2 painter/train.py --dataset DIR
    python painter/train.py --output_dir runs/painter    # run again: resumes from runs/painter/last.pt

Writes into --output_dir (common.training.TrainLoop): last.pt (resumable: weights, critic, optimizers,
RNG), best.pt and painter_best.pt (fp16 weights, what test.py loads; the shipped one is
checkpoints/cnp_painter.pt) whenever the held-out validation MSE improves, painter_last.pt,
config.json and log.txt. Logs the losses and the held-out MSE after 1, 5 and 20 calls.
"""

from __future__ import annotations

from common.cli import (
    ArgumentParser,
    add_common_args,
    config_kwargs,
    float_in,
    non_negative_float,
    non_negative_int,
    positive_int,
    prepare_output_dir,
    run_main,
    run_training,
)
from painter.config import PainterTrainConfig


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    add_common_args(parser, output_dir_default="runs/painter")
    parser.add_argument("--dataset", default=None, help="folder of images (default: bundled photos)")
    parser.add_argument("--steps", type=positive_int, default=PainterTrainConfig.steps)
    parser.add_argument("--batch_size", type=positive_int, default=PainterTrainConfig.batch_size)
    parser.add_argument("--rollout", type=positive_int, default=PainterTrainConfig.rollout)
    parser.add_argument("--lr", type=non_negative_float, default=PainterTrainConfig.lr)
    parser.add_argument(
        "--pretrain_steps",
        type=non_negative_int,
        default=0,
        help="first updates: stroke-supervised warm start on synthetic strokes (not in the paper)",
    )
    parser.add_argument(
        "--pyramid", type=non_negative_int, default=0, help="extra pixel-loss levels (2x, 4x, ... pooled)"
    )
    parser.add_argument(
        "--nested",
        type=float_in(0.0, 1.0),
        default=0.0,
        help="fraction of rollouts starting from a painted parent region (sub-region states)",
    )
    parser.add_argument(
        "--arch",
        choices=("resnet18", "anchors"),
        default="resnet18",
        help="painter network: the paper's ResNet-18 or the anchor painter (painter/anchor_model.py)",
    )
    parser.add_argument("--width", type=positive_int, default=32, help="first-stage channels (anchors)")
    parser.add_argument(
        "--stroke_ratio",
        type=non_negative_float,
        default=0.0,
        help="anchors: stroke thickness between r/2 and r times its length (0: bounded by the cell)",
    )
    parser.add_argument(
        "--objective",
        choices=("paper", "gains"),
        default="paper",
        help="paper: pixel + adaptive WGAN-GP; gains: per-proposal greedy gains (anchor painter only)",
    )
    parser.add_argument("--subset", type=positive_int, default=PainterTrainConfig.subset)
    parser.add_argument("--memory", type=positive_int, default=PainterTrainConfig.memory)
    parser.add_argument("--warmup", type=positive_int, default=PainterTrainConfig.warmup)
    parser.add_argument("--opencv", action="store_true", help="also train on the opencv-doc photos")
    parser.add_argument("--init", default="", help="painter checkpoint to start from (fresh runs only)")
    parser.add_argument(
        "--clip", type=non_negative_float, default=PainterTrainConfig.clip, help="gradient-norm clip (gains)"
    )
    parser.add_argument(
        "--val_calls",
        type=positive_int,
        nargs="+",
        default=list(PainterTrainConfig.val_calls),
        help="keep-best val_mse: mean held-out MSE after these numbers of calls from black",
    )
    parser.add_argument("--renderer", default="oil", help='"oil" (analytic) or an FCN checkpoint path')
    parser.add_argument("--save_every", type=positive_int, default=PainterTrainConfig.save_every)
    parser.add_argument(
        "--max_minutes", type=non_negative_float, default=0.0, help="wall-time limit (0: none)"
    )
    parser.add_argument("--patch", type=positive_int, default=128, help="patch side in pixels [paper: 128]")
    args = parser.parse_args(argv)
    cfg = PainterTrainConfig(**config_kwargs(PainterTrainConfig, vars(args)))
    cfg.val_calls = tuple(args.val_calls)
    cfg.model.update(patch=args.patch, arch=args.arch, width=args.width, stroke_ratio=args.stroke_ratio)
    # --init: its stored fields win, except --stroke_ratio when given (fine-tuning to elongated strokes)
    if (args.objective == "gains") != (args.arch == "anchors"):
        parser.error("--objective gains goes with --arch anchors (and paper with resnet18)")
    out_dir = prepare_output_dir(args.output_dir)
    from painter.training import train_painter  # torch: after the flags

    run_training(lambda ctx, log: train_painter(cfg, out_dir, ctx, log=log), args.device)
    return 0


if __name__ == "__main__":
    run_main(main)
