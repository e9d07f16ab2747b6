"""Alpha "over" compositing of strokes onto a canvas, sequential and parallel forms.

Shape letters: B batch, N strokes, H, W canvas size.

Painting N strokes in order onto a canvas C_0 with the "over" operator (Porter & Duff 1984)::

    C_i = C_{i-1} * (1 - a_i) + c_i * a_i                                   (sequential)

unrolls to the parallel (cumulative-product) form used for batched rendering::

    C_N = C_0 * prod_{j=1..N} (1 - a_j) + sum_i c_i * a_i * prod_{j=i+1..N} (1 - a_j)

Both give the same image up to float rounding (tested within 1e-5). The parallel form holds N x H x W values
at once: use it on patches, and the sequential form (or per-stroke bounding boxes, see
:func:`composite_over_region`) on large canvases.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.autograd.function import once_differentiable
from torch.utils.checkpoint import checkpoint

from common import native

__all__ = [
    "composite_over",
    "composite_sequential",
    "composite_parallel",
    "composite_over_region",
    "box_layers",
    "composite_entries",
    "patch_entries",
    "composite_patches",
    "composite_in_segments",
]


def _color_map(color: torch.Tensor, ndim_image: int) -> torch.Tensor:
    """Broadcast a per-stroke colour (..., 3) to (..., 3, 1, 1); leave image-shaped colours alone."""
    if color.dim() == ndim_image - 2:
        return color[..., None, None]
    return color


def composite_over(canvas: torch.Tensor, color: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """One "over" step: ``canvas * (1 - alpha) + color * alpha``.

    Args:
        canvas: ``(B, C, H, W)`` float in [0, 1] (C = 3 usually).
        color: ``(B, C, H, W)`` or per-image ``(B, C)``, in [0, 1].
        alpha: ``(B, 1, H, W)`` coverage in [0, 1].

    Returns:
        ``(B, C, H, W)``, a new tensor (differentiable in all three inputs).

    Raises:
        ValueError: ranks/shapes that do not broadcast as above.
    """
    if canvas.dim() != 4 or alpha.dim() != 4 or alpha.shape[1] != 1:
        raise ValueError(
            f"composite_over expects canvas (B, C, H, W) and alpha (B, 1, H, W), "
            f"got {tuple(canvas.shape)} and {tuple(alpha.shape)}"
        )
    if color.dim() not in (2, 4):
        raise ValueError(f"color must be (B, C) or (B, C, H, W), got {tuple(color.shape)}")
    color = _color_map(color, 4)
    return canvas * (1.0 - alpha) + color * alpha


def _check_stack(
    canvas: torch.Tensor, colors: torch.Tensor, alphas: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    if canvas.dim() != 4:
        raise ValueError(f"canvas must be (B, C, H, W), got {tuple(canvas.shape)}")
    if alphas.dim() == 4:  # (B, N, H, W) as returned by the <name>_alpha functions
        alphas = alphas.unsqueeze(2)
    if alphas.dim() != 5 or alphas.shape[2] != 1:
        raise ValueError(f"alphas must be (B, N, 1, H, W) or (B, N, H, W), got {tuple(alphas.shape)}")
    if colors.dim() == 3:
        colors = colors[..., None, None]  # (B, N, C, 1, 1)
    if colors.dim() != 5 or colors.shape[1] != alphas.shape[1]:
        raise ValueError(
            f"colors must be (B, N, C) or (B, N, C, H, W) with N={alphas.shape[1]}, got {tuple(colors.shape)}"
        )
    return colors, alphas


def composite_sequential(canvas: torch.Tensor, colors: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """Composite N strokes in order, one "over" step per stroke (stroke 0 is painted first).

    Args:
        canvas: ``(B, C, H, W)`` in [0, 1].
        colors: ``(B, N, C)`` flat colours or ``(B, N, C, H, W)`` colour maps, in [0, 1].
        alphas: ``(B, N, 1, H, W)`` or ``(B, N, H, W)`` coverage in [0, 1].

    Returns:
        ``(B, C, H, W)`` painted canvas.

    Raises:
        ValueError: inconsistent shapes.
    """
    colors, alphas = _check_stack(canvas, colors, alphas)
    out = canvas
    # strokes unbound once and one lerp per stroke: out + a (c - out); per-index selects cost ~10x more
    # in CPU autograd (segpaint's measurement)
    for c, a in zip(colors.unbind(1), alphas.unbind(1), strict=True):
        out = torch.lerp(out, c.expand_as(out) if c.shape != out.shape else c, a)
    return out


def composite_parallel(canvas: torch.Tensor, colors: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """Same image as :func:`composite_sequential` (within 1e-5), computed with a cumulative product.

    ``C_N = C_0 * T_0 + sum_i c_i * a_i * T_i`` with ``T_i = prod_{j>i} (1 - a_j)`` (transmittance of the
    strokes painted after stroke i). Holds ``(B, N, C, H, W)`` values: use on patches.

    Args / Returns / Raises: as :func:`composite_sequential`.
    """
    flat = colors.dim() == 3
    colors, alphas = _check_stack(canvas, colors, alphas)
    keep = 1.0 - alphas  # (B, N, 1, H, W)
    # inclusive suffix product prod_{j>=i} (1 - a_j), then shift to the exclusive one prod_{j>i}
    suffix = torch.flip(torch.cumprod(torch.flip(keep, dims=[1]), dim=1), dims=[1])
    ones = torch.ones_like(keep[:, :1])
    after = torch.cat([suffix[:, 1:], ones], dim=1)  # T_i, (B, N, 1, H, W)
    if flat:  # per-stroke colours: contract over N without a (B, N, C, H, W) product (about 2x faster)
        painted = torch.einsum("bnc,bnhw->bchw", colors[..., 0, 0], (alphas * after)[:, :, 0])
    else:
        painted = (colors * alphas * after).sum(dim=1)  # (B, C, H, W)
    return canvas * suffix[:, 0] + painted


def composite_over_region(
    canvas: torch.Tensor,
    color: torch.Tensor,
    alpha: torch.Tensor,
    top: int,
    left: int,
    inplace: bool = False,
) -> torch.Tensor:
    """Composite one stroke patch onto the window ``[top:top+h, left:left+w]`` of a large canvas.

    Used by renderers that draw each stroke only inside its bounding box, so memory per stroke is O(h * w),
    not O(H * W). The window is clipped to the canvas. Differentiable in canvas, color and alpha: autograd
    keeps only patch-sized tensors per call (the old window is copied before it is overwritten).

    Typical loop (one canvas copy, then in-place updates)::

        out = canvas.clone()
        for each stroke: out = composite_over_region(out, color_i, alpha_i, top_i, left_i, inplace=True)

    Args:
        canvas: ``(B, C, H, W)`` in [0, 1].
        color: ``(B, C)`` or ``(B, C, h, w)`` in [0, 1].
        alpha: ``(B, 1, h, w)`` coverage in [0, 1].
        top, left: pixel position of the patch's top-left corner on the canvas (may be negative).
        inplace: write into ``canvas`` (it must not be a leaf that requires grad); otherwise a copy is made
            (O(H * W) per call).

    Returns:
        ``(B, C, H, W)`` (``canvas`` itself when ``inplace``).
    """
    _, _, H, W = canvas.shape
    h, w = alpha.shape[-2:]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, H), min(left + w, W)
    if y1 <= y0 or x1 <= x0:
        return canvas
    a = alpha[..., y0 - top : y1 - top, x0 - left : x1 - left]
    c = color[..., y0 - top : y1 - top, x0 - left : x1 - left] if color.dim() == 4 else color
    out = canvas if inplace else canvas.clone()
    window = out[..., y0:y1, x0:x1].clone()  # own copy: autograd must not keep the whole canvas alive
    out[..., y0:y1, x0:x1] = composite_over(window, c, a)
    return out


# ----------------------------------------------------------------------------------------------------------
# Box-over compositing: every stroke covers only its box; cost proportional to the sum of the boxes' areas.
#
# Shape letters here: M strokes (all images of the batch together, in painting order), E entries (one per
# (stroke, covered pixel) pair), P = B * H * W canvas pixels, L depth layers.


def box_layers(boxes: torch.Tensor, batch: int, height: int, width: int) -> torch.Tensor:
    """Depth layer of every stroke box: the smallest layering in which no two boxes of one layer share a
    pixel and every stroke lies in a later layer than every earlier stroke whose box it meets.

    ``layer_i = 1 + max(layer_j : j < i, box_j meets box_i)`` (0 when it meets none), computed with a depth
    map of the canvas (work proportional to the sum of box areas, one small numpy step per stroke).
    Compositing the layers one after the other, each layer's strokes all at once, is then exactly
    sequential "over" in stroke order.

    Args:
        boxes: ``(M, 5)`` long ``(image, y0, x0, y1, x1)``, half-open pixel ranges, strokes in painting
            order (clipped to the canvas here; empty boxes get layer 0).
        batch, height, width: canvas size B, H, W.

    Returns:
        ``(M,)`` long layer per stroke, on ``boxes.device``.
    """
    b = boxes.detach().cpu().numpy()
    depth = np.zeros((batch, height, width), dtype=np.int32)  # layers used so far + 1, per pixel
    out = np.zeros(len(b), dtype=np.int64)
    for i, (im, y0, x0, y1, x1) in enumerate(b.tolist()):
        y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, height), min(x1, width)
        if y1 <= y0 or x1 <= x0:
            continue
        region = depth[im, y0:y1, x0:x1]
        layer = int(region.max())
        out[i] = layer
        region[...] = layer + 1
    return torch.from_numpy(out).to(boxes.device)


class _OverEntries(torch.autograd.Function):
    """Sequential "over" of layered entries on a channel-last flat canvas, saving only what backward needs.

    Forward, layer by layer (pixels unique inside a layer): ``old = C[pix]``, ``C[pix] = old + a (c - old)``
    in place on one copy of the canvas; ``old`` is kept, ``E x C`` values. Backward runs the layers in
    reverse: ``g = G[pix]``, ``G[pix] = g (1 - a)``; then, for all entries at once,
    ``dL/da = sum_C g (c - old)`` and ``dL/dc = g a`` (summed per stroke for flat colours).
    """

    @staticmethod
    def forward(ctx, canvas, alpha, color, stroke, pix, offsets, perm):
        if perm is not None:  # entries into layer order (alpha, per-entry colours; pix/stroke come ordered)
            alpha = alpha.index_select(0, perm)
            if stroke is None:
                color = color.index_select(0, perm)
        out = canvas.clone()
        c_e = color if stroke is None else color.index_select(0, stroke)  # (E, C)
        a_e = alpha[:, None]  # (E, 1)
        old = torch.empty_like(c_e)
        for lo, hi in zip(offsets[:-1], offsets[1:], strict=True):
            idx = pix[lo:hi]
            o = old[lo:hi]
            torch.index_select(out, 0, idx, out=o)
            out.index_copy_(0, idx, torch.lerp(o, c_e[lo:hi], a_e[lo:hi]))
        ctx.save_for_backward(alpha, c_e, stroke, pix, old, perm)
        ctx.offsets = offsets
        ctx.num_colors = color.shape[0]
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        alpha, c_e, stroke, pix, old, perm = ctx.saved_tensors
        offsets = ctx.offsets
        g = grad_out.contiguous().clone()
        keep = (1.0 - alpha)[:, None]  # (E, 1)
        g_e = torch.empty_like(old)  # gradient of the output of each entry's "over" step, (E, C)
        for lo, hi in zip(reversed(offsets[:-1]), reversed(offsets[1:]), strict=True):
            idx = pix[lo:hi]
            ge = g_e[lo:hi]
            torch.index_select(g, 0, idx, out=ge)
            g.index_copy_(0, idx, ge * keep[lo:hi])
        grad_alpha = grad_color = None
        if ctx.needs_input_grad[1]:
            grad_alpha = ((c_e - old) * g_e).sum(1)
            if perm is not None:
                grad_alpha = torch.empty_like(grad_alpha).index_copy_(0, perm, grad_alpha)
        if ctx.needs_input_grad[2]:
            g_e.mul_(alpha[:, None])
            if stroke is not None:
                grad_color = g_e.new_zeros(ctx.num_colors, g_e.shape[1]).index_add_(0, stroke, g_e)
            elif perm is not None:
                grad_color = torch.empty_like(g_e).index_copy_(0, perm, g_e)
            else:
                grad_color = g_e
        return g, grad_alpha, grad_color, None, None, None, None


class _OverEntriesNative(torch.autograd.Function):
    """:class:`_OverEntries` as one C loop (``common.native``) on the ``(B, C, H, W)`` canvas itself: entries
    in an order that paints each pixel's strokes in stroke order are painted one after the other
    (``C[p] = lerp(C[p], c, a)``, exactly sequential "over"), and backward replays them in reverse. No layers
    and no channel-last copy are needed."""

    @staticmethod
    def forward(ctx, canvas, alpha, color, stroke, pix):
        out = canvas.contiguous().clone()
        alpha, color = alpha.contiguous(), color.contiguous()
        old = torch.empty(pix.numel(), out.shape[1], dtype=out.dtype)
        plane = out.shape[2] * out.shape[3]
        getattr(native.kernels(), "over_forward" + native.suffix(out.dtype))(
            pix.numel(), out.shape[1], plane, *map(native.ptr, (out, pix, alpha, color, stroke, old))
        )
        ctx.save_for_backward(alpha, color, stroke, pix, old)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        alpha, color, stroke, pix, old = ctx.saved_tensors
        g = grad_out.contiguous().clone()
        grad_alpha = torch.empty_like(alpha) if ctx.needs_input_grad[1] else None
        grad_color = torch.zeros_like(color) if ctx.needs_input_grad[2] else None
        getattr(native.kernels(), "over_backward" + native.suffix(g.dtype))(
            pix.numel(), g.shape[1], g.shape[2] * g.shape[3],
            *map(native.ptr, (g, pix, alpha, color, stroke, old, grad_alpha, grad_color)),
        )  # fmt: skip
        return g, grad_alpha, grad_color, None, None


def _layer_order(stroke: torch.Tensor, layer: torch.Tensor, num_strokes: int):
    """Permutation of entries grouping them by (layer, stroke), keeping the order of each stroke's entries,
    and the layer boundaries (``L + 1`` ints). O(E): entries come in runs of one stroke (a patch's pixels);
    only the runs are sorted. Returns ``(perm or None when already ordered, offsets)``. No gradient."""
    e = stroke.numel()
    key = layer[stroke] * num_strokes + stroke  # (E,) smaller key = composited earlier
    per_layer = torch.bincount(layer[stroke])
    offsets = [0, *torch.cumsum(per_layer, 0).tolist()]
    change = (key[1:] != key[:-1]).nonzero().squeeze(1) + 1
    starts = torch.cat([change.new_zeros(1), change])  # (R,) first entry of each run
    run_key = key[starts]
    if bool((run_key[1:] > run_key[:-1]).all()):
        return None, offsets  # already in (layer, stroke) order
    lens = torch.diff(starts, append=starts.new_tensor([e]))
    order = torch.sort(run_key, stable=True).indices  # runs of one stroke keep their relative order
    lens, starts = lens[order], starts[order]
    shift = torch.cumsum(lens, 0) - lens - starts  # new position of a run's first entry - old position
    perm = torch.arange(e, device=stroke.device) - torch.repeat_interleave(shift, lens)
    return perm, offsets


def composite_entries(
    canvas: torch.Tensor,
    pix: torch.Tensor,
    alpha: torch.Tensor,
    color: torch.Tensor,
    stroke: torch.Tensor,
    layer: torch.Tensor | None = None,
    per_entry_color: bool = False,
    backend: str = "auto",
) -> torch.Tensor:
    """Exact sequential "over" of sparse stroke entries: the core box-over operation.

    Each entry e says "stroke ``stroke[e]`` covers canvas pixel ``pix[e]`` with coverage ``alpha[e]``".
    The result equals painting the strokes one after the other in stroke order,
    ``C <- C (1 - a_i) + c_i a_i`` on every pixel stroke i covers (Porter & Duff 1984), i.e. the
    suffix-transmittance form ``C_N = C_0 prod_j (1 - a_j) + sum_i c_i a_i prod_{j>i} (1 - a_j)`` per pixel,
    but costs O(E): strokes are grouped into depth layers (:func:`box_layers`) whose strokes cover disjoint
    pixels; each layer is one gather / lerp / scatter on one copy of the canvas, in place, and a custom
    backward (:class:`_OverEntries`) replays the layers in reverse. Nothing of size M x H x W is built.

    Args:
        canvas: ``(B, C, H, W)`` float, the background (any values; [0, 1] for images).
        pix: ``(E,)`` long, flat pixel index ``b * H * W + y * W + x`` of every entry, in [0, B H W).
            Within one stroke each pixel appears at most once.
        alpha: ``(E,)`` float coverage in [0, 1], differentiable.
        color: ``(M, C)`` flat colour per stroke, or ``(E, C)`` per entry with ``per_entry_color``
            (colour maps, e.g. a brush texture times the stroke colour); differentiable.
        stroke: ``(E,)`` long stroke index in [0, M): painting order (0 first). A stroke's entries may come
            in several runs spread over the tensor (cost is lowest when they form few runs).
        layer: ``(M,)`` long depth layer per stroke, such that two strokes whose entries share a pixel are
            in different layers, the earlier stroke in the lower one (for example :func:`box_layers`, or
            the stroke's index when each image of the batch holds one stroke per index, as segpaint's
            windows do). ``None``: one stroke per layer (always valid, slowest).
        per_entry_color: ``color`` is ``(E, C)``.
        backend: ``"auto"``: on CPU float32/float64 tensors with the native kernels available
            (:mod:`common.native`), one C loop over the entries in stroke order (same result to rounding:
            every pixel sees its strokes in the same order); ``"torch"``: the layered path above (the
            reference, any device).

    Returns:
        ``(B, C, H, W)`` composited canvas (contiguous), differentiable in ``canvas``, ``alpha`` and
        ``color``.

    Raises:
        ValueError: inconsistent shapes, an unknown ``backend``, or (native path, which reads memory at
            these indices) ``pix`` or ``stroke`` out of range.
    """
    if canvas.dim() != 4:
        raise ValueError(f"canvas must be (B, C, H, W), got {tuple(canvas.shape)}")
    b, ch, h, w = canvas.shape
    if pix.dim() != 1 or alpha.shape != pix.shape or stroke.shape != pix.shape:
        raise ValueError(
            f"pix, alpha and stroke must all be (E,), got {tuple(pix.shape)}, {tuple(alpha.shape)}, "
            f"{tuple(stroke.shape)}"
        )
    if color.dim() != 2 or color.shape[1] != ch or (per_entry_color and color.shape[0] != pix.numel()):
        raise ValueError(f"color must be (M, {ch}), or (E, {ch}) per entry, got {tuple(color.shape)}")
    if pix.numel() == 0:  # nothing covered: the canvas, still connected to the strokes (zero gradient)
        return canvas + 0.0 * (alpha.sum() + color.sum())
    if backend not in ("auto", "torch"):
        raise ValueError(f"backend must be 'auto' or 'torch', got {backend!r}")
    if backend != "torch" and native.usable(canvas, alpha, color):
        m = color.shape[0] if not per_entry_color else int(stroke.max().item()) + 1
        if (
            pix.min().item() < 0
            or pix.max().item() >= b * h * w
            or stroke.min().item() < 0
            or stroke.max() >= m
        ):
            raise ValueError(f"pix must be in [0, {b * h * w}) and stroke in [0, {m}) (the colour rows)")
        if not bool((stroke[1:] >= stroke[:-1]).all()):  # entries into stroke order (runs of one stroke)
            with torch.no_grad():
                perm, _ = _layer_order(stroke, torch.arange(m, device=pix.device), m)
            if perm is not None:
                pix, stroke, alpha = pix[perm], stroke[perm], alpha[perm]
                color = color[perm] if per_entry_color else color
        color, stroke = color.to(alpha.dtype), None if per_entry_color else stroke.contiguous()
        return _OverEntriesNative.apply(canvas, alpha, color, stroke, pix.contiguous())
    m = int(stroke.max().item()) + 1 if layer is None else layer.numel()
    if layer is None:
        layer = torch.arange(m, device=pix.device)
    flat = canvas.permute(0, 2, 3, 1).reshape(b * h * w, ch)  # (P, C) channel-last: a pixel is one row
    with torch.no_grad():
        perm, offsets = _layer_order(stroke, layer.to(pix.device), m)
    if perm is not None:
        pix, stroke = pix[perm], stroke[perm]
    out = _OverEntries.apply(
        flat, alpha, color.to(alpha.dtype), None if per_entry_color else stroke, pix, offsets, perm
    )
    return out.view(b, h, w, ch).permute(0, 3, 1, 2).contiguous()


def patch_entries(
    origin: torch.Tensor, size: tuple[int, int], height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat canvas pixel index of every pixel of M equal-sized patches, and whether it lies on the canvas.

    Args:
        origin: ``(M, 3)`` long ``(image, top, left)`` of each patch (may be partly off the canvas).
        size: patch ``(h, w)``; height, width: canvas H, W.

    Returns:
        ``pix (M, h, w)`` long in [0, B H W) (clamped where off-canvas) and ``inside (M, h, w)`` bool.
    """
    hp, wp = size
    dev = origin.device
    ys = origin[:, 1, None, None] + torch.arange(hp, device=dev)[:, None]  # (M, h, 1)
    xs = origin[:, 2, None, None] + torch.arange(wp, device=dev)  # (M, 1, w)
    inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)  # (M, h, w)
    pix = (
        origin[:, 0, None, None] * (height * width) + ys.clamp(0, height - 1) * width + xs.clamp(0, width - 1)
    )
    return pix, inside


