"""One line drawing through the refiner and its outputs (used by ``linerefiner/test.py``).

Outputs per drawing (``common.outputs``, all or nothing): ``refined.png``, an 8-bit gray PNG of the input's
size (dark lines on light paper), and ``metrics.json`` (size, seconds, tiles, notes, the checkpoint used).
The refiner draws no strokes, so there is no ``strokes.json`` or SVG.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from common.image_io import load_image
from common.outputs import image_output
from linerefiner.inference import TileStats, postprocess, prepare_drawing, refine_tiled, refine_whole

__all__ = ["RefineRunConfig", "refine_file"]


@dataclass
class RefineRunConfig:
    """Options of one refinement run (the flags of ``linerefiner/test.py``).

    Attributes:
        tile: tile core size in pixels; 0 = whole image at once. skip_blank: skip all-white tiles.
        threshold: binarise the output at this gray level (None: keep gray). curve: ``out ** curve``
        (None: off). bf16: bfloat16 autocast.
    """

    tile: int = 512
    skip_blank: bool = True
    threshold: float | None = None
    curve: float | None = None
    bf16: bool = False


def refine_file(path: Path, folder: Path, generator, model_cfg, run: RefineRunConfig, info: dict) -> dict:
    """Refine one drawing file and write its outputs into ``folder``; returns the metrics dict.

    Args:
        path: image file (dark lines on light paper; colour is made gray, a dark background inverted).
        folder: its output folder. generator, model_cfg: from ``linerefiner.inference.load_refiner``.
        run: run options. info: run-wide facts for ``metrics.json`` (style, checkpoint step, device).

    Raises:
        ImageLoadError: unreadable or too small image. OutputDirError: folder not writable.
    """
    t0 = time.perf_counter()
    drawing = prepare_drawing(load_image(path))
    for note in drawing.notes:
        print(f"{path.name}: {note}", flush=True)
    stats = TileStats()
    if run.tile == 0:
        refined = refine_whole(generator, drawing.gray, run.bf16)
    else:
        refined = refine_tiled(
            generator, drawing.gray, model_cfg, run.tile, skip_blank=run.skip_blank, stats=stats,
            progress=True, bf16=run.bf16,
        )  # fmt: skip
    refined = postprocess(refined, run.threshold, run.curve)
    _, _, h, w = refined.shape
    metrics = {
        "method": "linerefiner",
        "image": str(path),
        **info,
        "width": w,
        "height": h,
        "seconds": round(time.perf_counter() - t0, 3),
        "inverted": drawing.inverted,
        "from_color": drawing.from_color,
        "tiles_computed": stats.computed,
        "tiles_skipped_blank": stats.skipped,
        "notes": drawing.notes,
        "config": asdict(run),
    }
    with image_output(folder) as out:
        out.image("refined.png", refined)
        out.metrics(metrics)
    print(f"{path.name} -> {folder / 'refined.png'} ({w}x{h}, {metrics['seconds']:.1f} s)", flush=True)
    return metrics
