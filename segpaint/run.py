"""Per-image driver of segpaint/test.py: load, segment, paint, write every output file.

Outputs per image into ``<save_dir>/<exp_name>/<image stem>/``: ``painting.png`` (final), ``pass_<k>.png``
(canvas after each pass), ``strokes.json`` (format ``bezier13``, canvas coordinates, painting order),
``painting.svg``, ``metrics.json`` and, with ``--video``, ``process.mp4`` / ``process.gif``; with
``--texturize`` also ``painting_texture.png``. Everything is written to a temporary folder first and
renamed at the end, so a failure leaves no half-written result.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from common.errors import CheckpointError, WeightsMissingError
from common.image_io import load_image, save_image, save_json, save_strokes
from common.metrics import image_metrics
from common.renderers.bezier13 import render_bezier13
from common.svg import strokes_to_svg, write_svg
from common.video import ProcessRecorder
from segpaint.config import SegPaintConfig
from segpaint.painter import analytic_alpha, neural_alpha_fn, paint
from segpaint.segmentation import segment

RENDERER_CHECKPOINT = "segpaint_renderer_bezier13.pt"


def load_neural_renderer(device: torch.device, path: str | None = None):
    """The shipped neural bezier13 renderer (``checkpoints/segpaint_renderer_bezier13.pt``) as an alpha
    function. Raises CheckpointError (one line) when missing or corrupt."""
    from common.checkpoint import default_checkpoint, load_checkpoint, load_model_state
    from common.renderers.neural import FCNRenderer

    ckpt = load_checkpoint(path or default_checkpoint(RENDERER_CHECKPOINT))
    model = FCNRenderer.from_config(ckpt["config"])
    load_model_state(model, ckpt["model"])
    model.to(device).eval().requires_grad_(False)
    return neural_alpha_fn(model)


def load_perceptual(cfg: SegPaintConfig, device: torch.device, log=print):
    """VGG16 perceptual loss (cosine distance over the release's layers) or None with a logged note."""
    if cfg.w_perc <= 0:
        return None, "off (w_perc = 0)"
    try:
        from common.losses.perceptual import VGG16PerceptualLoss

        loss = VGG16PerceptualLoss(
            layers=("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"), distance="cosine"
        ).to(device)
        return loss, "on"
    except WeightsMissingError as err:
        log(f"note: perceptual term off: {err}")
        return None, f"off (VGG16 weights missing: {err})"


def texturize(image: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Procedural bristle texture (our own, no brush images): horizontal streaks of blurred noise modulate the
    luminance by about +-6%. (1, 3, H, W) -> (1, 3, H, W) in [0, 1]."""
    import cv2

    H, W = image.shape[-2:]
    noise = np.random.default_rng(seed).standard_normal((H, W)).astype(np.float32)
    streak = cv2.GaussianBlur(noise, (0, 0), sigmaX=4.0, sigmaY=0.7)
    streak = streak / (streak.std() + 1e-6)
    mod = torch.from_numpy(1 + 0.06 * streak).to(image)
    return (image * mod).clamp(0, 1)


def paint_file(
    path: Path,
    out_root: Path,
    cfg: SegPaintConfig,
    device: torch.device,
    renderer: str,
    seed: int = 0,
    video: bool = False,
    log=print,
) -> dict:
    """Paint one image file and write its outputs; returns its metrics dict.

    Raises:
        ImageLoadError: unreadable/too small image; CheckpointError: neural renderer checkpoint missing.
    """
    t0 = time.time()
    image = load_image(path)
    H0, W0 = image.shape[-2:]
    if max(H0, W0) > cfg.max_side:
        image = load_image(path, max_side=cfg.max_side)
        log(
            f"{path.name}: {W0}x{H0} downscaled to {image.shape[-1]}x{image.shape[-2]} "
            f"(--max_side {cfg.max_side})"
        )
    image = image.to(device)
    H, W = image.shape[-2:]
    alpha_fn = load_neural_renderer(device) if renderer == "neural" else analytic_alpha
    perceptual, perc_note = load_perceptual(cfg, device, log)
    seg = None
    if cfg.mask_from_pass is not None:
        seg = segment(image.cpu(), cfg.max_regions, log=log)
    recorder = ProcessRecorder(max_frames=120) if video else None
    result = paint(image, cfg, alpha_fn, seg, perceptual, seed=seed, recorder=recorder, log=log)

    bg = [1.0, 1.0, 1.0] if cfg.canvas_color == "white" else [0.0, 0.0, 0.0]
    with torch.no_grad():
        rerender = render_bezier13(
            result.strokes[None].to(device),
            torch.tensor(bg, device=device).view(1, 3, 1, 1).expand(1, 3, H, W).contiguous(),
        )
    metrics = {
        "image": str(path),
        "size": [H, W],
        "original_size": [H0, W0],
        "style": cfg.style,
        "renderer": renderer,
        "strokes": int(result.strokes.shape[0]),
        "strokes_per_pass": result.pass_counts,
        "windows_per_pass": result.info.get("windows_per_pass"),
        "seconds": round(time.time() - t0, 2),
        **image_metrics(result.canvas, image),
        "strokes_rerender": {k: v for k, v in image_metrics(rerender.clamp(0, 1), image).items()},
        "blank_canvas_l1": (torch.tensor(bg, device=device).view(1, 3, 1, 1) - image).abs().mean().item(),
        "segmenter": None if seg is None else seg.method,
        "segmenter_note": None if seg is None else seg.note,
        "regions": None if seg is None else seg.names,
        "perceptual": perc_note,
        "device": str(device),
        "seed": seed,
        "config": cfg.to_dict(),
    }
    final = out_root / path.stem
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", dir=out_root))
    tmp.chmod(0o755)
    try:
        save_image(result.canvas, tmp / "painting.png")
        for k, c in enumerate(result.pass_canvases):
            save_image(c.clamp(0, 1), tmp / f"pass_{k}.png")
        save_strokes(
            tmp / "strokes.json",
            "bezier13",
            result.strokes,
            H,
            W,
            background=bg,
            extra={
                "strokes_per_pass": result.pass_counts,
                "style": cfg.style,
                "note": "painting.png pastes windows with cross-faded overlaps; rendering these "
                "strokes in order gives strokes_rerender in metrics.json",
            },
        )
        write_svg(tmp / "painting.svg", strokes_to_svg("bezier13", result.strokes, H, W, background=bg))
        if cfg.texturize:
            save_image(texturize(result.canvas.cpu(), seed), tmp / "painting_texture.png")
        if recorder is not None:
            recorder.add(result.canvas)
            try:
                recorder.save(tmp / "process.mp4", fps=12)
            except Exception as err:  # noqa: BLE001 - no ffmpeg: fall back to GIF
                log(f"note: MP4 writer unavailable ({err}); writing GIF")
                recorder.save(tmp / "process.gif", fps=12)
        save_json(metrics, tmp / "metrics.json")
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log(
        f"{path.name}: {metrics['strokes']} strokes, L1 {metrics['l1']:.4f}, PSNR {metrics['psnr']:.2f} dB, "
        f"SSIM {metrics['ssim']:.3f}, {metrics['seconds']:.0f} s -> {final}"
    )
    return metrics


__all__ = ["paint_file", "load_neural_renderer", "texturize", "CheckpointError"]
