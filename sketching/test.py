"""Sketch a photo with MROSS multi-round region-based stroke optimisation (CLIPasso objective).

    python sketching/test.py --target photo.jpg --num_strokes 48
    python sketching/test.py --target photo.jpg --loss edge --num_iter 300 --video
    python sketching/test.py --target scene.png --roi scene_roi1.png scene_roi2.png --num_sketches 3
    python sketching/test.py --target photos/ --auto_roi --region_round 3 --clip_weights ~/RN101.pt
    python -m sketching.test --target photo.jpg --output_dir results/sketching

Per image NAME, into --output_dir/NAME/: sketch.svg (the best sketch: one cubic Bezier <path> per stroke),
sketch.png (its tensor render, 224 px by default), strokes.json (format "curve"), round1.svg ... roundR.svg
(the sketch after each round), metrics.json (objective used, loss curve, final objective, per-round budgets,
per-seed results, seconds) and with --video process.mp4.

--loss clip needs CLIP RN101 weights (--clip_weights, or open_clip's cache, downloaded into it when online)
and VGG16 weights (torch.hub cache, likewise); without CLIP weights it ends with one error line, exit 2.
--loss auto (default) says what to fetch and where, then runs the offline edge objective (--loss edge), as
recorded in metrics.json. A folder run sketches every readable image, reports each bad one in one line,
ends with "painted N, failed M" and exits 1 if any failed.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import torch

from common.cli import (
    ArgumentParser,
    add_common_args,
    int_in,
    non_negative_int,
    positive_float,
    positive_int,
    run_main,
)
from common.device import get_device, seed_everything
from common.errors import UserError
from common.outputs import list_inputs, paint_images
from sketching.objectives import load_objective_networks
from sketching.run import SketchRunConfig, sketch_file
from sketching.sketcher import SketchConfig

log = logging.getLogger("sketching")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--target", required=True, help="an image file or a folder of images")
    p.add_argument("--num_strokes", type=positive_int, default=48, help="total strokes over all rounds (48)")
    p.add_argument(
        "--region_round",
        type=positive_int,
        default=None,
        help="rounds: 1 = whole image only; R > 1 adds R-1 regions (--roi, --auto_roi or NAME_roi{k}.png)",
    )
    p.add_argument("--num_sketches", type=positive_int, default=1, help="best of N seeds (CLIPasso: 3)")
    p.add_argument("--num_iter", type=positive_int, default=300, help="iterations per round (MROSS: 801)")
    p.add_argument(
        "--roi",
        nargs="+",
        type=Path,
        default=None,
        metavar="MASK",
        help="ROI masks: full-frame RGBA images of the target's size, transparent outside the region",
    )
    p.add_argument("--auto_roi", action="store_true", help="choose the regions by Canny edge density")
    p.add_argument(
        "--loss",
        choices=("auto", "clip", "edge"),
        default="auto",
        help="clip: CLIP RN101 + VGG16 (MROSS), exit 2 without CLIP weights; edge: offline multi-scale "
        "edge objective; auto (default): clip when its weights can be had, else edge (logged)",
    )
    p.add_argument("--clip_weights", type=Path, default=None, help="CLIP RN101 weights file (RN101.pt)")
    p.add_argument(
        "--clip_random_weights",
        action="store_true",
        help="random CLIP/VGG weights (timing and tests only; the objective is then meaningless)",
    )
    p.add_argument(
        "--edge_method",
        choices=("canny", "contour", "xdog"),
        default="contour",
        help="edge drawing of --loss edge: contour (smoothed Canny, long chains), canny (MROSS), xdog",
    )
    p.add_argument(
        "--init",
        choices=("fps", "saliency", "random"),
        default="fps",
        help="seed points: farthest points on Canny edges (MROSS), CLIP saliency (CLIPasso), random",
    )
    p.add_argument("--stroke_width", type=positive_float, default=1.5, help="stroke width in canvas pixels")
    p.add_argument("--canvas", type=int_in(16, 4096), default=224, help="canvas side in pixels (224)")
    p.add_argument("--lr", type=positive_float, default=1.0, help="Adam learning rate, pixels (1.0)")
    p.add_argument("--no_vgg", action="store_true", help="--loss clip without MROSS's VGG16 term (CLIPasso)")
    p.add_argument(
        "--num_augs", type=non_negative_int, default=4, help="augmented views per step of --loss clip (4)"
    )
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--video", action="store_true", help="also write the optimisation as process.mp4")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_common_args(p, output_dir_default="results/sketching")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.clip_weights is not None and not args.clip_weights.expanduser().is_file():
        raise UserError(f"--clip_weights file not found: {args.clip_weights}")
    images, is_folder = list_inputs(args.target)
    if is_folder:  # ROI masks beside their scene (NAME_roi1.png) are not targets
        images = [p for p in images if not re.search(r"_roi\d+$", p.stem)] or images
    if args.roi and len(images) > 1:
        raise UserError("--roi masks belong to one image; --target is a folder of several images")
    device = get_device(args.device)
    sketch = SketchConfig(
        num_strokes=args.num_strokes, num_iter=args.num_iter, canvas=args.canvas,
        stroke_width=args.stroke_width, lr=args.lr, init=args.init,
    )  # fmt: skip
    run = SketchRunConfig(
        args.loss, args.region_round, args.roi, args.auto_roi, args.num_sketches, args.edge_method,
        args.num_augs, args.clip_random_weights, args.video, args.seed, not args.quiet,
    )  # fmt: skip
    nets = load_objective_networks(
        args.loss, args.clip_weights, args.clip_random_weights, not args.no_vgg, device
    )

    def paint_one(path, folder):
        seed_everything(args.seed)
        sketch_file(path, folder, nets, sketch, run, device)

    return paint_images(images, paint_one, args.output_dir, is_folder)


if __name__ == "__main__":
    run_main(main)
