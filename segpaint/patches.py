"""Windows ("patches") on the canvas: the uniform grid, error-driven attention windows, cropping and pasting.

Shape letters: B windows, H, W canvas size, h, w window size. A window is a box ``(top, left, h, w)`` in
integer pixels. Windows are 128 px (the renderer's patch) with a 20-px overlap, as in the release
(``get_patches_w_overlap``); smaller images use windows of the image's size.
"""

from __future__ import annotations

import math

import torch

from common.compositing import composite_over_region


def grid_starts(size: int, patch: int, overlap: int) -> list[int]:
    """Window start offsets along one side so that windows of ``patch`` px cover ``[0, size)`` and neighbours
    overlap by at least ``overlap`` px (departure: the release instead resizes the image to 108 n + 20 px)."""
    if size <= patch:
        return [0]
    n = math.ceil((size - overlap) / (patch - overlap))
    return [round(i * (size - patch) / (n - 1)) for i in range(n)]


def uniform_windows(
    height: int, width: int, patch: int = 128, overlap: int = 20
) -> list[tuple[int, int, int, int]]:
    """Row-major uniform grid of windows ``(top, left, h, w)`` covering an H x W canvas."""
    h, w = min(patch, height), min(patch, width)
    return [(t, l, h, w) for t in grid_starts(height, h, overlap) for l in grid_starts(width, w, overlap)]


def crop(image: torch.Tensor, windows) -> torch.Tensor:
    """``image (1, C, H, W)`` -> ``(B, C, h, w)`` crops of the (equal-sized) windows."""
    return torch.cat([image[:, :, t : t + h, l : l + w] for t, l, h, w in windows], dim=0)


def _ramp(n: int, overlap: int, lo_open: bool, hi_open: bool, ref: torch.Tensor) -> torch.Tensor:
    """(n,) weights rising linearly over ``overlap`` px at the open ends (ends on the image border stay 1)."""
    i = torch.arange(n, dtype=ref.dtype, device=ref.device)
    w = torch.ones(n, dtype=ref.dtype, device=ref.device)
    if overlap > 0:
        if lo_open:
            w = torch.minimum(w, (i + 0.5) / overlap)
        if hi_open:
            w = torch.minimum(w, (n - i - 0.5) / overlap)
    return w


def window_weight(window, height: int, width: int, overlap: int, ref: torch.Tensor) -> torch.Tensor:
    """(1, 1, h, w) blending weight of a window: 1 inside, a linear ramp over the overlap on sides that are
    not on the image border."""
    t, l, h, w = window
    wy = _ramp(h, overlap, t > 0, t + h < height, ref)
    wx = _ramp(w, overlap, l > 0, l + w < width, ref)
    return (wy[:, None] * wx[None, :])[None, None]


def paste_blend(canvas: torch.Tensor, patches: torch.Tensor, windows, overlap: int) -> torch.Tensor:
    """Paste painted windows of one uniform pass, cross-fading linearly in their overlaps.

    Each pixel becomes the weighted mean of the windows that cover it (weights from :func:`window_weight`):
    in a 20-px overlap between two windows this is the release's linear cross-fade. Differentiable.

    Args:
        canvas: (1, 3, H, W); patches: (B, 3, h, w) painted windows; windows: B boxes.
    Returns:
        (1, 3, H, W) new canvas (pixels no window covers are kept).
    """
    H, W = canvas.shape[-2:]
    acc = torch.zeros_like(canvas)
    wsum = torch.zeros_like(canvas[:, :1])
    for k, (t, l, h, w) in enumerate(windows):
        wt = window_weight((t, l, h, w), H, W, overlap, canvas)
        acc[:, :, t : t + h, l : l + w] = acc[:, :, t : t + h, l : l + w] + patches[k : k + 1] * wt
        wsum[:, :, t : t + h, l : l + w] = wsum[:, :, t : t + h, l : l + w] + wt
    covered = wsum > 0
    return torch.where(covered, acc / wsum.clamp_min(1e-8), canvas)


def paste_window(canvas: torch.Tensor, patch: torch.Tensor, window, overlap: int) -> torch.Tensor:
    """Paste one attention window over the canvas: its inner part as is, a linear ramp over the ``overlap``
    px border blended into the existing canvas (the release's selective pasting): "over" with the window
    weight as alpha (``common.compositing.composite_over_region``). (1,3,H,W) -> (1,3,H,W)."""
    H, W = canvas.shape[-2:]
    t, l, h, w = window
    wt = window_weight(window, H, W, overlap, canvas)
    return composite_over_region(canvas, patch, wt.expand(patch.shape[0], 1, h, w), t, l)


def attention_windows(
    canvas: torch.Tensor,
    target: torch.Tensor,
    n_propose: int,
    keep: int,
    patch: int,
    generator: torch.Generator,
    mask: torch.Tensor | None = None,
    min_gap: int = 50,
    attempts: int = 500,
) -> list[tuple[int, int, int, int]]:
    """Error-driven attention windows (the paper's dynamic attention maps, release ``get_natural_patches``).

    Proposes up to ``n_propose`` random windows (a window's top-left may not lie within ``min_gap`` px of an
    earlier one in both x and y; with a mask, its centre must lie inside the mask, and the mask under it is
    then cleared so the next proposals spread out), scores each by the mean L1 error between canvas and
    target inside it, and keeps the ``keep`` highest.

    Args:
        canvas, target: (1, 3, H, W) in [0, 1]; mask: optional (H, W) bool.
        generator: CPU torch generator (reproducible proposals).
    Returns:
        Up to ``keep`` windows ``(top, left, h, w)``, highest error first.
    """
    H, W = canvas.shape[-2:]
    h, w = min(patch, H), min(patch, W)
    free = None if mask is None else mask.clone()
    gap = max(1, round(min_gap * min(h, w) / 128))
    found: list[tuple[int, int, int, int]] = []
    for _ in range(attempts):
        if len(found) >= n_propose:
            break
        if free is not None:
            idx = free.view(-1).nonzero()
            if idx.numel() == 0:
                break
            pick = int(idx[torch.randint(idx.numel(), (1,), generator=generator)].item())
            cy, cx = divmod(pick, W)
            t, l = min(max(cy - h // 2, 0), H - h), min(max(cx - w // 2, 0), W - w)
        else:
            t = int(torch.randint(H - h + 1, (1,), generator=generator))
            l = int(torch.randint(W - w + 1, (1,), generator=generator))
        if any(abs(t - t2) < gap and abs(l - l2) < gap for t2, l2, _, _ in found):
            if free is not None:
                free[max(cy - 2, 0) : cy + 3, max(cx - 2, 0) : cx + 3] = False
            continue
        found.append((t, l, h, w))
        if free is not None:
            free[t : t + h, l : l + w] = False
    if not found:
        return []
    err = torch.stack(
        [
            (canvas[..., t : t + h, l : l + w] - target[..., t : t + h, l : l + w]).abs().mean()
            for t, l, h, w in found
        ]
    )
    order = torch.argsort(err, descending=True)[:keep]
    return [found[i] for i in order.tolist()]
