"""Pixel losses: mean absolute (L1) and mean squared (L2) error, optionally restricted to a mask.

With a mask m (B, 1, H, W) in [0, 1] the loss is the mask-weighted mean over the C channels::

    L1_m = sum_{b,c,y,x} m_{b,y,x} |p - t|_{b,c,y,x} / (C * sum m)        (L2_m likewise with (p - t)^2)

An all-zero mask gives 0 (with a zero gradient), not NaN.
"""

from __future__ import annotations

import torch

__all__ = ["l1_loss", "l2_loss"]


def _masked_mean(err: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return err.mean()
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[-2:] != err.shape[-2:]:
        raise ValueError(f"mask must be (B, 1, H, W) matching {tuple(err.shape)}, got {tuple(mask.shape)}")
    mask = mask.to(err.dtype)
    weight = mask.expand_as(err)
    return (err * weight).sum() / weight.sum().clamp_min(torch.finfo(err.dtype).tiny)


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")


def l1_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error.

    Args:
        pred, target: ``(B, C, H, W)``, same shape (any range; images are in [0, 1]).
        mask: optional ``(B, 1, H, W)`` weights in [0, 1]; the mean is taken over the masked pixels.

    Returns:
        Scalar tensor (differentiable in ``pred``).

    Raises:
        ValueError: shape mismatch.
    """
    _check(pred, target)
    return _masked_mean((pred - target).abs(), mask)


def l2_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error; arguments as :func:`l1_loss`."""
    _check(pred, target)
    return _masked_mean((pred - target).square(), mask)