def composite_patches(
    canvas: torch.Tensor,
    alphas: list[torch.Tensor],
    colors: list[torch.Tensor],
    origins: list[torch.Tensor],
    strokes: list[torch.Tensor],
    num_strokes: int,
    layer: torch.Tensor | str | None = "boxes",
    skip_zero: bool = True,
    backend: str = "auto",
) -> torch.Tensor:
    """Composite strokes given as patches of a few sizes (buckets) with :func:`composite_entries`.

    Bucket k holds ``m_k`` strokes rendered on equal ``h_k x w_k`` patches (bucketing by size keeps the
    tensors dense and few). Pixels off the canvas are dropped; with ``skip_zero`` so are pixels of zero
    coverage (their "over" step is the identity; the gradient there is reported as 0 for alpha, which is
    what every renderer's coverage has where it is exactly 0 outside the stroke).

    Args:
        canvas: ``(B, C, H, W)``.
        alphas: per bucket ``(m_k, h_k, w_k)`` coverage in [0, 1].
        colors: per bucket ``(m_k, C)`` flat colours or ``(m_k, C, h_k, w_k)`` colour maps.
        origins: per bucket ``(m_k, 3)`` long ``(image, top, left)`` of the patches on the canvas.
        strokes: per bucket ``(m_k,)`` long stroke index in painting order, in [0, num_strokes).
        num_strokes: M, the number of strokes in all buckets.
        layer: ``(M,)`` long depth layers (see :func:`composite_entries`), ``"boxes"`` to compute them
            from the patch boxes with :func:`box_layers`, or ``None`` (one stroke per layer).
        skip_zero: drop entries whose alpha is exactly 0.
        backend: ``"auto"`` or ``"torch"``, as in :func:`composite_entries`.

    Returns:
        ``(B, C, H, W)`` composited canvas.
    """
    b, ch, h, w = canvas.shape
    dev = canvas.device
    if layer is None:
        layer = torch.arange(num_strokes, device=dev)
    elif isinstance(layer, str):
        boxes = torch.zeros(num_strokes, 5, dtype=torch.long, device=dev)
        for a, o, s in zip(alphas, origins, strokes, strict=True):
            hp, wp = a.shape[-2:]
            boxes[s] = torch.cat([o, o[:, 1:] + torch.tensor([hp, wp], device=dev)], 1)
        layer = box_layers(boxes, b, h, w)
    pix_l, a_l, c_l, s_l = [], [], [], []
    per_entry = any(c.dim() == 4 for c in colors)
    for a, c, o, s in zip(alphas, colors, origins, strokes, strict=True):
        pix, inside = patch_entries(o, a.shape[-2:], h, w)
        if skip_zero:
            inside = inside & (a.detach() != 0)
        sel = inside.reshape(-1).nonzero().squeeze(1)
        pix_l.append(pix.reshape(-1)[sel])
        a_l.append(a.reshape(-1)[sel])
        s_l.append(s[:, None, None].expand_as(pix).reshape(-1)[sel])
        if per_entry:
            cm = c[..., None, None].expand(*c.shape, *a.shape[-2:]) if c.dim() == 2 else c
            c_l.append(cm.permute(0, 2, 3, 1).reshape(-1, ch)[sel])
        else:
            c_l.append((c, s))
    pix, alpha, stroke = torch.cat(pix_l), torch.cat(a_l), torch.cat(s_l)
    if per_entry:
        return composite_entries(
            canvas, pix, alpha, torch.cat(c_l), stroke, layer, per_entry_color=True, backend=backend
        )
    color = canvas.new_zeros(num_strokes, ch, dtype=alpha.dtype)
    color = color.index_put((torch.cat([s for _, s in c_l]),), torch.cat([c for c, _ in c_l]))
    return composite_entries(canvas, pix, alpha, color, stroke, layer, backend=backend)


