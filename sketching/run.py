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
from pathlib import Path

import torch

from common.outputs import image_output
from common.video import ProcessRecorder
from sketching.config import SketchRunConfig
from sketching.objectives import ClipVggObjective, ObjectiveNetworks, make_objective
from sketching.outputs import write_sketch_outputs
from sketching.pipeline import best_of_seeds, clip_saliency, prepare_image
from sketching.sketcher import SketchConfig

__all__ = ["sketch_file"]

log = logging.getLogger("sketching")


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
