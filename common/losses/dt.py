"""Differentiable distance transform (DT) and the DT loss of CNP (Hu et al., ACM MM 2023, Eq. 8-10).

For an edge map E (1 on edges) and a K x K window around pixel p (out-of-image counts as "no edge"),
every neighbour q gets a cost ``d_q = ||q - p||`` if q is an edge, ``d_max = (K // 2) * sqrt(2)``
otherwise, and ``DT(p)`` is their soft minimum

    DT(p) = sum_q d_q exp(-d_q / c) / sum_q exp(-d_q / c)        (temperature c = 0.3 px in the paper),

a differentiable, truncated (<= d_max) approximation of the Euclidean distance transform.

Implementation: for a soft edge map E in [0, 1] each neighbour is an edge with weight E_q, so numerator
and denominator are linear in E and become three K x K convolutions (memory O(H W) instead of the
release's ``unfold`` with K^2 values per pixel); for a binary E this is exactly the formula above.

Loss (Eq. 10): ``L_DT = mean_p DT(E_s)(p) * E_gt(p)``: every content edge of E_gt is pulled towards the
nearest rendered stroke edge of E_s (a one-sided Chamfer distance).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _kernels(size: int, temperature: float, dtype, device):
    r = size // 2
    yy, xx = torch.meshgrid(
        torch.arange(-r, r + 1, dtype=torch.float64),
        torch.arange(-r, r + 1, dtype=torch.float64),
        indexing="ij",
    )
    dist = torch.sqrt(xx * xx + yy * yy)
    d_max = r * math.sqrt(2.0)
    # Weights are scaled by exp(d_max / c) so that the no-edge weight is 1 (avoids float32 underflow).
    w = torch.exp((d_max - dist) / temperature)
    k = torch.stack([w, dist * w, torch.ones_like(w)])[:, None]  # (3, 1, K, K)
    return k.to(dtype=dtype, device=device), d_max


def distance_transform(edges: torch.Tensor, kernel_size: int = 31, temperature: float = 0.3) -> torch.Tensor:
    """Soft, truncated Euclidean distance to the nearest edge pixel.

    Args:
        edges: (B, 1, H, W) edge map in [0, 1] (1 = edge), float32/float64.
        kernel_size: window K (odd; an even value is bumped to the next odd number, as in the release).
        temperature: c of the soft minimum, in pixels (smaller = closer to the exact distance).

    Returns:
        (B, 1, H, W) distances in pixels, in [0, d_max] with ``d_max = (K // 2) * sqrt(2)``;
        differentiable in ``edges``.

    Raises:
        ValueError: ``edges`` is not (B, 1, H, W).
    """
    if edges.dim() != 4 or edges.shape[1] != 1:
        raise ValueError(f"edges must be (B, 1, H, W), got {tuple(edges.shape)}")
    size = kernel_size if kernel_size % 2 else kernel_size + 1
    k, d_max = _kernels(size, temperature, edges.dtype, edges.device)
    r = size // 2
    conv = F.conv2d(F.pad(edges, (r, r, r, r)), k)  # (B, 3, H, W): sum E*w, sum E*d*w, sum E
    non_edge = size * size - conv[:, 2:3]  # neighbours that are not edges (padding included), weight 1
    num = conv[:, 1:2] + non_edge * d_max
    den = conv[:, 0:1] + non_edge
    return num / den


class _SignWithSigmoidGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, threshold, slope):
        ctx.save_for_backward(x)
        ctx.threshold, ctx.slope = threshold, slope
        return (x > threshold).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(ctx.slope * (x - ctx.threshold))
        return grad * ctx.slope * s * (1 - s), None, None


def binarize_ste(x: torch.Tensor, threshold: float = 0.2, slope: float = 10.0) -> torch.Tensor:
    """Straight-through binarisation (the release's ``SignWithSigmoidGrad``): forward ``x > threshold``
    as 0/1, backward the derivative of ``sigmoid(slope * (x - threshold))``. Same shape as ``x``."""
    return _SignWithSigmoidGrad.apply(x, threshold, slope)


def dt_loss(
    stroke_edges: torch.Tensor, content_edges: torch.Tensor, kernel_size: int = 31, temperature: float = 0.3
) -> torch.Tensor:
    """L_DT = mean_p DT(E_s)(p) * E_gt(p) (paper Eq. 10), in pixels.

    Args:
        stroke_edges: E_s (B, 1, H, W) in [0, 1], the rendered stroke-edge map (differentiable).
        content_edges: E_gt (B, 1, H, W) in {0, 1}, e.g. :func:`canny_edges` of the content image.

    Returns:
        scalar tensor.
    """
    return (distance_transform(stroke_edges, kernel_size, temperature) * content_edges).mean()


def canny_edges(image: torch.Tensor, blur: int = 7, low: int = 10, high: int = 70) -> torch.Tensor:
    """Canny edges of an image as in the release (Gaussian blur, then Canny with thresholds 10 / 70).

    Args:
        image: (1, 3, H, W) or (1, 1, H, W) in [0, 1].
        blur: odd Gaussian kernel size (7 in the DT demo, 11 in stylization).

    Returns:
        (1, 1, H, W) float {0, 1} edge map on the image's device (not differentiable).
    """
    import cv2

    arr = (image[0].detach().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)
    gray = (
        arr[0]
        if arr.shape[0] == 1
        else cv2.cvtColor(np.ascontiguousarray(arr.transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY)
    )
    gray = cv2.GaussianBlur(gray, (blur, blur), 0)
    edges = cv2.Canny(gray, low, high) > 0
    return torch.from_numpy(edges.astype(np.float32))[None, None].to(device=image.device, dtype=image.dtype)
