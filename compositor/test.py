"""Paint images with the Compositional Neural Painter (regions by the compositor, strokes by the painter).

    python compositor/test.py --img_path photo.jpg --stroke_num 1000
    python compositor/test.py --img_path photos/ --stroke_num 5000 --size 1024 --video
    python compositor/test.py --img_path photo.jpg --mode 3          # uniform-grid baseline, no compositor
    python compositor/test.py --img_path photo.jpg --refine 30       # + 30 Adam steps on the strokes
    python -m compositor.test --img_path photo.jpg --output_dir results/cnp

Per image, into --output_dir/<image name>/: painting.png, strokes.json (format "oil", exactly
--stroke_num strokes), painting.svg, metrics.json (strokes, seconds, L1/MSE/PSNR/SSIM against the input
at the canvas size) and, with --video, process.mp4 (or .gif with --video_format gif).
A folder run paints every readable image, reports each bad one in one line, ends with "painted N,
failed M" and exits 1 if any failed.
The shipped checkpoints are checkpoints/cnp_painter.pt and checkpoints/cnp_compositor.pt.
"""

from __future__ import annotations

from common.cli import ArgumentParser, add_common_args, int_in, non_negative_int, positive_int, run_main
from common.errors import UserError


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(description=__doc__)
    add_common_args(parser, output_dir_default="results/cnp")
    parser.add_argument("--img_path", required=True, help="an image file or a folder of images")
    parser.add_argument("--stroke_num", type=positive_int, default=1000, help="strokes per image (exact)")
    parser.add_argument(
        "--mode",
        type=int_in(1, 3),
        default=1,
        help="1 compositor, 2 compositor on a blurred target, 3 uniform grid baseline",
    )
    parser.add_argument("--size", type=int_in(64, 8192), default=512, help="canvas long side in pixels")
    parser.add_argument("--video", action="store_true", help="also write the painting process")
    parser.add_argument("--video_format", choices=("mp4", "gif"), default="mp4")
    parser.add_argument("--refine", type=non_negative_int, default=0, help="Adam steps on the strokes")
    parser.add_argument("--refine_size", type=int_in(32, 4096), default=256, help="refinement resolution")
    parser.add_argument("--per_region", type=int_in(5, 100), default=5, help="strokes per sub-region (x5)")
    parser.add_argument(
        "--policy",
        choices=("multiscale", "lookahead", "actor", "teacher"),
        default="multiscale",
        help="who picks regions in modes 1/2: greedy look-ahead over all scales (default), the same "
        "inside a fitted coarse-to-fine schedule (faster), the trained actor (the paper's compositor), "
        "or the actor's imitation teacher (ablation)",
    )
    parser.add_argument(
        "--ground",
        choices=("black", "mean"),
        default="black",
        help="canvas before the first stroke: black (default, the paper's) or the photo's mean colour",
    )
    parser.add_argument("--painter", default=None, help="painter checkpoint (default: shipped)")
    parser.add_argument("--compositor", default=None, help="compositor checkpoint (default: shipped)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.per_region % 5:
        raise UserError(
            f"--per_region must be a multiple of 5 (5 strokes per painter call), got {args.per_region}"
        )

    from common.checkpoint import default_checkpoint
    from common.device import get_device, seed_everything
    from common.outputs import list_inputs, paint_images
    from compositor.model import load_actor
    from compositor.run import CNPConfig, paint_file
    from painter.model import load_painter

    cfg = CNPConfig(
        args.stroke_num, args.mode, args.size, args.refine, args.refine_size, args.per_region, args.video,
        args.video_format, args.seed, not args.no_progress, args.policy, args.ground,
    )  # fmt: skip
    images, is_folder = list_inputs(args.img_path)
    device = get_device(args.device)
    painter = load_painter(args.painter or default_checkpoint("cnp_painter.pt"), device)
    actor = None
    if args.policy == "actor" or args.compositor:  # a checkpoint named on the command line is always checked
        actor = load_actor(args.compositor or default_checkpoint("cnp_compositor.pt"), device)

    def paint_one(path, folder):
        seed_everything(cfg.seed)
        m = paint_file(path, folder, painter, actor, cfg, device)
        print(
            f"{path.name}: {m['strokes']} strokes, {m['seconds_paint']:.2f} s, "
            f"PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.3f} -> {folder}"
        )

    return paint_images(images, paint_one, args.output_dir, is_folder)


if __name__ == "__main__":
    run_main(main)
