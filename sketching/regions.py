"""Regions of interest (ROIs) and MROSS's stroke budget over rounds.

Shape letters: H, W image size; C canvas side. Masks are ``(H, W)`` / ``(C, C)`` boolean numpy arrays
(True inside the region).

- ROI files follow the MROSS release: a full-frame RGBA image of the target's size, transparent outside the
  region (the region keeps its place, so its pixels are canvas coordinates). A file without transparency is
  read as a binary mask (bright = inside).
- :func:`auto_rois` (beyond the original, which needs hand-made masks): the densest clusters of Canny edges.
- :func:`allocate_strokes`: MROSS's ``get_edge_pathnum``: the total budget N is split over the whole image and
  the ROIs in proportion to their edge-pixel counts ``n_k = round(N E_k / sum_j E_j)``; rounding overflow or
  shortfall goes to the whole-image round, so the total stays N.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from common.errors import ImageLoadError, UserError

__all__ = [
    "fit_to_canvas",
    "content_mask",
    "mask_to_canvas",
    "load_roi_mask",
    "find_roi_files",
    "auto_rois",
    "allocate_strokes",
]


def fit_to_canvas(image: torch.Tensor, canvas: int) -> torch.Tensor:
    """Pad to a square with white (centred), then resize to ``canvas`` x ``canvas`` (area interpolation).

    Args:
        image: ``(1, 3, H, W)`` float in [0, 1].
        canvas: output side C in pixels.

    Returns:
        ``(1, 3, C, C)`` float in [0, 1].
    """
    _, _, h, w = image.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    padded = F.pad(image, (left, side - w - left, top, side - h - top), value=1.0)
    if side == canvas:
        return padded
    return F.interpolate(padded, size=(canvas, canvas), mode="area" if side > canvas else "bilinear")


def content_mask(height: int, width: int, canvas: int, margin: int = 3) -> np.ndarray:
    """Where the photo lies on the canvas after :func:`fit_to_canvas`, minus ``margin`` px along padded sides.

    The photo/white-padding border of a non-square photo is a strong artificial edge; edges are only taken
    inside this mask so no stroke is spent on it.

    Returns:
        ``(C, C)`` bool.
    """
    mask = mask_to_canvas(np.ones((height, width), dtype=bool), canvas)
    if height == width:
        return mask
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    return cv2.erode(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE) > 0


def mask_to_canvas(mask: np.ndarray, canvas: int) -> np.ndarray:
    """The padding and resizing of :func:`fit_to_canvas` for a ``(H, W)`` bool mask -> ``(C, C)`` bool."""
    m = torch.from_numpy(mask.astype(np.float32))[None, None]
    h, w = mask.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    m = F.pad(m, (left, side - w - left, top, side - h - top), value=0.0)
    m = F.interpolate(m, size=(canvas, canvas), mode="area" if side > canvas else "nearest")
    return (m[0, 0] >= 0.5).numpy()


def load_roi_mask(path: str | Path, height: int, width: int) -> np.ndarray:
    """Read an ROI file as a ``(H, W)`` bool mask.

    Args:
        path: RGBA image, transparent outside the region (MROSS format), or a black/white mask image.
        height, width: the target image's size; the mask must match it.

    Returns:
        ``(H, W)`` bool, True inside the region.

    Raises:
        ImageLoadError: missing/unreadable file, a mask of another size, or an empty region.
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise ImageLoadError(f"ROI mask not found: {p}")
    try:
        with Image.open(p) as im:
            im.load()
            size = im.size
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                alpha = np.asarray(im.convert("RGBA"))[..., 3]
                mask = alpha >= 128 if alpha.min() < 255 else np.asarray(im.convert("L")) >= 128
            else:
                mask = np.asarray(im.convert("L")) >= 128
    except (UnidentifiedImageError, OSError) as err:
        raise ImageLoadError(f"cannot read ROI mask {p}: {err}") from None
    if size != (width, height):
        raise ImageLoadError(
            f"ROI mask {p} is {size[0]}x{size[1]} but the target is {width}x{height}; "
            "masks must be full-frame images of the target's size"
        )
    if not mask.any():
        raise ImageLoadError(f"ROI mask {p} is empty (fully transparent / black)")
    return mask


