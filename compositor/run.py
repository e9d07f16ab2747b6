"""One image through the CNP pipeline and its outputs (used by ``compositor/test.py`` and the benchmark)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from common.image_io import load_image, save_image, save_json, save_strokes
from common.metrics import image_metrics
from common.renderers.oil import render_oil
from compositor.paint import paint_image, refine_strokes


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
) -> dict:
    """Paint a (1, 3, H, W) target; returns strokes, canvas, frames, timings and metrics (with refinement)."""
    res = paint_image(target, painter, actor, stroke_num, mode, per_region, frames, progress)
    out = {
        "strokes": res.strokes,
        "canvas": res.canvas,
        "frames": res.frames,
        "seconds_paint": res.seconds,
        "regions": len(res.regions),
    }
    out["metrics_before_refine"] = image_metrics(res.canvas, target)
    start = time.time()
    if refine > 0:
        out["strokes"] = refine_strokes(res.strokes, target, refine, size=refine_size)
        with torch.no_grad():
            out["canvas"] = render_oil(out["strokes"][None], torch.zeros_like(target)).clamp(0, 1)
        if frames:
            out["frames"].append((out["canvas"][0].permute(1, 2, 0) * 255).round().byte().cpu().numpy())
    out["seconds_refine"] = time.time() - start
    out["metrics"] = image_metrics(out["canvas"], target)
    return out


def paint_file(path: Path, out_root: Path, painter, actor, args, device) -> dict:
    """Paint one image file and write its outputs into ``out_root/<stem>/`` (all or nothing: written to a
    hidden temporary folder, then renamed)."""
    from tqdm import tqdm

    from common.svg import strokes_to_svg, write_svg
    from common.video import save_video

    t0 = time.time()
    target = load_target(path, args.size, device)
    h, w = target.shape[-2:]
    frames = 120 if args.video else 0
    with tqdm(
        total=args.stroke_num, desc=path.name, unit="stroke", disable=args.no_progress, leave=False
    ) as bar:
        res = paint_target(
            target,
            painter,
            actor,
            args.stroke_num,
            args.mode,
            args.refine,
            args.refine_size,
            args.per_region,
            frames,
            bar,
        )
    strokes = res["strokes"].cpu()
    assert strokes.shape[0] == args.stroke_num, (strokes.shape, args.stroke_num)
    final_dir = out_root / path.stem
    tmp = out_root / f".{path.stem}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        save_image(res["canvas"].cpu(), tmp / "painting.png")
        extra = {"mode": args.mode, "source": str(path), "painter_calls_per_region": args.per_region // 5}
        save_strokes(tmp / "strokes.json", "oil", strokes, h, w, background=[0.0, 0.0, 0.0], extra=extra)
        write_svg(tmp / "painting.svg", strokes_to_svg("oil", strokes, h, w, background=[0.0, 0.0, 0.0]))
        if args.video:
            save_video(res["frames"], tmp / f"process.{args.video_format}", fps=10)
        summary = {
            "image": str(path),
            "strokes": int(strokes.shape[0]),
            "canvas": {"height": h, "width": w},
            "mode": args.mode,
            "regions": res["regions"],
            "refine_steps": args.refine,
            "seconds_paint": round(res["seconds_paint"], 3),
            "seconds_refine": round(res["seconds_refine"], 3),
            "seconds_total": round(time.time() - t0, 3),
            **{k: float(v) for k, v in res["metrics"].items()},
            "before_refine": res["metrics_before_refine"] if args.refine else None,
            "blank_canvas_mse": float(target.pow(2).mean()),
            "device": str(device),
            "seed": args.seed,
            "threads": torch.get_num_threads(),
        }
        save_json(summary, tmp / "metrics.json")
        if final_dir.exists():
            shutil.rmtree(final_dir)
        tmp.rename(final_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    summary["output_dir"] = str(final_dir)
    return summary
