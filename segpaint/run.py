"""Per-image driver of segpaint/test.py: load, segment, paint, write every output file.

Outputs per image into ``<save_dir>/<exp_name>/<image stem>/``: ``painting.png`` (final), ``pass_<k>.png``
(canvas after each pass), ``strokes.json`` (format ``bezier13``, canvas coordinates, painting order),
``painting.svg``, ``metrics.json`` and, with ``--video``, ``process.mp4``; with ``--texturize`` also
``painting_texture.png``. Written through ``common.outputs`` (all or nothing per image). The renderer,
the perceptual loss and the segmenter are loaded once per run (:func:`load_models`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common.errors import CheckpointError, WeightsMissingError
from common.image_io import load_image
from common.metrics import image_metrics
from common.outputs import image_output
from common.renderers.bezier13 import render_bezier13
from common.video import ProcessRecorder
from segpaint.config import SegPaintConfig
from segpaint.painter import analytic_alpha, neural_alpha_fn, paint
from segpaint.segmentation import DETR_NAME, DetrSegmenter, load_detr, segment

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
        return None, f"off ({err})"


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


@dataclass
class SegPaintModels:
    """What a run loads once: ``alpha_fn`` (analytic or neural bezier13 coverage), ``perceptual`` (the VGG16
    loss or None) with its note for ``metrics.json``, the ``renderer`` name, and DETR (``detr``, None on
    the offline path, with ``detr_note`` saying why)."""

    alpha_fn: object
    perceptual: object
    perceptual_note: str
    renderer: str
    detr: DetrSegmenter | None = None
    detr_note: str = ""


def load_models(cfg: SegPaintConfig, device: torch.device, renderer: str, log=print) -> SegPaintModels:
    """Load the renderer and the perceptual loss once for a run.

    Raises:
        CheckpointError: ``renderer == "neural"`` and its checkpoint is missing or corrupt.
    """
    alpha_fn = load_neural_renderer(device) if renderer == "neural" else analytic_alpha
    perceptual, note = load_perceptual(cfg, device, log)
    detr, detr_note = None, "masks off in this style"
    if cfg.mask_from_pass is not None:
        try:
            detr = load_detr()
            detr_note = f"{DETR_NAME} loaded"
        except WeightsMissingError as err:
            detr_note = f"{err}; offline path: SLIC regions"
            log(f"note: {detr_note}")
    return SegPaintModels(alpha_fn, perceptual, note, renderer, detr, detr_note)


def paint_file(
    path: Path,
    folder: Path,
    cfg: SegPaintConfig,
    models: SegPaintModels,
    device: torch.device,
    seed: int = 0,
    video: bool = False,
    log=print,
) -> dict:
    """Paint one image file and write its outputs into ``folder``; returns its metrics dict.

    Raises:
        ImageLoadError: unreadable/too small image. OutputDirError: the folder cannot be written.
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
    seg = None
    if cfg.mask_from_pass is not None:
        seg = segment(image.cpu(), cfg.max_regions, models.detr, models.detr_note, log=log)
    recorder = ProcessRecorder(max_frames=120) if video else None
    result = paint(image, cfg, models.alpha_fn, seg, models.perceptual, seed=seed, recorder=recorder, log=log)

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
        "renderer": models.renderer,
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
        "perceptual": models.perceptual_note,
        "device": str(device),
        "seed": seed,
        "config": cfg.to_dict(),
    }
    extra = {
        "strokes_per_pass": result.pass_counts,
        "style": cfg.style,
        "note": "painting.png pastes windows with cross-faded overlaps; rendering these "
        "strokes in order gives strokes_rerender in metrics.json",
    }
    with image_output(folder, log=log) as out:
        out.image("painting.png", result.canvas)
        for k, c in enumerate(result.pass_canvases):
            out.image(f"pass_{k}.png", c.clamp(0, 1))
        out.strokes("bezier13", result.strokes, H, W, background=bg, extra=extra, svg="painting.svg")
        if cfg.texturize:
            out.image("painting_texture.png", texturize(result.canvas.cpu(), seed))
        if recorder is not None:
            recorder.add(result.canvas)
            out.video(recorder, fps=12)
        out.metrics(metrics)
    log(
        f"{path.name}: {metrics['strokes']} strokes, L1 {metrics['l1']:.4f}, PSNR {metrics['psnr']:.2f} dB, "
        f"SSIM {metrics['ssim']:.3f}, {metrics['seconds']:.0f} s -> {folder}"
    )
    return metrics


__all__ = [
    "paint_file",
    "load_models",
    "SegPaintModels",
    "load_neural_renderer",
    "texturize",
    "CheckpointError",
]