def find_roi_files(target: Path, count: int) -> list[Path]:
    """The MROSS release's naming: ROI k of ``scene.png`` is ``scene_roi{k}.png`` (k = 1..count), beside it.

    Raises:
        UserError: a file is missing (the message suggests ``--roi`` or ``--auto_roi``).
    """
    files = []
    for k in range(1, count + 1):
        found = sorted(target.parent.glob(f"{target.stem}_roi{k}.*"))
        if not found:
            raise UserError(
                f"--region_round {count + 1} needs {count} ROI mask(s) for {target.name}: "
                f"{target.stem}_roi{k}.png not found beside it (pass --roi MASK... or --auto_roi)"
            )
        files.append(found[0])
    return files


def auto_rois(
    edges: np.ndarray, count: int, sigma_frac: float = 1 / 14, box_frac: float = 0.2
) -> list[np.ndarray]:
    """Regions chosen automatically: ``count`` clusters of high Canny edge density, strongest first.

    The edge map is blurred (Gaussian, sigma = ``sigma_frac`` x side). Repeatedly: take the density peak,
    keep the pixels within ``box_frac`` x side of it whose density is at least half the peak and that connect
    to it, then suppress that region (grown by the box radius) and look for the next peak.

    Args:
        edges: ``(C, C)`` bool Canny edges of the canvas-sized target.
        count: number of regions wanted.

    Returns:
        Up to ``count`` ``(C, C)`` bool masks (fewer when the image has fewer edge clusters).
    """
    if count <= 0 or not edges.any():
        return []
    h, w = edges.shape
    side = max(h, w)
    density = cv2.GaussianBlur(edges.astype(np.float32), (0, 0), max(1.0, side * sigma_frac))
    radius = max(2, int(round(side * box_frac)))
    masks = []
    live = density.copy()
    for _ in range(count):
        peak = float(live.max())
        if peak <= 1e-6:
            break
        py, px = np.unravel_index(int(live.argmax()), live.shape)
        box = np.zeros_like(edges)
        box[max(0, py - radius) : py + radius + 1, max(0, px - radius) : px + radius + 1] = True
        strong = ((live >= 0.5 * peak) & box).astype(np.uint8)
        _, labels = cv2.connectedComponents(strong, connectivity=8)
        region = labels == labels[py, px]
        if (edges & region).sum() == 0:
            break
        masks.append(region)
        grown = cv2.dilate(region.astype(np.uint8), np.ones((radius, radius), np.uint8)) > 0
        live[grown] = 0.0
    return masks


def allocate_strokes(total: int, edge_counts: list[int]) -> list[int]:
    """MROSS's budget: ``n_k = round(total * E_k / sum E)`` for the whole image (k = 0) and each ROI.

    Every round gets at least one stroke when ``total >= len(edge_counts)``; the rounding difference is
    absorbed by the whole-image round, so ``sum(result) == total`` always.

    Args:
        total: N, the fixed total number of strokes (>= 1).
        edge_counts: ``[E_global, E_roi1, ...]`` edge-pixel counts (>= 0).

    Returns:
        Per-round stroke counts, same length as ``edge_counts``.
    """
    counts = np.asarray(edge_counts, dtype=np.float64)
    if counts.sum() <= 0:
        counts = np.ones_like(counts)
    floor = 1 if total >= len(counts) else 0
    budget = [max(floor, int(round(total * c / counts.sum()))) for c in counts]
    budget[0] += total - sum(budget)
    while budget[0] < floor:  # the whole-image round went too low: take from the largest ROI budget
        j = 1 + int(np.argmax(budget[1:]))
        budget[j] -= 1
        budget[0] += 1
    return budget
