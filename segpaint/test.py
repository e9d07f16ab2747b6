"""Paint photos with segmentation-based parametric painting (optimisation of bezier13 strokes).

    python segpaint/test.py --image_path photo.jpg                     # 50 Adam steps per pass, minutes
    python segpaint/test.py --image_path photo.jpg --preset paper      # the paper's 300 steps per pass
    python segpaint/test.py --image_path photos/ --style painterly --video
    python segpaint/test.py --image_path photo.jpg --style realistic --iter_steps 100 --max_side 512
    python segpaint/test.py --image_path photo.jpg --renderer neural   # the shipped FCN renderer
    python -m segpaint.test --image_path photo.jpg --save_dir results --exp_name demo

Per image, into <save_dir>/<exp_name>/<image name>/: painting.png, pass_<k>.png, strokes.json (bezier13,
canvas coordinates), painting.svg, metrics.json, painting_texture.png (unless --no-texturize) and, with
--video, process.mp4. Offline: DETR panoptic masks when facebook/detr-resnet-50-panoptic is in the local
Hugging Face cache, else SLIC regions; VGG16 perceptual term only when its weights are in the torch.hub cache.
"""

from __future__ import annotations

import argparse

from common.cli import (
    ArgumentParser,
    add_common_args,
    int_in,
    non_negative_float,
    positive_float,
    positive_int,
    run_main,
)
from segpaint.config import PRESETS, STYLES


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(description=__doc__)
    add_common_args(parser, output_dir_default="results/segpaint")
    parser.add_argument("--save_dir", dest="output_dir", help="alias of --output_dir (the release's flag)")
    parser.add_argument("--image_path", required=True, help="an image file or a folder of images")
    parser.add_argument("--exp_name", default="exp", help="subfolder of the output folder (default: exp)")
    parser.add_argument("--style", choices=STYLES, default="realistic", help="preset (default: realistic)")
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        default="default",
        help="budget: default = 50 Adam steps per pass (minutes), paper = the paper's 300 (about 6x longer)",
    )
    parser.add_argument("--lr", type=positive_float, default=None, help="Adam learning rate (default 0.004)")
    parser.add_argument(
        "--w_perc", type=non_negative_float, help="perceptual weight (0.01 realistic, else 0)"
    )
    parser.add_argument(
        "--iter_steps", type=positive_int, default=None, help="Adam steps per pass (overrides --preset)"
    )
    parser.add_argument(
        "--texturize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also write a texturized painting (default: on)",
    )
    parser.add_argument("--canvas_color", choices=["black", "white"], default="black")
    parser.add_argument("--global_loss", action="store_true", help="add the half-resolution full-canvas L1")
    parser.add_argument("--renderer", choices=["analytic", "neural"], default="analytic")
    parser.add_argument("--max_side", type=int_in(16, 4096), default=512, help="downscale to this long side")
    parser.add_argument("--video", action="store_true", help="also write the painting process (MP4)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)

    from common.device import get_device, seed_everything
    from common.outputs import list_inputs, paint_images
    from segpaint.config import style_config
    from segpaint.run import load_models, paint_file

    images, is_folder = list_inputs(args.image_path)
    device = get_device(args.device)
    cfg = style_config(
        args.style,
        preset=args.preset,
        lr=args.lr,
        w_perc=args.w_perc,
        iter_steps=args.iter_steps,
        texturize=args.texturize,
        canvas_color=args.canvas_color,
        global_loss=args.global_loss or None,
        max_side=args.max_side,
    )
    models = load_models(cfg, device, args.renderer)

    def paint_one(path, folder):
        seed_everything(args.seed)
        paint_file(path, folder, cfg, models, device, seed=args.seed, video=args.video)

    return paint_images(images, paint_one, f"{args.output_dir}/{args.exp_name}", is_folder)


if __name__ == "__main__":
    run_main(main)
