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

--loss clip (default) needs CLIP RN101 weights (--clip_weights, or ~/.cache/clip/RN101.pt, or the Hugging
Face cache) and VGG16 weights (torch.hub cache). When the CLIP weights are missing the program says what to
fetch and where, then runs the offline edge objective instead (--loss edge), as logged in metrics.json.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from pathlib import Path

from common.cli import (
    ArgumentParser,
    add_common_args,
    positive_float,
    positive_int,
    prepare_output_dir,
    run_main,
)
from common.errors import UserError

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
        choices=("clip", "edge"),
        default="clip",
        help="clip: CLIP RN101 + VGG16 (MROSS); edge: offline multi-scale edge objective",
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
    p.add_argument("--canvas", type=positive_int, default=224, help="canvas side in pixels (224)")
    p.add_argument("--lr", type=positive_float, default=1.0, help="Adam learning rate, pixels (1.0)")
    p.add_argument("--no_vgg", action="store_true", help="--loss clip without MROSS's VGG16 term (CLIPasso)")
    p.add_argument("--num_augs", type=int, default=4, help="augmented views per step of --loss clip (4)")
    p.add_argument("--video", action="store_true", help="also write the optimisation as process.mp4")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_common_args(p, output_dir_default="results/sketching")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from common.device import get_device, seed_everything  # heavy imports after the flags
    from common.image_io import list_images
    from common.video import ProcessRecorder
    from sketching.objectives import ClipVggObjective, build_objective
    from sketching.outputs import write_sketch_outputs
    from sketching.pipeline import best_of_seeds, clip_saliency, prepare_image
    from sketching.sketcher import SketchConfig

    if args.num_augs < 0:
        raise UserError(f"--num_augs must be >= 0, got {args.num_augs}")
    if args.canvas < 16:
        raise UserError(f"--canvas must be at least 16 px, got {args.canvas}")
    if args.clip_weights is not None and not args.clip_weights.expanduser().is_file():
        raise UserError(f"--clip_weights file not found: {args.clip_weights}")
    images = list_images(args.target)
    if Path(args.target).is_dir():  # ROI masks beside their scene (NAME_roi1.png) are not targets
        images = [p for p in images if not re.search(r"_roi\d+$", p.stem)] or images
    if args.roi and len(images) > 1:
        raise UserError("--roi masks belong to one image; --target is a folder of several images")
    device = get_device(args.device)
    config = SketchConfig(
        num_strokes=args.num_strokes,
        num_iter=args.num_iter,
        canvas=args.canvas,
        stroke_width=args.stroke_width,
        lr=args.lr,
        init=args.init,
    )
    # Validate every image and mask before anything is written.
    prepared = [
        prepare_image(path, args.canvas, args.num_strokes, args.region_round, args.roi, args.auto_roi)
        for path in images
    ]
    out_root = prepare_output_dir(args.output_dir)
    for item in prepared:
        seed_everything(args.seed)
        target = item.target.to(device)
        objective, notes = build_objective(
            args.loss,
            target,
            clip_weights=args.clip_weights,
            random_weights=args.clip_random_weights,
            edge_method=args.edge_method,
            width_px=args.stroke_width,
            num_augs=args.num_augs,
            use_vgg=not args.no_vgg,
            content_mask=item.content,
        )
        saliency = None
        if args.init == "saliency":
            if isinstance(objective, ClipVggObjective):
                saliency = clip_saliency(objective.clip_loss.visual, target)
            else:
                notes.append("--init saliency needs CLIP weights; farthest-point seeds used instead")
        recorders = {}

        def on_eval(seed, recorders=recorders):
            if not args.video:
                return None
            recorders[seed] = ProcessRecorder(max_frames=240)
            return lambda image, step, loss: recorders[seed].add(image)

        if objective.name == "edge" and args.init == "fps" and objective.edges.any():
            # seed on the edges the objective rewards (MROSS seeds on raw Canny edges; budgets stay Canny)
            item = dataclasses.replace(item, edges=objective.edges)
        seeds = [args.seed + 1000 * k for k in range(args.num_sketches)]
        start = time.perf_counter()
        best, results = best_of_seeds(
            item, objective, config, seeds, device, saliency, on_eval=on_eval, progress=not args.quiet
        )
        out_dir = prepare_output_dir(out_root / item.path.stem)
        run_info = {
            "objective_requested": args.loss,
            "objective_used": objective.name,
            "edge_method": args.edge_method if objective.name == "edge" else None,
            "clip_random_weights": bool(args.clip_random_weights) if objective.name == "clip" else None,
            "device": str(device),
            "wall_seconds": round(time.perf_counter() - start, 3),
            "notes": notes,
        }
        metrics = write_sketch_outputs(
            out_dir, item, best, results, config, run_info, recorders.get(best.seed)
        )
        log.info(
            "%s: %d strokes in %d round(s) %s, %s objective %.4g, %.1f s -> %s",
            item.path.name,
            metrics["num_strokes"],
            len(item.budgets),
            item.budgets,
            objective.name,
            best.best_loss,
            metrics["seconds"],
            out_dir,
        )
    return 0


if __name__ == "__main__":
    run_main(main)
