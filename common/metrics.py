"""Image quality metrics: L1, MSE, PSNR, SSIM, on images in [0, 1].

Inputs are ``(B, C, H, W)`` or ``(C, H, W)`` tensors (C = 3 RGB or 1 gray), values in [0, 1]; each metric
returns a Python float, averaged over the batch. PSNR uses data range 1: ``10 log10(1 / MSE)`` (inf when the
images are equal). SSIM is scikit-image's ``structural_similarity`` (Wang et al. 2004, Gaussian-free 7x7
window, ``data_range=1``, ``channel_axis`` for colour), computed per image then averaged.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["l1", "mse", "psnr", "ssim", "image_metrics"]


def _pair(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    p = pred.detach().float()
    t = target.detach().float().to(p.device)
    if p.dim() == 3:
        p = p[None]
    if t.dim() == 3:
        t = t[None]
    if p.dim() != 4 or p.shape != t.shape:
        raise ValueError(
            f"metrics need two images of the same shape (B, C, H, W), got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}"
        )
    return p, t


def l1(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean absolute error over all pixels and channels (0 = identical, 1 = worst).

    Raises:
        ValueError: shapes differ or are not ``(B, C, H, W)`` / ``(C, H, W)``.
    """
    p, t = _pair(pred, target)
    return float((p - t).abs().mean())


def mse(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean squared error over all pixels and channels. Raises ValueError like :func:`l1`."""
    p, t = _pair(pred, target)
    return float((p - t).square().mean())


def psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB with data range 1, averaged over the batch (per-image MSE).

    Returns ``inf`` for identical images. Raises ValueError like :func:`l1`.
    """
    p, t = _pair(pred, target)
    per_image = (p - t).square().flatten(1).mean(1).double().cpu().tolist()
    values = [math.inf if m == 0 else 10.0 * math.log10(1.0 / m) for m in per_image]
    return float(sum(values) / len(values))


def ssim(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Structural similarity (scikit-image, data range 1), averaged over the batch; 1 = identical.

    Images smaller than 7 px use the largest odd window that fits (minimum 3). Raises ValueError like
    :func:`l1` (and for images under 3 px).
    """
    from skimage.metrics import structural_similarity

    p, t = _pair(pred, target)
    side = min(p.shape[-2:])
    win = 7 if side >= 7 else (side if side % 2 else side - 1)
    if win < 3:
        raise ValueError(f"ssim needs images of at least 3x3 pixels, got {tuple(p.shape[-2:])}")
    pn = p.clamp(0, 1).cpu().numpy().astype(np.float64)
    tn = t.clamp(0, 1).cpu().numpy().astype(np.float64)
    scores = []
    for a, b in zip(pn, tn, strict=True):
        if a.shape[0] == 1:
            scores.append(structural_similarity(a[0], b[0], data_range=1.0, win_size=win))
        else:
            scores.append(
                structural_similarity(
                    a.transpose(1, 2, 0), b.transpose(1, 2, 0), data_range=1.0, channel_axis=-1, win_size=win
                )
            )
    return float(np.mean(scores))


def image_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """All four metrics ``{"l1", "mse", "psnr", "ssim"}`` (floats; psnr in dB). Raises ValueError like l1."""
    return {
        "l1": l1(pred, target),
        "mse": mse(pred, target),
        "psnr": psnr(pred, target),
        "ssim": ssim(pred, target),
    }
