"""One image through the CNP pipeline and its outputs (used by ``compositor/test.py`` and the benchmark).

Outputs per image (``common.outputs``): ``painting.png``, ``strokes.json`` (format ``oil``, exactly
``stroke_num`` strokes), ``painting.svg``, ``metrics.json`` and, with ``video``, ``process.mp4``.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from common.image_io import load_image
from common.metrics import image_metrics
from common.progress import TimeLeft
from common.renderers.oil import render_oil
from compositor.paint import ground_canvas, paint_image, refine_strokes


@dataclass
class CNPConfig:
    """Options of one CNP painting run (the flags of ``compositor/test.py``).

    Attributes:
        stroke_num: strokes per image, exact. mode: 1 compositor, 2 compositor on a blurred target,
        3 uniform-grid baseline. size: canvas long side, pixels. refine: Adam steps on the strokes after
        painting, at ``refine_size`` px. per_region: strokes per sub-region (a multiple of 5).
        video: write the process; video_format ``"mp4"`` or ``"gif"``. seed: random seed. progress: bar.
        policy: region picker of modes 1 and 2 (``compositor.paint.paint_image``): multiscale, lookahead,
        actor, teacher. ground: the canvas before the first stroke, ``"black"`` (the paper's) or
        ``"mean"`` (the photo's mean colour, a toned ground).
    """

    stroke_num: int = 1000
    mode: int = 1
    size: int = 512
    refine: int = 0
    refine_size: int = 256
    per_region: int = 5
    video: bool = False
    video_format: str = "mp4"
    seed: int = 0
    progress: bool = True
    policy: str = "multiscale"
    ground: str = "black"


def load_target(path, size: int, device) -> torch.Tensor:
    """Load an image and scale it so its long side is ``size`` (aspect ratio kept): (1, 3, H, W)."""
    img = load_image(path)
    h, w = img.shape[-2:]
    scale = size / max(h, w)
    new = (max(1, round(h * scale)), max(1, round(w * scale)))
    if new != (h, w):
        mode = "area" if scale < 1 else "bicubic"
        kw = {} if mode == "area" else {"align_corners": False}
        img = F.interpolate(img, size=new, mode=mode, **kw).clamp(0, 1)
    return img.to(device)


def refine_step_cost(strokes: int, side: int) -> float:
    """Prior cost of one ``--refine`` Adam step, in units of one painted stroke (mode 1, 512 px canvas).

    ``(5.5 + 0.0256 * strokes) * (side / 256) ** 2``, ``side`` = the refinement's long side in pixels; fitted
    to CPU seconds on this project's 2-core CPU (1 thread, astronaut at 512 px, 13:55 UTC): painting 11.3 ms
    per stroke; a refinement step at 256 px 119 ms with 200 strokes, 354 ms with 1000 (10.6 and 31.1
    strokes' worth), at 512 px 441 and 1762 ms (39 and 155; the formula gives 42 and 124). Only the estimate
    shown while painting uses it; once refining, the estimate comes from the measured steps.
    """
    return (5.5 + 0.0256 * strokes) * (side / 256) ** 2


class _PaintProgress:
    """The painting bar (``update(n)``, as ``compositor.paint`` calls it) plus, when a refinement follows,
    the whole run's time left (``common.progress.TimeLeft``) in the bar's postfix."""

    def __init__(self, bar, left: TimeLeft | None) -> None:
        self.bar, self.left = bar, left

    def update(self, n: int) -> None:
        self.bar.update(n)
        if self.left is not None:  # redrawn at every update (every 5 strokes): the estimate is always shown
            fraction = self.bar.n / max(1, self.bar.total)
            self.bar.set_postfix_str(f"with refinement {self.left.message(0, fraction)}")


def paint_target(
    target,
    painter,
    actor,
    stroke_num,
    mode=1,
    refine=0,
    refine_size=256,
    per_region=5,
    frames=0,
    progress=None,
    refine_progress=None,
    policy="multiscale",
    ground="black",
) -> dict:
    """Paint a (1, 3, H, W) target; returns strokes, canvas, frames, timings and metrics (with refinement).

    ``progress``: tqdm-like ``update(n)`` per painted strokes; ``refine_progress``: callable(step) after
    each refinement step (see :func:`compositor.paint.refine_strokes`); ``policy``: the region picker of
    modes 1 and 2, ``ground``: the canvas before the first stroke (:func:`compositor.paint.paint_image`).
    The result's ``ground`` is the (R, G, B) canvas colour the strokes are painted on."""
    res = paint_image(target, painter, actor, stroke_num, mode, per_region, frames, progress, policy, ground)
    out = {
        "strokes": res.strokes,
        "canvas": res.canvas,
        "frames": res.frames,
        "seconds_paint": res.seconds,
        "regions": len(res.regions),
        "ground": list(res.ground),
    }
    out["metrics_before_refine"] = image_metrics(res.canvas, target)
    start = time.time()
    if refine > 0:
        out["strokes"] = refine_strokes(
            res.strokes, target, refine, size=refine_size, progress=refine_progress, ground=res.ground
        )
        with torch.no_grad():
            out["canvas"] = render_oil(out["strokes"][None], ground_canvas(target, res.ground)).clamp(0, 1)
        if frames:
            out["frames"].append((out["canvas"][0].permute(1, 2, 0) * 255).round().byte().cpu().numpy())
    out["seconds_refine"] = time.time() - start
    out["metrics"] = image_metrics(out["canvas"], target)
    return out


def paint_file(path: Path, folder: Path, painter, actor, cfg: CNPConfig, device) -> dict:
    """Paint one image file and write its outputs into ``folder`` (all or nothing, ``common.outputs``).

    Args:
        path: the image. folder: its output folder. painter: ``painter.model.Painter``. actor: the
        compositor's ``Actor``, or None for the greedy teacher / the grid baseline. cfg: the run's options.
        device: torch device.

    Returns:
        The metrics dict written to ``metrics.json``.

    Raises:
        ImageLoadError: unreadable or too small image. OutputDirError: folder not writable.
    """
    from tqdm import tqdm

    from common.outputs import image_output

    t0 = time.time()
    target = load_target(path, cfg.size, device)
    h, w = target.shape[-2:]
    frames = 120 if cfg.video else 0
    refine_side = min(cfg.refine_size, max(h, w))
    left = None
    if cfg.refine:  # the painting bar's own ETA covers the painting only: add the refinement's
        left = TimeLeft([cfg.stroke_num, cfg.refine * refine_step_cost(cfg.stroke_num, refine_side)])
    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(
            tqdm(total=cfg.stroke_num, desc=path.name, unit="stroke", disable=not cfg.progress, leave=False)
        )
        refine_bar = refine_left = None

        def refine_tick(step: int) -> None:  # a second bar while refining, estimated from its own steps
            nonlocal refine_bar, refine_left
            if refine_bar is None:
                bar.close()
                refine_bar = stack.enter_context(
                    tqdm(total=cfg.refine, desc=f"{path.name}: refine", unit="step", disable=not cfg.progress,
                         leave=False)
                )  # fmt: skip
                refine_left = TimeLeft([cfg.refine])
            refine_bar.update(step - refine_bar.n)
            refine_bar.set_postfix_str(refine_left.message(0, step / cfg.refine))  # redrawn every step

        res = paint_target(
            target, painter, actor, cfg.stroke_num, cfg.mode, cfg.refine, cfg.refine_size, cfg.per_region,
            frames, _PaintProgress(bar, left), refine_tick, cfg.policy, cfg.ground,
        )  # fmt: skip
    strokes = res["strokes"].cpu()
    if strokes.shape[0] != cfg.stroke_num:
        raise RuntimeError(f"painted {strokes.shape[0]} strokes, expected exactly {cfg.stroke_num}")
    summary = {
        "image": str(path),
        "strokes": int(strokes.shape[0]),
        "canvas": {"height": h, "width": w},
        "mode": cfg.mode,
        "policy": cfg.policy if cfg.mode in (1, 2) else None,
        "ground": res["ground"],
        "regions": res["regions"],
        "refine_steps": cfg.refine,
        "seconds_paint": round(res["seconds_paint"], 3),
        "seconds_refine": round(res["seconds_refine"], 3),
        **{k: float(v) for k, v in res["metrics"].items()},
        "before_refine": res["metrics_before_refine"] if cfg.refine else None,
        "blank_canvas_mse": float(target.pow(2).mean()),
        "device": str(device),
        "seed": cfg.seed,
        "threads": torch.get_num_threads(),
        "config": asdict(cfg),
    }
    with image_output(folder) as out:
        out.image("painting.png", res["canvas"])
        extra = {"mode": cfg.mode, "source": str(path), "painter_calls_per_region": cfg.per_region // 5}
        out.strokes("oil", strokes, h, w, background=res["ground"], extra=extra, svg="painting.svg")
        if cfg.video:
            out.video(res["frames"], fps=10, fmt=cfg.video_format)
        summary["seconds_total"] = round(time.time() - t0, 3)
        out.metrics(summary)
    summary["output_dir"] = str(folder)
    return summary
