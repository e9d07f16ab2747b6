"""``curve`` stroke format: anti-aliased cubic Bezier strokes (CLIPasso / MROSS sketches, tapered lines).

Shape letters: B batch, N strokes, K = 4 control points, T width samples along the curve, H, W canvas size.

Format
------
- ``control_points``: ``(B, N, 4, 2)`` float, normalised ``(x, y)``: x = column / W, y = row / H, so the
  canvas spans [0, 1] x [0, 1] (points may lie outside; they are simply clipped by the canvas).
  A point ``(x, y)`` maps to SVG user units ``(x * W, y * H)``; pixel ``(i, j)`` covers
  ``[j, j+1] x [i, i+1]`` and is sampled at its centre ``(j + 0.5, i + 0.5)``.
- ``widths``: ``(B, N)`` (constant width) or ``(B, N, T)`` with ``T >= 2`` samples of the full stroke width at
  ``t = 0, 1/(T-1), ..., 1``, linearly interpolated along the curve parameter t (tapered / nib-like strokes).
  Units: fractions of the canvas's shorter side ``min(H, W)`` (like SVG ``stroke-width / min(H, W)``).
- ``colors``: ``(B, N, 4)`` RGBA in [0, 1]; A is the stroke opacity.

Per-stroke JSON row (:data:`PARAM_NAMES`): ``x0, y0, x1, y1, x2, y2, x3, y3, width, R, G, B, A`` (13 values; a
tapered stroke stores its mean width there and the full width profile in the stroke file's ``extra``).

Coverage model
--------------
The curve is sampled as a dense polyline (``S`` chords, chosen from the control polygon's length so chords
are about 2 px). For a pixel centre q the signed distance to the stroke outline is
``sd(q) = min_s (|q - proj_s(q)| - w(t_s(q)) / 2)`` over chords s, where ``proj_s`` is the projection onto
chord s and ``t_s`` the curve parameter there. Coverage is the box-filtered (1 px) ramp
``alpha(q) = clamp(0.5 - sd(q), 0, 1)``, the usual analytic anti-aliasing of signed-distance rendering
(an approximation of diffvg's 2x2 supersampled coverage). It is differentiable in the control points and
widths almost everywhere; gradients live in the 1 px anti-aliasing band, as with diffvg's edge sampling.

Compositing is "over", in stroke order: ``canvas <- canvas * (1 - a_i) + rgb_i * a_i`` with
``a_i = A_i * alpha_i``. :func:`render_curves` evaluates each chord of each stroke only in a small window
around it and merges the chords into the stroke's bounding-box patch (scatter ``amin``), in chunks of
strokes, and composites the patches with the box-over operation of :mod:`common.compositing` (cost
proportional to the covered pixels, exact stroke order), in checkpointed segments of at most
``max_entries`` patch pixels, so memory is bounded by that budget and never by ``N * H * W``.
:func:`curve_alpha` is the direct full-canvas evaluation (every chord at every pixel) for small canvases;
the tests check that both agree.

On the CPU (float32/float64) the no-autograd chord selection of the patch path runs in C when
:mod:`common.native` can build its kernels (same selected pixels and winning chords; the differentiable
recomputation stays in PyTorch); ``common.native.disabled()`` forces the PyTorch selection (the reference).

An optional pydiffvg backend (``backend="diffvg"``; ``"auto"`` picks it when ``pydiffvg`` imports) renders
constant-width strokes with diffvg's 2x2 supersampling, as CLIPasso/MROSS did.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from common import native
from common.compositing import (
    box_layers,
    composite_entries,
    composite_in_segments,
    composite_over,
    composite_patches,
)
from common.errors import StrokeFormatError
from common.strokes import STROKE_FORMATS

__all__ = [
    "FORMAT",
    "PARAM_NAMES",
    "bezier_points",
    "check_curve_params",
    "curve_alpha",
    "render_curves",
    "curves_from_rows",
    "curves_to_rows",
    "CurveRenderer",
    "diffvg_available",
]

FORMAT = "curve"
PARAM_NAMES = STROKE_FORMATS[FORMAT].param_names  # the registry's (common.strokes)

_MAX_CHUNK_ELEMENTS = 1 << 22  # chunk * S * patch_h * patch_w per evaluation (bounds memory)
_MAX_ENTRIES = 1 << 21  # patch pixels per checkpointed segment of render_curves (a few hundred MB)


def check_curve_params(
    control_points: torch.Tensor, widths: torch.Tensor, colors: torch.Tensor | None = None
) -> None:
    """Validate the ``curve`` format at the public boundary.

    Args:
        control_points: ``(B, N, 4, 2)`` float, normalised (x, y).
        widths: ``(B, N)`` or ``(B, N, T)`` (T >= 2), fractions of min(H, W).
        colors: ``(B, N, 4)`` RGBA in [0, 1], or None.

    Raises:
        StrokeFormatError: naming the expected ``curve`` format when a shape is wrong.
    """
    fmt = "curve format: control_points (B, N, 4, 2), widths (B, N) or (B, N, T>=2), colors (B, N, 4) RGBA"
    if control_points.dim() != 4 or control_points.shape[2:] != (4, 2):
        raise StrokeFormatError(f"{fmt}; got control_points of shape {tuple(control_points.shape)}")
    b, n = control_points.shape[:2]
    if widths.dim() == 2:
        ok = widths.shape == (b, n)
    elif widths.dim() == 3:
        ok = widths.shape[:2] == (b, n) and widths.shape[2] >= 2
    else:
        ok = False
    if not ok:
        raise StrokeFormatError(f"{fmt}; got widths of shape {tuple(widths.shape)} for {b}x{n} strokes")
    if colors is not None and tuple(colors.shape) != (b, n, 4):
        raise StrokeFormatError(f"{fmt}; got colors of shape {tuple(colors.shape)} for {b}x{n} strokes")
    if not torch.is_floating_point(control_points) or not torch.is_floating_point(widths):
        raise StrokeFormatError(f"{fmt}; control_points and widths must be floating point")


def bezier_points(control_points: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Evaluate cubic Beziers ``P(t) = sum_k C(3,k) (1-t)^(3-k) t^k P_k``.

    Args:
        control_points: ``(..., 4, 2)`` any units.
        t: ``(S,)`` curve parameters in [0, 1].

    Returns:
        ``(..., S, 2)`` points, same units as ``control_points``.
    """
    t = t.to(control_points)
    u = 1.0 - t
    basis = torch.stack([u**3, 3 * u * u * t, 3 * u * t * t, t**3], dim=0)  # (4, S)
    return torch.einsum("ks,...kd->...sd", basis, control_points)


