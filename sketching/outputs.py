"""Files written per sketched image: SVGs (final and per round), PNG, stroke JSON, metrics.json, video.

Written through ``common.outputs.ImageOutput`` (all or nothing per image).
"""

from __future__ import annotations

import torch

from common.outputs import ImageOutput
from common.renderers.curve import FORMAT
from common.svg import rasterize_svg, strokes_to_svg
from sketching.pipeline import PreparedImage
from sketching.sketcher import SketchConfig, SketchResult, render_sketch, sketch_rows

__all__ = ["sketch_svg", "write_sketch_outputs"]


def sketch_svg(points_px: torch.Tensor, config: SketchConfig) -> str:
    """SVG document (white paper, one cubic ``<path>`` per stroke) of ``(N, 4, 2)`` pixel control points."""
    rows = sketch_rows(points_px, config.canvas, config.stroke_width)
    return strokes_to_svg(FORMAT, rows, config.canvas, config.canvas, background=[1.0, 1.0, 1.0])


def write_sketch_outputs(
    out: ImageOutput,
    prepared: PreparedImage,
    best: SketchResult,
    results: list[SketchResult],
    config: SketchConfig,
    run_info: dict,
    recorder=None,
) -> dict:
    """Write the outputs of one image into ``out`` and return metrics.json's dict.

    Files: ``sketch.svg`` (best sketch), ``sketch.png`` (its tensor render), ``strokes.json`` (format
    ``curve``), ``round{r}.svg`` per round, ``metrics.json`` and, with a recorder, ``process.mp4``.
    """
    c = config.canvas
    image = render_sketch(best.control_points, c, config.stroke_width).detach()
    svg_text = sketch_svg(best.control_points, config)
    raster = rasterize_svg(svg_text, c, c)
    rows = sketch_rows(best.control_points, c, config.stroke_width)
    extra = {"budgets": prepared.budgets, "seed": best.seed, "source": str(prepared.path)}
    out.image("sketch.png", image)
    out.strokes(
        FORMAT, rows, c, c, background=[1.0, 1.0, 1.0], extra=extra, svg="sketch.svg", svg_text=svg_text
    )
    rounds = []
    for r, points in enumerate(best.round_points, start=1):
        out.svg(f"round{r}.svg", sketch_svg(points, config))
        rounds.append(
            {
                "round": r,
                "region": prepared.round_sources[r - 1],
                "edge_pixels": prepared.edge_counts[r - 1],
                "strokes_added": prepared.budgets[r - 1],
                "strokes_total": int(points.shape[0]),
                "best_objective": best.round_losses[r - 1],
                "svg": f"round{r}.svg",
            }
        )
    if recorder is not None:
        out.video(recorder, fps=12)
    iterations = max(best.iterations, 1)
    metrics = {
        "image": str(prepared.path),
        "image_size": list(prepared.original_size),
        **run_info,
        "num_strokes": int(best.control_points.shape[0]),
        "rounds": rounds,
        "final_objective": best.best_loss,
        "best_seed": best.seed,
        "seeds": [
            {
                "seed": r.seed,
                "best_objective": r.best_loss,
                "seconds": round(r.seconds, 3),
                "iterations": r.iterations,
            }
            for r in results
        ],
        "seconds": round(best.seconds, 3),
        "seconds_total_all_seeds": round(sum(r.seconds for r in results), 3),
        "seconds_per_iteration": round(best.seconds / iterations, 5),
        "iterations": best.iterations,
        "svg_vs_png_mean_abs_diff": float((raster - image.cpu()).abs().mean()),
        "config": config.to_dict(),
        "notes": prepared.notes + run_info.get("notes", []),
        "loss_curve": [round(v, 6) for v in best.loss_curve],
        "eval_curve": [[step, round(v, 6)] for step, v in best.eval_curve],
    }
    out.metrics(metrics)
    return metrics
