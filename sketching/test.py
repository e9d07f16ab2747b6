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

from common.cli import run_main
from common.errors import UserError
from sketching.config import SketchRunConfig, build_parser

log = logging.getLogger("sketching")


def main(argv=None) -> int:
    args = build_parser(__doc__).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # heavy imports after the flags: --help and flag errors stay fast
    from common.device import get_device, seed_everything
    from common.outputs import list_inputs, paint_images
    from sketching.objectives import load_objective_networks
    from sketching.run import sketch_file
    from sketching.sketcher import SketchConfig

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