def _width_profile(widths: torch.Tensor) -> torch.Tensor:
    """``(B, N)`` or ``(B, N, T)`` -> ``(B, N, T)`` with T >= 2 (a constant width repeated)."""
    if widths.dim() == 2:
        return widths.unsqueeze(-1).expand(*widths.shape, 2)
    return widths


def _num_segments(cp_px: torch.Tensor) -> int:
    """Chord count so that chords are ~2 px: from the longest control polygon (no gradient)."""
    with torch.no_grad():
        if cp_px.numel() == 0:
            return 8
        length = (cp_px[..., 1:, :] - cp_px[..., :-1, :]).norm(dim=-1).sum(-1).max().item()
    if not math.isfinite(length):
        return 64
    return int(min(max(math.ceil(length / 2.0), 8), 64))


def _signed_distance(
    cp_px: torch.Tensor, hw_px: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor, segments: int
) -> torch.Tensor:
    """Signed distance (px) from pixel centres to stroke outlines.

    Args:
        cp_px: ``(M, 4, 2)`` control points in pixels.
        hw_px: ``(M, T)`` half widths in pixels at T evenly spaced t.
        gx: ``(M, 1, Pw)`` or ``(1, 1, W)`` pixel-centre x coordinates.
        gy: ``(M, Ph, 1)`` or ``(1, H, 1)`` pixel-centre y coordinates.
        segments: number of polyline chords S.

    Returns:
        ``(M, Ph, Pw)`` signed distance in pixels (negative inside the stroke).
    """
    t = torch.linspace(0.0, 1.0, segments + 1, device=cp_px.device, dtype=cp_px.dtype)
    pts = bezier_points(cp_px, t)  # (M, S+1, 2)
    p0 = pts[:, :-1]  # (M, S, 2)
    v = pts[:, 1:] - p0  # (M, S, 2)
    vv = (v * v).sum(-1).clamp_min(1e-12)  # (M, S)
    # Pixel offsets to chord starts: (M, S, Ph, Pw)
    ux = gx.unsqueeze(1) - p0[..., 0, None, None]
    uy = gy.unsqueeze(1) - p0[..., 1, None, None]
    vx = v[..., 0, None, None]
    vy = v[..., 1, None, None]
    s = ((ux * vx + uy * vy) / vv[..., None, None]).clamp(0.0, 1.0)  # (M, S, Ph, Pw)
    dx = ux - s * vx
    dy = uy - s * vy
    dist = torch.sqrt(dx * dx + dy * dy + 1e-8)
    # Half width at the projection's curve parameter, linear in t between the T samples.
    n_w = hw_px.shape[-1]
    k = torch.arange(segments, device=cp_px.device, dtype=cp_px.dtype)
    pos = ((k[:, None, None] + s) / segments) * (n_w - 1)  # (M, S, Ph, Pw) in [0, T-1]
    if n_w == 2:
        hw = hw_px[:, 0, None, None, None] + (hw_px[:, 1] - hw_px[:, 0])[:, None, None, None] * pos
    else:
        lo = pos.detach().floor().clamp(0, n_w - 2).long()
        frac = pos - lo.to(pos.dtype)
        flat = lo.flatten(1)
        w_lo = torch.gather(hw_px, 1, flat).view_as(pos)
        w_hi = torch.gather(hw_px, 1, flat + 1).view_as(pos)
        hw = w_lo + (w_hi - w_lo) * frac
    return (dist - hw).amin(dim=1)  # (M, Ph, Pw)


