"""One image through MROSS scene sketching and its outputs (used by ``sketching/test.py``).

Outputs per image (``common.outputs``, all or nothing; files in ``sketching.outputs``): ``sketch.svg``,
``sketch.png``, ``strokes.json`` (format ``curve``), ``round<r>.svg``, ``metrics.json`` and, with ``video``,
``process.mp4``. The objective's networks (CLIP RN101, VGG16) are loaded once per run by
``sketching.objectives.load_objective_networks``; only the target-dependent part is made per image.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from common.cli import (
    ArgumentParser,
    add_common_args,
    int_in,
    non_negative_int,
    positive_float,
    positive_int,
)
from common.outputs import image_output
from common.video import ProcessRecorder
from sketching.objectives import ClipVggObjective, ObjectiveNetworks, make_objective
from sketching.outputs import write_sketch_outputs
from sketching.pipeline import best_of_seeds, clip_saliency, prepare_image
from sketching.sketcher import SketchConfig

__all__ = ["SketchRunConfig", "build_parser", "sketch_file"]

log = logging.getLogger("sketching")


@dataclass
class SketchRunConfig:
    """Options of one sketching run besides the optimiser's :class:`SketchConfig`.

    Attributes:
        loss: the objective asked for (``auto``, ``clip``, ``edge``). region_round: rounds (None: from the
        ROI options). roi: ROI mask files (one image only). auto_roi: choose regions by edge density.
        num_sketches: best of this many seeds. edge_method: edge drawing of the edge objective.
        num_augs: augmented views per CLIP step. random_weights: random CLIP/VGG (tests, timing).
        video: write ``process.mp4``. seed: first seed. progress: show a progress bar.
    """

    loss: str = "auto"
    region_round: int | None = None
    roi: list[Path] | None = None
    auto_roi: bool = False
    num_sketches: int = 1
    edge_method: str = "contour"
    num_augs: int = 4
    random_weights: bool = False
    video: bool = False
    seed: int = 0
    progress: bool = True


def build_parser(description: str | None = None) -> ArgumentParser:
    """The flags of ``sketching/test.py`` (the MROSS release's ``--target``, ``--num_strokes``,
    ``--region_round``, ``--num_sketches`` plus the shared ones)."""
    p = ArgumentParser(description=description)
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
    p.add_argument("--video", action="store_true", help="also write the optimisation as process.mp4")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_common_args(p, output_dir_default="results/sketching")
    return p


def sketch_file(
    path: Path, folder: Path, nets: ObjectiveNetworks, sketch: SketchConfig, run: SketchRunConfig, device
) -> dict:
    """Sketch one image file and write its outputs into ``folder``; returns the metrics dict.

    Raises:
        ImageLoadError: unreadable image or ROI mask. UserError: inconsistent rounds/ROI options.
        OutputDirError: folder not writable.
    """
    item = prepare_image(path, sketch.canvas, sketch.num_strokes, run.region_round, run.roi, run.auto_roi)
    target = item.target.to(device)
    objective = make_objective(nets, target, run.edge_method, sketch.stroke_width, run.num_augs, item.content)
    notes = list(nets.notes)
    saliency = None
    if sketch.init == "saliency":
        if isinstance(objective, ClipVggObjective):
            saliency = clip_saliency(objective.clip_loss.visual, target)
        else:
            notes.append("--init saliency needs CLIP weights; farthest-point seeds used instead")
    recorders: dict[int, ProcessRecorder] = {}

    def on_eval(seed):
        if not run.video:
            return None
        recorders[seed] = ProcessRecorder(max_frames=240)
        return lambda image, step, loss: recorders[seed].add(image)

    if objective.name == "edge" and sketch.init == "fps" and objective.edges.any():
        # seed on the edges the objective rewards (MROSS seeds on raw Canny edges; budgets stay Canny)
        item = dataclasses.replace(item, edges=objective.edges)
    seeds = [run.seed + 1000 * k for k in range(run.num_sketches)]
    start = time.perf_counter()
    best, results = best_of_seeds(
        item, objective, sketch, seeds, device, saliency, on_eval=on_eval, progress=run.progress
    )
    run_info = {
        "objective_requested": run.loss,
        "objective_used": objective.name,
        "edge_method": run.edge_method if objective.name == "edge" else None,
        "clip_random_weights": run.random_weights if objective.name == "clip" else None,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "wall_seconds": round(time.perf_counter() - start, 3),
        "notes": notes,
    }
    with image_output(folder, log=log.info) as out:
        metrics = write_sketch_outputs(out, item, best, results, sketch, run_info, recorders.get(best.seed))
    log.info(
        "%s: %d strokes in %d round(s) %s, %s objective %.4g, %.1f s -> %s",
        path.name, metrics["num_strokes"], len(item.budgets), item.budgets, objective.name, best.best_loss,
        metrics["seconds"], folder,
    )  # fmt: skip
    return metrics