def composite_in_segments(
    canvas: torch.Tensor,
    cost: torch.Tensor | list[int],
    budget: int,
    paint: Callable,
    checkpointed: bool = True,
) -> torch.Tensor:
    """Paint strokes in segments of consecutive strokes, each within a memory budget.

    Strokes ``[lo, hi)`` of one segment have ``sum(cost[lo:hi]) <= budget`` (a single stroke over budget
    forms its own segment). Segments are painted in order, so the result is exact. When gradients are
    needed and there is more than one segment, each segment is checkpointed (``use_reentrant=False``):
    autograd keeps one canvas per segment and a segment's intermediates live only while it is painted or
    recomputed in backward, so peak memory is about ``budget`` entries' worth plus the canvases, whatever N.

    Args:
        canvas: ``(B, C, H, W)``.
        cost: ``(N,)`` per-stroke cost (entries, i.e. box pixels), strokes in painting order.
        budget: the most cost per segment (for example bytes / bytes-per-entry of the renderer).
        paint: ``paint(canvas, lo, hi) -> canvas`` composites strokes ``lo..hi-1``.
        checkpointed: checkpoint the segments when gradients are on (default).

    Returns:
        ``(B, C, H, W)`` canvas after all strokes.
    """
    cost = torch.as_tensor(cost, dtype=torch.float64).cpu()
    n = cost.numel()
    if n == 0:
        return canvas
    cum = torch.cumsum(cost, 0)
    bounds, lo = [], 0
    while lo < n:
        base = float(cum[lo - 1]) if lo else 0.0
        hi = int(torch.searchsorted(cum, torch.tensor(base + budget, dtype=torch.float64), right=True))
        hi = max(hi, lo + 1)
        bounds.append((lo, min(hi, n)))
        lo = min(hi, n)
    if len(bounds) == 1:
        return paint(canvas, 0, n)
    grad = checkpointed and torch.is_grad_enabled()
    for lo, hi in bounds:
        if grad:
            canvas = checkpoint(paint, canvas, lo, hi, use_reentrant=False)
        else:
            canvas = paint(canvas, lo, hi)
    return canvas