def _to_pixels(control_points: torch.Tensor, widths: torch.Tensor, height: int, width: int):
    scale = torch.tensor([width, height], dtype=control_points.dtype, device=control_points.device)
    cp_px = control_points * scale  # (B, N, 4, 2) pixels
    hw_px = _width_profile(widths) * (0.5 * min(height, width))  # (B, N, T) half widths, pixels
    return cp_px, hw_px


_FAR = 1.0e4  # signed distance of pixels no chord reaches (coverage 0)


def _select_torch(cp_px, hw_px, r0, q0, ph, pw, segments, chord_sd):
    """No-autograd part of :func:`_sd_patches` in PyTorch (the reference): per-chord windows, scatter
    ``amin`` into the patches, the winning chord per pixel. Returns ``best (M * ph * pw,)`` signed distance,
    ``sel (E,)`` flat index of the pixels with a winning chord and ``best < 0.5``, ``kb (E,)`` their chord."""
    m = cp_px.shape[0]
    dev, dt = cp_px.device, cp_px.dtype
    t = torch.linspace(0.0, 1.0, segments + 1, device=dev, dtype=dt)
    k = torch.arange(segments, device=dev, dtype=dt)
    pts = bezier_points(cp_px.detach(), t)  # (M, S+1, 2)
    a = pts[:, :-1]  # (M, S, 2) chord starts
    v = pts[:, 1:] - a  # (M, S, 2) chord vectors
    hwd = hw_px.detach()
    reach = (hwd.amax(-1) + 1.0)[:, None, None]  # (M, 1, 1)
    lo = torch.minimum(a, a + v) - reach  # (M, S, 2)
    hi = torch.maximum(a, a + v) + reach
    first = torch.ceil(lo - 0.5)  # first pixel index whose centre is inside
    last = torch.floor(hi - 0.5)
    q = int((last - first).amax().clamp(min=0, max=max(ph, pw)).item()) + 1
    first = torch.nan_to_num(first, nan=0.0, posinf=0.0, neginf=0.0).clamp(-1e6, 1e6).long()
    ar = torch.arange(q, device=dev)
    ix = first[..., 0, None] + ar  # (M, S, Q) pixel columns
    iy = first[..., 1, None] + ar  # (M, S, Q) pixel rows
    px = (ix.to(dt) + 0.5).unsqueeze(2)  # (M, S, 1, Q)
    py = (iy.to(dt) + 0.5).unsqueeze(3)  # (M, S, Q, 1)
    sd = chord_sd(a[:, :, None, None], v[:, :, None, None], px, py, k[None, :, None, None], hwd)  # (M,S,Q,Q)
    ly = (iy - r0.to(dev).view(m, 1, 1)).unsqueeze(3)  # (M, S, Q, 1) rows inside the patch
    lx = (ix - q0.to(dev).view(m, 1, 1)).unsqueeze(2)  # (M, S, 1, Q)
    valid = ((ly >= 0) & (ly < ph)) & ((lx >= 0) & (lx < pw))
    index = torch.where(valid, ly * pw + lx, ph * pw).reshape(m, -1)  # (M, S*Q*Q)
    best = sd.new_full((m, ph * pw + 1), _FAR)
    best.scatter_reduce_(1, index, sd.reshape(m, -1), reduce="amin", include_self=True)
    # winning chord of every patch pixel (the highest index among exact ties)
    chord = torch.arange(segments, device=dev).view(1, segments, 1, 1).expand_as(sd).reshape(m, -1)
    win = torch.gather(best, 1, index) == sd.reshape(m, -1)
    kbest = torch.full((m, ph * pw + 1), -1, dtype=torch.long, device=dev)
    kbest.scatter_reduce_(1, index, torch.where(win, chord, -1), reduce="amax", include_self=True)
    kbest = kbest[:, :-1].reshape(-1)  # (M * ph * pw,), -1 where no chord reaches
    best = best[:, :-1].reshape(-1)
    # pixels with sd >= 0.5 have alpha exactly 0 and no gradient: recompute only the others
    sel = ((kbest >= 0) & (best < 0.5)).nonzero().squeeze(1)  # (E,)
    return best, sel, kbest[sel]


