"""Edge maps of the target: MROSS's Canny edges (stroke budgets, farthest-point seeds) and CLIPasso's XDoG.

Shape letters: H, W canvas size. Images here are ``(1, 3, H, W)`` float tensors in [0, 1]; edge maps are
``(H, W)`` boolean numpy arrays (True = edge pixel) or ``(1, 1, H, W)`` float "ink" tensors (1 = line).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

__all__ = ["to_gray_uint8", "canny_edges", "contour_edges", "xdog_edges", "edge_map", "edge_ink"]


def to_gray_uint8(image: torch.Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` in [0, 1] -> ``(H, W)`` uint8 luminance (ITU-R 601, OpenCV's ``COLOR_RGB2GRAY``)."""
    rgb = (image[0].detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def canny_edges(
    image: torch.Tensor, low: int = 20, high: int = 200, mask: np.ndarray | None = None
) -> np.ndarray:
    """MROSS's edge detector (``get_edge_pathnum``): gray, 3x3 box blur, Canny(low=20, high=200).

    Args:
        image: ``(1, 3, H, W)`` float in [0, 1].
        low, high: Canny hysteresis thresholds on the 0..255 scale.
        mask: ``(H, W)`` bool; edges outside it are dropped (e.g. the white padding of a non-square photo
            and its border, see :func:`sketching.regions.content_mask`).

    Returns:
        ``(H, W)`` bool, True on edge pixels (1 px wide).
    """
    gray = cv2.blur(to_gray_uint8(image), (3, 3))
    edges = cv2.Canny(gray, low, high) > 0
    return edges & mask if mask is not None else edges


def contour_edges(
    image: torch.Tensor, sigma: float = 2.0, low: int = 30, high: int = 90, min_length: int = 30
) -> np.ndarray:
    """Major contours only: Canny on a Gaussian-smoothed image, connected edge chains shorter than
    ``min_length`` pixels removed (texture and noise edges go, object outlines stay).

    Args:
        image: ``(1, 3, H, W)`` float in [0, 1].
        sigma: Gaussian smoothing in pixels (2.0 at 224 px).
        low, high: Canny thresholds (0..255 scale).
        min_length: smallest kept 8-connected edge component, in pixels.

    Returns:
        ``(H, W)`` bool, True on contour pixels.
    """
    gray = cv2.GaussianBlur(to_gray_uint8(image), (0, 0), sigma)
    edges = (cv2.Canny(gray, low, high) > 0).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(edges, connectivity=8)
    keep = np.zeros(n, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_length
    return keep[labels]


def xdog_edges(
    image: torch.Tensor,
    sigma: float = 0.8,
    k: float = 10.0,
    gamma: float = 0.98,
    phi: float = 200.0,
    epsilon: float = -0.1,
) -> np.ndarray:
    """eXtended Difference of Gaussians (Winnemoeller et al. 2012) with CLIPasso's settings, Otsu-binarised.

    ``D = G_sigma * I - gamma G_{k sigma} * I`` (normalised by its maximum);
    ``T = 1`` where ``D >= epsilon`` else ``1 + tanh(phi (D - epsilon))``; edges are ``T`` below its Otsu
    threshold.

    Args:
        image: ``(1, 3, H, W)`` float in [0, 1].

    Returns:
        ``(H, W)`` bool, True on (dark, line-like) edge pixels.
    """
    gray = to_gray_uint8(image).astype(np.float64) / 255.0
    g1 = cv2.GaussianBlur(gray, (0, 0), sigma)
    g2 = cv2.GaussianBlur(gray, (0, 0), sigma * k)
    dog = g1 - gamma * g2
    dog = dog / max(float(np.abs(dog).max()), 1e-8)
    tone = np.where(dog >= epsilon, 1.0, 1.0 + np.tanh(phi * (dog - epsilon)))
    tone8 = (tone.clip(0, 1) * 255).astype(np.uint8)
    if tone8.min() == tone8.max():
        return np.zeros_like(tone8, dtype=bool)
    thr, _ = cv2.threshold(tone8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return tone8 < thr


def edge_map(image: torch.Tensor, method: str = "contour", mask: np.ndarray | None = None) -> np.ndarray:
    """Binary edge map by name: ``"canny"`` (MROSS), ``"contour"`` (:func:`contour_edges`) or ``"xdog"``.

    Args:
        image: ``(1, 3, H, W)`` float in [0, 1].
        method: edge detector name.
        mask: ``(H, W)`` bool; edges outside it are dropped.

    Returns:
        ``(H, W)`` bool.

    Raises:
        ValueError: unknown method.
    """
    if method == "canny":
        edges = canny_edges(image)
    elif method == "contour":
        edges = contour_edges(image)
    elif method == "xdog":
        edges = xdog_edges(image)
    else:
        raise ValueError(f"unknown edge method {method!r} (canny, contour, xdog)")
    return edges & mask if mask is not None else edges


def edge_ink(
    image: torch.Tensor, method: str = "contour", width_px: float = 1.5, mask: np.ndarray | None = None
) -> torch.Tensor:
    """The edge-objective target: an anti-aliased line drawing of the target's edges, as ink in [0, 1].

    Edge pixels (:func:`edge_map`) are dilated to about ``width_px`` (the sketch's stroke width) and softened
    by a Gaussian of sigma 0.5 px so that the target looks like lines of the width the strokes can draw.

    Args:
        image: ``(1, 3, H, W)`` float in [0, 1].
        method: ``"contour"``, ``"canny"`` or ``"xdog"``.
        width_px: stroke width in pixels.
        mask: ``(H, W)`` bool; edges outside it are dropped.

    Returns:
        ``(1, 1, H, W)`` float32 ink (1 = line, 0 = paper), on ``image.device``.

    Raises:
        ValueError: unknown method.
    """
    edges = edge_map(image, method, mask)
    ink = edges.astype(np.float32)
    radius = int(round(max(width_px - 1.0, 0.0) / 2.0))
    if radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        ink = cv2.dilate(ink, kernel)
    ink = cv2.GaussianBlur(ink, (0, 0), 0.5)
    return torch.from_numpy(np.ascontiguousarray(ink))[None, None].to(image.device)