def _select_native(cp_px, hw_px, r0, q0, ph, pw, segments):
    """:func:`_select_torch` in C (``common.native``, CPU float32/float64): every chord evaluated on its own
    pixel window inside the patch, no (M, S, Q, Q) tensors. The same ``best`` below 0.5, ``sel`` and ``kb``
    (elsewhere ``best`` is ``_FAR``: alpha 0 either way)."""
    m, dt = cp_px.shape[0], cp_px.dtype
    t = torch.linspace(0.0, 1.0, segments + 1, dtype=dt)
    pts = bezier_points(cp_px, t).contiguous()  # (M, S+1, 2)
    hw = hw_px.contiguous()
    cap = m * ph * pw
    sel, kb = torch.empty(cap, dtype=torch.long), torch.empty(cap, dtype=torch.long)
    scratch = torch.empty(ph * pw, dtype=dt), torch.empty(ph * pw, dtype=torch.long)
    r0, q0 = r0.to(torch.long).contiguous(), q0.to(torch.long).contiguous()
    e = getattr(native.kernels(), "curve_select" + native.suffix(dt))(
        m, native.ptr(pts), segments, native.ptr(hw), hw.shape[-1], native.ptr(r0), native.ptr(q0), ph, pw,
        *map(native.ptr, (*scratch, sel, kb)),
    )  # fmt: skip
    return torch.full((cap,), _FAR, dtype=dt), sel[:e], kb[:e]


def _sd_patches(
    cp_px: torch.Tensor,
    hw_px: torch.Tensor,
    r0: torch.Tensor,
    q0: torch.Tensor,
    ph: int,
    pw: int,
    segments: int,
    sparse: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Signed distance (px) on per-stroke patches, evaluating each chord only near itself.

    Every chord of the dense polyline gets its own small pixel window (its box grown by the half width and the
    anti-aliasing ramp); without autograd, the per-chord signed distances are merged into the stroke's patch
    by a scatter ``amin`` and the winning chord of every patch pixel is kept. The signed distance is then
    recomputed with autograd on the patch, each pixel against its winning chord only: the same value, and
    the gradient of the minimum (ties between two chords happen where they share an end point, and give the
    same gradient through either). Cost ~ ``M * S * Q^2`` without autograd (Q the chord window side, a few
    px for thin strokes) plus ``M * patch`` with autograd.

    Args:
        cp_px: ``(M, 4, 2)`` control points in pixels.
        hw_px: ``(M, T)`` half widths in pixels.
        r0, q0: ``(M,)`` long, row/column of each patch's top-left pixel.
        ph, pw: patch size in pixels.
        segments: chords S.
        sparse: return only the pixels of signed distance below 0.5 (those of alpha > 0).

    Returns:
        ``(M, ph, pw)`` signed distance; pixels beyond every chord's window get a large positive value. With
        ``sparse``: ``sd (E,)`` (differentiable), ``row (E,)`` stroke row, ``pidx (E,)`` pixel index in the
        patch (``y * pw + x``), in (row, pixel) order.
    """
    m = cp_px.shape[0]
    dev, dt = cp_px.device, cp_px.dtype
    t = torch.linspace(0.0, 1.0, segments + 1, device=dev, dtype=dt)
    n_w = hw_px.shape[-1]

    def chord_sd(a, v, px, py, kk, hw):
        """sd of pixel centres (px, py) to chords (a, v) of index kk, all broadcastable to (R, ...);
        hw (R, T) half widths. The arithmetic of every element is the same whatever the layout."""
        r = hw.shape[0]
        ux = px - a[..., 0]
        uy = py - a[..., 1]
        vx, vy = v[..., 0], v[..., 1]
        vv = (v * v).sum(-1).clamp_min(1e-12)
        s = ((ux * vx + uy * vy) / vv).clamp(0.0, 1.0)
        dx = ux - s * vx
        dy = uy - s * vy
        dist = torch.sqrt(dx * dx + dy * dy + 1e-8)
        pos = ((kk + s) / segments) * (n_w - 1)  # in [0, T-1]
        extra = (1,) * (pos.dim() - 1)
        if n_w == 2:
            return dist - (hw[:, 0].view(r, *extra) + (hw[:, 1] - hw[:, 0]).view(r, *extra) * pos)
        lo_i = pos.detach().floor().clamp(0, n_w - 2).long()
        frac = pos - lo_i.to(dt)
        flat_i = lo_i.reshape(r, -1) if r else lo_i.reshape(0, 1)  # (r, K); r = 0: no stroke row here
        w_lo = torch.gather(hw, 1, flat_i).view_as(pos)
        w_hi = torch.gather(hw, 1, flat_i + 1).view_as(pos)
        return dist - (w_lo + (w_hi - w_lo) * frac)

    with torch.no_grad():
        if native.usable(cp_px, hw_px):
            best, sel, kb = _select_native(cp_px.detach(), hw_px.detach(), r0, q0, ph, pw, segments)
        else:
            best, sel, kb = _select_torch(cp_px.detach(), hw_px.detach(), r0, q0, ph, pw, segments, chord_sd)
        row = sel // (ph * pw)
        pidx = sel - row * (ph * pw)
    # differentiable: every selected patch pixel against its winning chord
    pts = bezier_points(cp_px, t)  # (M, S+1, 2)
    a = pts[:, :-1]
    v = pts[:, 1:] - a
    pxs = (q0.to(dev)[row] + pidx % pw).to(dt) + 0.5  # (E,) pixel centres
    pys = (r0.to(dev)[row] + pidx // pw).to(dt) + 0.5
    sd = chord_sd(a[row, kb], v[row, kb], pxs, pys, kb.to(dt), hw_px[row])  # (E,)
    if sparse:
        return sd, row, pidx
    return best.index_put((sel,), sd).view(m, ph, pw)


def curve_alpha(control_points: torch.Tensor, widths: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Full-canvas coverage of each stroke (for small canvases and patches; allocates ``B*N*S*H*W``).

    Args:
        control_points: ``(B, N, 4, 2)`` normalised (x, y), float.
        widths: ``(B, N)`` or ``(B, N, T)``, fractions of ``min(H, W)``.
        height, width: canvas size H, W in pixels.

    Returns:
        ``(B, N, H, W)`` coverage in [0, 1] (geometry only; opacity A is applied by :func:`render_curves`).

    Raises:
        StrokeFormatError: wrong shapes.
    """
    check_curve_params(control_points, widths)
    b, n = control_points.shape[:2]
    cp_px, hw_px = _to_pixels(control_points, widths, height, width)
    cp_px = cp_px.reshape(b * n, 4, 2)
    hw_px = hw_px.reshape(b * n, -1)
    dev, dt = control_points.device, control_points.dtype
    gx = (torch.arange(width, device=dev, dtype=dt) + 0.5).view(1, 1, width)
    gy = (torch.arange(height, device=dev, dtype=dt) + 0.5).view(1, height, 1)
    segments = _num_segments(cp_px)
    out = []
    step = max(1, _MAX_CHUNK_ELEMENTS // max(1, segments * height * width))
    for i in range(0, b * n, step):
        sd = _signed_distance(cp_px[i : i + step], hw_px[i : i + step], gx, gy, segments)
        out.append((0.5 - sd).clamp(0.0, 1.0))
    if not out:
        return control_points.new_zeros(b, n, height, width)
    return torch.cat(out, 0).view(b, n, height, width)


def _bounding_boxes(cp_px: torch.Tensor, hw_px: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Integer pixel boxes ``(M, 4)`` = (row0, row1, col0, col1), half-open, clipped to the canvas.

    The convex hull property of Bezier curves bounds the curve by its control points; the box is grown by the
    largest half width plus the 1 px anti-aliasing ramp.
    """
    with torch.no_grad():
        pad = hw_px.amax(-1) + 1.5  # (M,)
        lo = cp_px.amin(1)  # (M, 2)
        hi = cp_px.amax(1)
        x0 = torch.floor(lo[:, 0] - pad).clamp(0, width)
        x1 = torch.ceil(hi[:, 0] + pad).clamp(0, width)
        y0 = torch.floor(lo[:, 1] - pad).clamp(0, height)
        y1 = torch.ceil(hi[:, 1] + pad).clamp(0, height)
        boxes = torch.stack([y0, y1, x0, x1], -1)
        boxes = torch.nan_to_num(boxes, nan=0.0)
        return boxes.long().cpu()


def _render_torch(control_points, widths, colors, canvas, chunk_size, max_entries=_MAX_ENTRIES):
    bsz, n = control_points.shape[:2]
    _, _, height, width = canvas.shape
    m = bsz * n
    if m == 0:  # no stroke: the canvas unchanged (a copy, so that writing into the result is safe)
        return canvas.clone()
    with torch.no_grad():
        cp0, hw0 = _to_pixels(control_points.detach(), widths.detach(), height, width)
        boxes = _bounding_boxes(cp0.reshape(m, 4, 2), hw0.reshape(m, -1), height, width)  # (M, 4)
    # Strokes are evaluated chunk by chunk (chunk_size consecutive strokes share one patch size and chord
    # count), and the chunks are composited in stroke order per image with the box-over operation, in
    # checkpointed segments of whole chunks that hold at most max_entries patch pixels.
    chunks = [(c0, min(m, c0 + chunk_size)) for c0 in range(0, m, chunk_size)]
    cost = []
    for c0, c1 in chunks:
        bx = boxes[c0:c1]
        cost.append((c1 - c0) * int((bx[:, 1] - bx[:, 0]).max()) * int((bx[:, 3] - bx[:, 2]).max()))

    def paint(out: torch.Tensor, k0: int, k1: int) -> torch.Tensor:
        cp_px, hw_px = _to_pixels(control_points, widths, height, width)
        cp_px = cp_px.reshape(m, 4, 2)  # (M, 4, 2), M = B*N
        hw_px = hw_px.reshape(m, -1)  # (M, T)
        rgb = colors[..., :3].reshape(m, 3)
        opacity = colors[..., 3].reshape(m)
        first, last = chunks[k0][0], chunks[k1 - 1][1]
        # native kernels: sparse entries straight into the box-over operation, no dense patches
        sparse = native.usable(cp_px, hw_px, out)
        alphas, origins, strokes, pixels = [], [], [], []
        for c0, c1 in chunks[k0:k1]:
            bx = boxes[c0:c1]
            ph = int((bx[:, 1] - bx[:, 0]).max().item())
            pw = int((bx[:, 3] - bx[:, 2]).max().item())
            if ph <= 0 or pw <= 0:
                continue
            segments = _num_segments(cp_px[c0:c1])
            # Patch origins: the box's corner, shifted back so the common patch size stays inside the canvas.
            r0 = torch.minimum(bx[:, 0], torch.tensor(height - ph)).clamp_min(0)
            q0 = torch.minimum(bx[:, 2], torch.tensor(width - pw)).clamp_min(0)
            sub = max(1, _MAX_CHUNK_ELEMENTS // max(1, ph * pw))
            for s0 in range(0, c1 - c0, sub):
                ids = torch.arange(c0 + s0, min(c1, c0 + s0 + sub), device=out.device)
                if sparse:
                    r0s, q0s = r0[s0 : s0 + sub], q0[s0 : s0 + sub]
                    sd, row, pidx = _sd_patches(
                        cp_px[ids], hw_px[ids], r0s, q0s, ph, pw, segments, sparse=True
                    )
                    alphas.append((0.5 - sd).clamp(0.0, 1.0) * opacity[ids[row]])  # (E,)
                    y, x = r0s[row] + pidx // pw, q0s[row] + pidx % pw
                    pixels.append((ids[row] // n) * (height * width) + y * width + x)
                    strokes.append(ids[row] - first)
                    continue
                sd = _sd_patches(
                    cp_px[ids], hw_px[ids], r0[s0 : s0 + sub], q0[s0 : s0 + sub], ph, pw, segments
                )
                alphas.append((0.5 - sd).clamp(0.0, 1.0) * opacity[ids].view(-1, 1, 1))  # (m', ph, pw)
                org = torch.stack([ids.cpu() // n, r0[s0 : s0 + sub], q0[s0 : s0 + sub]], 1)
                origins.append(org.to(out.device))
                strokes.append(ids - first)
        if not alphas:
            return out
        if sparse:  # entries in stroke order: the native compositing needs no layers
            pix, alpha, stroke = torch.cat(pixels), torch.cat(alphas), torch.cat(strokes)
            return composite_entries(out, pix, alpha, rgb[first:last], stroke, layer=None)
        bx = boxes[first:last]
        image = torch.arange(first, last) // n
        layer = box_layers(
            torch.stack([image, bx[:, 0], bx[:, 2], bx[:, 1], bx[:, 3]], 1), bsz, height, width
        )
        color = [rgb[s + first] for s in strokes]
        return composite_patches(
            out, alphas, color, origins, strokes, last - first, layer=layer.to(out.device)
        )

    return composite_in_segments(canvas, cost, max_entries, paint)


def diffvg_available() -> bool:
    """True when the optional ``pydiffvg`` package imports."""
    try:
        import pydiffvg  # noqa: F401
    except Exception:
        return False
    return True


def _render_diffvg(control_points, widths, colors, canvas):
    """pydiffvg backend (constant widths only): 2x2 supersampled coverage, composited over ``canvas``."""
    import pydiffvg

    bsz, n = control_points.shape[:2]
    _, _, height, width = canvas.shape
    cp_px, hw_px = _to_pixels(control_points, widths, height, width)
    outs = []
    for b in range(bsz):
        shapes, groups = [], []
        for i in range(n):
            path = pydiffvg.Path(
                num_control_points=torch.tensor([2], dtype=torch.int32),
                points=cp_px[b, i].float().cpu(),
                stroke_width=(2.0 * hw_px[b, i].mean()).float().cpu(),
                is_closed=False,
            )
            shapes.append(path)
            groups.append(
                pydiffvg.ShapeGroup(
                    shape_ids=torch.tensor([i]), fill_color=None, stroke_color=colors[b, i].float().cpu()
                )
            )
        args = pydiffvg.RenderFunction.serialize_scene(width, height, shapes, groups)
        img = pydiffvg.RenderFunction.apply(width, height, 2, 2, 0, None, *args)  # (H, W, 4) straight RGBA
        img = img.to(canvas.device, canvas.dtype)
        a = img[..., 3:4].permute(2, 0, 1)[None]  # (1, 1, H, W)
        layer = img[..., :3].permute(2, 0, 1)[None]  # (1, 3, H, W)
        outs.append(composite_over(canvas[b : b + 1], layer, a)[0])
    return torch.stack(outs, 0)


def render_curves(
    control_points: torch.Tensor,
    widths: torch.Tensor,
    colors: torch.Tensor,
    canvas: torch.Tensor,
    chunk_size: int = 64,
    backend: str = "torch",
    max_entries: int = _MAX_ENTRIES,
) -> torch.Tensor:
    """Composite cubic Bezier strokes over a canvas, in stroke order (differentiable).

    Args:
        control_points: ``(B, N, 4, 2)`` normalised (x, y) (see module docstring), float.
        widths: ``(B, N)`` or ``(B, N, T)`` full stroke widths, fractions of ``min(H, W)``.
        colors: ``(B, N, 4)`` RGBA in [0, 1].
        canvas: ``(B, 3, H, W)`` float in [0, 1] (e.g. white paper ``torch.ones``).
        chunk_size: strokes evaluated together (each inside its own bounding-box patch, one patch size
            and chord count per chunk).
        max_entries: patch pixels per checkpointed segment of whole chunks (the memory budget of forward
            + backward: about this many pixels' intermediates plus one canvas per segment, never
            ``N * H * W``).
        backend: ``"torch"`` (default, this module's signed-distance coverage), ``"diffvg"`` (needs pydiffvg;
            constant widths: a tapered profile is averaged) or ``"auto"`` (diffvg when importable).

    Returns:
        ``(B, 3, H, W)`` image in [0, 1], same device/dtype as ``canvas``.

    Raises:
        StrokeFormatError: wrong shapes, or a canvas whose batch size differs from the strokes'.
    """
    check_curve_params(control_points, widths, colors)
    if canvas.dim() != 4 or canvas.shape[1] != 3 or canvas.shape[0] != control_points.shape[0]:
        raise StrokeFormatError(
            f"curve renderer: canvas must be (B, 3, H, W) with B = {control_points.shape[0]}, "
            f"got {tuple(canvas.shape)}"
        )
    if backend == "auto":
        backend = "diffvg" if diffvg_available() else "torch"
    if backend == "diffvg":
        return _render_diffvg(control_points, widths, colors, canvas)
    if backend != "torch":
        raise ValueError(f"unknown curve backend {backend!r} (torch, diffvg, auto)")
    return _render_torch(control_points, widths, colors, canvas, chunk_size, max_entries)


def curves_to_rows(control_points: torch.Tensor, widths: torch.Tensor, colors: torch.Tensor) -> torch.Tensor:
    """Flatten one image's strokes to JSON rows in :data:`PARAM_NAMES` order.

    Args:
        control_points: ``(N, 4, 2)``; widths: ``(N,)`` or ``(N, T)`` (stored as the mean);
            colors: ``(N, 4)``.

    Returns:
        ``(N, 13)`` float tensor.
    """
    w = widths if widths.dim() == 1 else widths.mean(-1)
    return torch.cat([control_points.reshape(-1, 8), w.reshape(-1, 1), colors.reshape(-1, 4)], 1)


def curves_from_rows(rows: torch.Tensor):
    """Inverse of :func:`curves_to_rows`: ``(N, 13)`` -> control_points ``(N, 4, 2)``, widths ``(N,)``,
    colors ``(N, 4)``. Raises :class:`StrokeFormatError` for a row width other than 13."""
    if rows.dim() != 2 or rows.shape[1] != len(PARAM_NAMES):
        names = ", ".join(PARAM_NAMES)
        raise StrokeFormatError(f"curve rows must be (N, 13) ({names}), got {tuple(rows.shape)}")
    return rows[:, :8].reshape(-1, 4, 2), rows[:, 8], rows[:, 9:13]


class CurveRenderer(nn.Module):
    """Thin module wrapper of :func:`render_curves` (no parameters).

    ``forward(control_points (B,N,4,2), widths (B,N)|(B,N,T), colors (B,N,4), canvas (B,3,H,W))``
    returns ``(B, 3, H, W)``.
    """

    def __init__(self, chunk_size: int = 64, backend: str = "torch"):
        super().__init__()
        self.chunk_size = chunk_size
        self.backend = backend

    def forward(self, control_points, widths, colors, canvas):
        return render_curves(control_points, widths, colors, canvas, self.chunk_size, self.backend)
