"""Analytic ``bezier13`` stroke renderer: Learning to Paint's quadratic Bezier stroke.

Shape letters: B batch, N strokes, P parameters per stroke (13, or 10 without colour), M = B * N
flattened strokes, S polyline segments, H, W canvas size, Hc, Wc crop size.

Stroke format ``bezier13`` (one row of 13 values, all in [0, 1]):

    (x0, y0, x1, y1, x2, y2, r0, r2, t0, t2, R, G, B)

* ``P0 = (x0, y0)``, ``P1 = (x1, y1)``, ``P2 = (x2, y2)``: the three control points of the quadratic
  Bezier ``C(t) = (1 - t)^2 P0 + 2 t (1 - t) P1 + t^2 P2``, t in [0, 1], in normalised canvas coordinates
  (x = column / W, y = row / H). Pixel ``(row i, column j)`` has its centre at
  ``((j + 0.5) / W, (i + 0.5) / H)``.
  Departure from Learning to Paint (Huang et al., ICCV 2019), whose middle point is relative to the chord
  (``P1 = P0 + (P2 - P0) * (x1, y1)``) and whose first value of each pair is the row: here every point is
  absolute and (x, y) = (column, row), like every other StrokeLab format, so strokes from different patches
  can be stored in one canvas-wide JSON file.
* ``r0, r2``: radius at t = 0 and t = 1, linearly interpolated along t. In pixels,
  ``radius = (0.5 + 32 r) / 128 * min(H, W)`` (LtP draws ``1 + 64 r`` px discs on a 256 canvas, i.e. 0.5 to
  32.5 px on a 128 patch).
* ``t0, t2``: opacity at t = 0 and t = 1, linearly interpolated along t (LtP's disc intensity ``w``).
* ``R, G, B``: colour, sRGB in [0, 1].

Coverage is analytic: with ``t*`` the parameter of the curve point closest to the pixel centre (in the
sense of the union of discs of radius r(t), which is how LtP draws its ground truth), ``d`` the distance to
``C(t*)``, ``r(t*)`` and ``o(t*)`` the interpolated radius and opacity, and a 1-px smoothstep edge::

    f = d - r(t*),   c = clamp(0.5 - f, 0, 1),   alpha = o(t*) * c^2 (3 - 2 c)

``t*`` is found without autograd: a polyline of S chords (S in {3, 6, 12} per stroke, from its curvature)
gives a seed, then Newton steps on ``phi(t) = (C(t) - p) . C'(t) = 0`` polish it on the exact curve. One
more Newton step is taken with autograd: numerically a no-op, its derivative is the implicit-function
derivative ``dt*/dtheta = -(d phi / d theta) / phi'``, so gradients are exact for the rendered image (up to
the measure-zero set of pixels equidistant from two parts of the curve) and reach every parameter.

Cost follows the covered pixels (issue 12): every stroke is evaluated only inside its bounding box
(control-point hull plus radius plus 1.5 px), the box pixels the stroke cannot reach are dropped after the
chord search (a bound on ``d - r`` proves their alpha is exactly 0), and the rest are composited with the
box-over operation of :mod:`common.compositing` (sequential "over" in stroke order, in place, custom
backward). Nothing of size N x H x W is built; strokes go in checkpointed segments bounded by
``max_entries`` box pixels.

On the CPU (float32/float64) the per-pixel work above runs in C when :mod:`common.native` can build its
kernels (``backend="auto"``, the default): the same chord search, Newton polish and coverage, box by box
(no size buckets, no (pixels x chords) tensors), and the gradient of the differentiable step written out by
hand; the compositing likewise. ``backend="torch"`` (and every GPU) runs the PyTorch code, the reference;
tests/common/test_native.py checks that both agree within 1e-5 (value) and 1e-4 (gradient).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch.autograd.function import once_differentiable

from common import native
from common.compositing import box_layers, composite_entries, composite_in_segments
from common.strokes import STROKE_FORMATS

FORMAT = "bezier13"
PARAM_NAMES = STROKE_FORMATS[FORMAT].param_names  # the registry's (common.strokes)
GEOMETRY_DIM = 10  # the first 10 values: what the neural renderer sees

_CHORD_TOL_PX = 1.0  # chord-to-curve deviation of the polyline that seeds the closest-point search
_NEWTON_STEPS = 6  # Newton steps polishing the closest point (no autograd)
_CHUNK_ELEMS = 1 << 22  # values held by the chord search per chunk (rows * Hc * Wc * S)
_MAX_ENTRIES = 1 << 22  # box pixels per checkpointed segment of render_bezier13 (about 1 GB with gradients)


def radius_to_pixels(r: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """LtP radius mapping: ``r`` in [0, 1] (any shape) -> pixels ``(0.5 + 32 r) / 128 * min(H, W)``."""
    return (0.5 + 32.0 * r) / 128.0 * min(height, width)


def _check_params(params: torch.Tensor, allowed=(13, 10)) -> None:
    if params.dim() != 3 or params.shape[-1] not in allowed:
        raise ValueError(
            f"bezier13 strokes must have shape (B, N, {' or '.join(map(str, allowed))}) "
            f"{PARAM_NAMES[: allowed[-1]] if len(allowed) == 1 else PARAM_NAMES}, got {tuple(params.shape)}"
        )


def _to_pixels(params: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(M, >=10) normalised -> (M, 10) pixel geometry [p0x, p0y, p1x, p1y, p2x, p2y, rad0, rad2, o0, o2]."""
    scale = params.new_tensor([width, height, width, height, width, height])
    pts = params[:, :6] * scale
    rad = radius_to_pixels(params[:, 6:8], height, width)
    return torch.cat([pts, rad, params[:, 8:10]], dim=1)


def _boxes(geo: torch.Tensor) -> torch.Tensor:
    """(M, 10) pixel geometry -> (M, 4) float boxes [x_lo, y_lo, x_hi, y_hi] in pixels (no grad)."""
    g = geo.detach()
    margin = g[:, 6:8].amax(dim=1) + 1.5
    xs, ys = g[:, 0:6:2], g[:, 1:6:2]
    return torch.stack(
        [xs.amin(1) - margin, ys.amin(1) - margin, xs.amax(1) + margin, ys.amax(1) + margin], dim=1
    )


def _segments_per_stroke(geo: torch.Tensor) -> torch.Tensor:
    """Chords S per stroke, in {3, 6, 12}: enough that the polyline seeding the closest-point search stays
    within about _CHORD_TOL_PX of the curve (chord error ``|P0 - 2 P1 + P2| / (4 S^2)``). It depends on the
    stroke only, so a stroke renders identically whatever it is batched with. (M, 10) -> (M,) long."""
    g = geo.detach()
    a = (g[:, 0:2] - 2 * g[:, 2:4] + g[:, 4:6]).norm(dim=1)
    need = torch.sqrt(a / (4 * _CHORD_TOL_PX))
    return torch.where(need <= 3, 3, torch.where(need <= 6, 6, 12))


def _coverage_entries(geo: torch.Tensor, y0: torch.Tensor, x0: torch.Tensor, hc: int, wc: int, segments: int):
    """Alpha of each stroke on the pixels of its crop that it can reach (dense search, sparse result).

    1. Without autograd, on the whole crop: the closest chord of a polyline of S chords gives a start value
       ``t*`` per pixel and a lower bound of ``d - r`` there. Pixels whose bound is at least 0.5 px (the
       edge of the 1-px smoothstep) have alpha exactly 0 and zero gradient; they are dropped here, so the
       rest of the work and the compositing cost only the pixels the stroke covers. The bound:
       ``d(t) - r(t) >= best - |P0 - 2 P1 + P2| / (4 S^2) - |r2 - r0| / S`` (chord-to-curve deviation and
       radius change along one chord), with a 0.05 px float margin.
    2. Newton steps on ``phi(t) = (C(t) - p) . C'(t) / 2 = 0`` on the exact curve polish ``t*``.
    3. With autograd: one more Newton step (numerically a no-op, but its derivative is the implicit-function
       derivative ``dt*/dtheta = -(d phi / d theta) / phi'``), then distance, radius, opacity and coverage.

    Args:
        geo: (m, 10) pixel geometry (see ``_to_pixels``), float, differentiable.
        y0, x0: (m,) long, top-left pixel of each stroke's crop (absolute canvas pixels).
        hc, wc: crop size; segments: number of chords S used to find the closest point.
    Returns:
        ``alpha (E,)`` in [0, 1] (differentiable), ``row (E,)`` long stroke row in ``geo``, ``iy, ix (E,)``
        long pixel position inside the crop; entries are grouped by row (one run per stroke).
    """
    m, dev, dt = geo.shape[0], geo.device, geo.dtype
    xs = ((x0[:, None] + torch.arange(wc, device=dev)).to(dt) + 0.5)[:, None, :]  # (m, 1, Wc) pixel centres
    ys = ((y0[:, None] + torch.arange(hc, device=dev)).to(dt) + 0.5)[:, :, None]  # (m, Hc, 1)

    with torch.no_grad():
        t = torch.linspace(0, 1, segments + 1, dtype=dt, device=dev)  # (S+1,)
        gd = geo.detach()
        w0, w1, w2 = (1 - t) ** 2, 2 * t * (1 - t), t**2
        px = gd[:, 0:1] * w0 + gd[:, 2:3] * w1 + gd[:, 4:5] * w2  # (m, S+1)
        py = gd[:, 1:2] * w0 + gd[:, 3:4] * w1 + gd[:, 5:6] * w2
        shape = (m, hc, wc)
        best = torch.full(shape, float("inf"), dtype=dt, device=dev)
        tbest = torch.zeros(shape, dtype=dt, device=dev)
        dist2, proj, h, closer = (torch.empty(shape, dtype=dt, device=dev) for _ in range(4))
        r0d, drd = (
            gd[:, 6, None, None],
            (gd[:, 7] - gd[:, 6])[:, None, None],
        )  # (m, 1, 1) radius at t=0, slope
        for k in range(segments):  # seed: chord minimising distance - radius (union of discs, as LtP draws)
            cx, cy = px[:, k, None, None], py[:, k, None, None]  # (m, 1, 1)
            dx, dy = px[:, k + 1, None, None] - cx, py[:, k + 1, None, None] - cy
            len2 = (dx * dx + dy * dy).clamp_min(1e-12)
            rx, ry = xs - cx, ys - cy  # (m, 1, Wc), (m, Hc, 1)
            torch.add(ry * ry, rx * rx, out=dist2)  # |p - a|^2
            torch.add(ry * dy, rx * dx, out=proj)  # (p - a) . d
            torch.div(proj, len2, out=h).clamp_(0, 1)
            proj.mul_(2).addcmul_(h, len2.expand_as(h), value=-1).mul_(h)
            dist2.sub_(proj).clamp_(min=0).sqrt_()  # |p - a - h d|
            h.add_(k).div_(segments)  # curve parameter of the chord point
            dist2.sub_(r0d).addcmul_(h, drd.expand_as(h), value=-1)  # distance - radius
            torch.gt(best, dist2, out=closer)  # comparisons into float are fast on CPU; bool masks are not
            h.sub_(tbest).mul_(closer)
            tbest.add_(h)
            torch.minimum(best, dist2, out=best)
        del dist2, proj, h, closer
        bend = (gd[:, 0:2] - 2 * gd[:, 2:4] + gd[:, 4:6]).norm(dim=1)  # |P0 - 2 P1 + P2|, (m,)
        reach = 0.55 + bend / (4 * segments**2) + (gd[:, 7] - gd[:, 6]).abs() / segments
        sel = (best < reach[:, None, None]).view(-1).nonzero().squeeze(1)  # (E,) flat crop index
        del best
        row = sel // (hc * wc)
        rem = sel - row * (hc * wc)
        iy, ix = rem // wc, rem % wc
    if sel.numel() > 0.5 * m * hc * wc:
        # most of the crop is covered: polish and differentiate on the dense crop (per-stroke values
        # broadcast, less memory traffic than per-entry copies), then keep the reachable pixels
        g = geo[:, :, None, None]  # (m, 10, 1, 1)
        alpha = _polished_alpha(g, tbest, xs, ys, segments)  # (m, Hc, Wc)
        return alpha.view(-1)[sel], row, iy, ix
    xe = (x0[row] + ix).to(dt) + 0.5  # (E,) pixel centres
    ye = (y0[row] + iy).to(dt) + 0.5
    alpha = _polished_alpha(geo[row], tbest.view(-1)[sel], xe, ye, segments)  # (E,)
    return alpha, row, iy, ix


def _polished_alpha(g: torch.Tensor, t: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, segments: int):
    """Newton-polished closest point and coverage, elementwise on any layout.

    Args:
        g: per-point stroke geometry, ``(..., 10, 1, 1)`` broadcast over a crop or ``(E, 10)`` per entry
            (the 10 values of ``_to_pixels`` along dim 1), differentiable.
        t: seed curve parameter per point (crop ``(m, Hc, Wc)`` or ``(E,)``), no gradient.
        xs, ys: pixel centres broadcastable to ``t``.
        segments: chords of the seed polyline (Newton steps are clamped to one chord).
    Returns:
        alpha in [0, 1], the shape of ``t``.
    """
    p0x, p0y, p1x, p1y, p2x, p2y, rad0, rad2, op0, op2 = g.unbind(1)
    ax, ay = p0x - 2 * p1x + p2x, p0y - 2 * p1y + p2y  # C(t) = a t^2 + 2 b t + P0
    bx, by = p1x - p0x, p1y - p0y
    dt = t.dtype
    with torch.no_grad():
        tbest = t.clone()
        axd, ayd, bxd, byd = ax.detach(), ay.detach(), bx.detach(), by.detach()
        ux0, uy0 = p0x.detach() - xs, p0y.detach() - ys
        for _ in range(
            _NEWTON_STEPS
        ):  # Newton on phi(t) = u . v, u = C(t) - p, v = a t + b, phi' = 2 |v|^2 + u . a
            vx, vy = axd * tbest + bxd, ayd * tbest + byd
            ux, uy = (vx + bxd) * tbest + ux0, (vy + byd) * tbest + uy0
            gn = 2 * (
                vx * vx + vy * vy
            )  # Gauss-Newton curvature, used where phi' <= 0 (not yet in the basin)
            dphi = gn + ux * axd + uy * ayd
            pos = torch.gt(dphi, 1e-6).to(dt)
            curv = (dphi * pos).addcmul_(gn, 1 - pos).clamp_min_(1e-9)
            step = ((ux * vx + uy * vy) / curv).clamp_(-1.0 / segments, 1.0 / segments)  # stay near the seed
            tbest.sub_(step).clamp_(0, 1)
        vx, vy = axd * tbest + bxd, ayd * tbest + byd
        ux, uy = (vx + bxd) * tbest + ux0, (vy + byd) * tbest + uy0
        dphi = 2 * (vx * vx + vy * vy) + ux * axd + uy * ayd
        inner = torch.gt(tbest, 0).to(dt).mul_(torch.lt(tbest, 1).to(dt)).mul_(torch.gt(dphi, 1e-6).to(dt))

    # differentiable: t = t* - phi(t*) / phi'(t*) (implicit derivative), then the stroke at t
    t0 = tbest
    vx, vy = ax * t0 + bx, ay * t0 + by
    ux, uy = (vx + bx) * t0 + (p0x - xs), (vy + by) * t0 + (p0y - ys)
    dphi = (2 * (vx * vx + vy * vy) + ux * ax + uy * ay).clamp_min(1e-6)
    t = t0 - inner * (ux * vx + uy * vy) / dphi
    ux = (ax * t + 2 * bx) * t + (p0x - xs)  # C(t) - p
    uy = (ay * t + 2 * by) * t + (p0y - ys)
    dist = torch.sqrt(ux * ux + uy * uy + 1e-12)
    c = (0.5 - dist + rad0 + t * (rad2 - rad0)).clamp(0, 1)
    return (op0 + t * (op2 - op0)) * c * c * (3 - 2 * c)


def _bucket(extent: torch.Tensor) -> torch.Tensor:
    """Crop-size level per stroke: sizes grow by 1.5x from 8 px (extent (M,) float pixels -> (M,) long)."""
    return torch.ceil(torch.log(extent.clamp_min(8) / 8) / math.log(1.5)).long()


class _NativeCoverage(torch.autograd.Function):
    """:func:`_coverage_entries` for every stroke at once in C (``common.native``): the same chord search,
    Newton polish and coverage per pixel of each stroke's box, with the analytic gradient of the
    differentiable part (implicit-derivative Newton step, distance, radius, opacity, smoothstep) in backward.
    Entries are the pixels of coverage ``c > 0`` (the reference also keeps some of alpha and gradient 0).
    """

    @staticmethod
    def forward(ctx, geo, chord, segs, reach, box, base, stride, oy, ox):
        lib, sfx = native.kernels(), native.suffix(geo.dtype)
        g = geo.detach().contiguous()
        cap = int(((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])).sum())
        stroke, pix = torch.empty(cap, dtype=torch.long), torch.empty(cap, dtype=torch.long)
        ys, xs = torch.empty(cap, dtype=torch.int32), torch.empty(cap, dtype=torch.int32)
        alpha, t0, inner = (torch.empty(cap, dtype=geo.dtype) for _ in range(3))
        e = getattr(lib, "b13_cover" + sfx)(
            g.shape[0], *map(native.ptr, (g, chord, segs, reach, box, base)), stride, oy, ox, _NEWTON_STEPS,
            cap, *map(native.ptr, (stroke, pix, ys, xs, alpha, t0, inner)),
        )  # fmt: skip
        if e < 0:
            raise RuntimeError("bezier13 native coverage: more entries than box pixels (a bug)")
        keep = (lambda t: t[:e].clone()) if e < cap // 2 else (lambda t: t[:e])
        stroke, pix, ys, xs, alpha, t0, inner = map(keep, (stroke, pix, ys, xs, alpha, t0, inner))
        ctx.save_for_backward(g, stroke, ys, xs, t0, inner)
        ctx.origin = (oy, ox)
        ctx.mark_non_differentiable(stroke, pix)
        return alpha, stroke, pix

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_alpha, *_):
        g, stroke, ys, xs, t0, inner = ctx.saved_tensors
        grad = torch.zeros(g.shape, dtype=torch.float64)
        ga = grad_alpha.to(g.dtype).contiguous()
        getattr(native.kernels(), "b13_cover_backward" + native.suffix(g.dtype))(
            stroke.numel(), *map(native.ptr, (g, stroke, ys, xs, t0, inner, ga)), *ctx.origin,
            native.ptr(grad),
        )  # fmt: skip
        return grad.to(g.dtype), *([None] * 8)


def _native_entries(geo, segs_all, visible, x_lo, x_hi, y_lo, y_hi, oy: int, ox: int, base, stride: int):
    """The entries of :func:`_entries_in_region` through the C kernel (CPU, float32/float64)."""
    m = geo.shape[0]
    with torch.no_grad():
        gd = geo.detach()
        chord = gd.new_zeros(m, 13, 2)  # (M, S + 1 <= 13, 2) seed polyline, as _coverage_entries builds it
        for s in (3, 6, 12):
            rows = (segs_all == s).nonzero().squeeze(1)
            if rows.numel():
                t = torch.linspace(0, 1, s + 1, dtype=gd.dtype)
                w0, w1, w2 = (1 - t) ** 2, 2 * t * (1 - t), t**2
                g = gd[rows]
                chord[rows, : s + 1, 0] = g[:, 0:1] * w0 + g[:, 2:3] * w1 + g[:, 4:5] * w2
                chord[rows, : s + 1, 1] = g[:, 1:2] * w0 + g[:, 3:4] * w1 + g[:, 5:6] * w2
        bend = (gd[:, 0:2] - 2 * gd[:, 2:4] + gd[:, 4:6]).norm(dim=1)
        sf = segs_all.to(gd.dtype)
        reach = (0.55 + bend / (4 * sf**2) + (gd[:, 7] - gd[:, 6]).abs() / sf).contiguous()
        box = torch.stack([y_lo - oy, x_lo - ox, y_hi - oy, x_hi - ox], 1).long()
        box = torch.where(visible[:, None], box, 0).contiguous()  # (M, 4) y0, x0, y1, x1 in the region
    return _NativeCoverage.apply(
        geo, chord, segs_all.contiguous(), reach, box, base.contiguous(), stride, oy, ox
    )


def _entries_in_region(
    geo: torch.Tensor, oy: int, ox: int, hr: int, wr: int, base: torch.Tensor, backend: str = "auto"
):
    """Sparse alpha of M strokes on the pixel region rows [oy, oy + hr), columns [ox, ox + wr).

    Each stroke is evaluated only inside its bounding box clipped to the region (and only on the pixels it
    can reach, see :func:`_coverage_entries`); strokes are grouped in buckets of similar box size and
    processed in chunks. With ``backend`` ``"auto"`` on a CPU float32/float64 tensor and the native kernels
    available (:mod:`common.native`), the same per-pixel computation runs in C, every box at its own size
    (no buckets); ``"torch"`` forces the pure path (the reference).

    Args:
        geo: (M, 10) pixel geometry, differentiable.
        base: (M,) long offset of each stroke's image in the flat pixel index (see Returns).
    Returns:
        ``alpha (E,)`` differentiable, ``stroke (E,)`` long row of ``geo``, ``pix (E,)`` long
        ``base[stroke] + y * wr + x`` with ``y, x`` the pixel position relative to the region; each
        (stroke, pixel) pair at most once, grouped by stroke in stroke order.
    """
    m, dev = geo.shape[0], geo.device
    alphas, strokes, ys, xs = [], [], [], []
    boxes = _boxes(geo)
    x_lo = torch.floor(boxes[:, 0]).clamp(ox, ox + wr)
    x_hi = torch.ceil(boxes[:, 2]).clamp(ox, ox + wr)
    y_lo = torch.floor(boxes[:, 1]).clamp(oy, oy + hr)
    y_hi = torch.ceil(boxes[:, 3]).clamp(oy, oy + hr)
    visible = (x_hi > x_lo) & (y_hi > y_lo)
    segs_all = _segments_per_stroke(geo)
    if m and backend != "torch" and native.usable(geo):
        return _native_entries(geo, segs_all, visible, x_lo, x_hi, y_lo, y_hi, oy, ox, base, wr)
    key = segs_all * 4096 + _bucket(y_hi - y_lo) * 64 + _bucket(x_hi - x_lo)
    key = torch.where(visible, key, -1).cpu()
    for kv in torch.unique(key).tolist() if m else []:
        if kv < 0:
            continue
        rows = (key == kv).nonzero().squeeze(1).to(dev)
        segs, ly, lx = kv // 4096, (kv // 64) % 64, kv % 64
        hc, wc = min(int(math.ceil(8 * 1.5**ly)), hr), min(int(math.ceil(8 * 1.5**lx)), wr)
        per_chunk = max(1, _CHUNK_ELEMS // (hc * wc * segs))
        for start in range(0, rows.numel(), per_chunk):
            r = rows[start : start + per_chunk]
            cx = x_lo[r].clamp(max=ox + wr - wc).long()  # crop origin, kept inside the region
            cy = y_lo[r].clamp(max=oy + hr - hc).long()
            alpha, j, iy, ix = _coverage_entries(geo[r], cy, cx, hc, wc, segs)  # (E,)
            alphas.append(alpha)
            strokes.append(r[j])
            ys.append(cy[j] - oy + iy)
            xs.append(cx[j] - ox + ix)
    if not alphas:
        empty = torch.zeros(0, dtype=torch.long, device=dev)
        return geo.new_zeros(0) + geo.sum() * 0, empty, empty
    stroke = torch.cat(strokes)
    return torch.cat(alphas), stroke, base[stroke] + torch.cat(ys) * wr + torch.cat(xs)


def bezier13_alpha(params: torch.Tensor, height: int, width: int, backend: str = "auto") -> torch.Tensor:
    """Coverage (alpha) of every stroke on a small canvas or patch.

    Args:
        params: (B, N, 13) or (B, N, 10) bezier13 strokes, float in [0, 1] (see module docstring; the
            colour, if present, is ignored).
        height, width: canvas size H, W in pixels.
        backend: ``"auto"`` or ``"torch"``, as in :func:`render_bezier13`.
    Returns:
        (B, N, H, W) alpha in [0, 1], same dtype/device as ``params``, differentiable in every geometry
        parameter. Memory is O(B * N * H * W): use :func:`render_bezier13` for large canvases.
    Raises:
        ValueError: wrong parameter shape.
    """
    _check_params(params)
    b, n, _ = params.shape
    geo = _to_pixels(params.reshape(b * n, -1), height, width)
    base = torch.arange(b * n, device=geo.device) * (height * width)
    alpha, _, pix = _entries_in_region(geo, 0, 0, height, width, base, backend)
    out = alpha.new_zeros(b * n * height * width)
    return out.index_put((pix,), alpha).view(b, n, height, width)


def render_bezier13(
    params: torch.Tensor,
    canvas: torch.Tensor,
    max_entries: int = _MAX_ENTRIES,
    layers: str = "auto",
    backend: str = "auto",
) -> torch.Tensor:
    """Composite bezier13 strokes in order (stroke 0 first) "over" a canvas.

    Every stroke is evaluated only on the pixels of its bounding box that it can reach, and composited
    with the box-over operation :func:`common.compositing.composite_entries` (cost proportional to the
    covered pixels, exact sequential "over" in stroke order). The B images of the batch are painted
    together (segpaint's windows are B images). Strokes go in segments of consecutive strokes whose boxes
    hold at most ``max_entries`` pixels (:func:`common.compositing.composite_in_segments`); with more than
    one segment and gradients on, segments are checkpointed, so memory is bounded by the budget, not by N.

    Args:
        params: (B, N, 13) strokes, float in [0, 1] (format in the module docstring).
        canvas: (B, 3, H, W) float in [0, 1].
        max_entries: box pixels per segment (about 250 bytes each with gradients, float32).
        layers: depth layers of the compositing: ``"index"`` (layer n = stroke n of every image; few
            strokes per image), ``"boxes"`` (:func:`common.compositing.box_layers`: fewer layers when
            strokes overlap little, at the cost of one small step per stroke), ``"auto"`` (``"index"`` up
            to 256 strokes per image). The native compositing needs no layers.
        backend: ``"auto"`` (the native kernels on CPU float32/float64 tensors when available) or
            ``"torch"`` (the pure PyTorch reference).
    Returns:
        (B, 3, H, W) painted canvas in [0, 1]; differentiable in ``params`` and ``canvas``.
    Raises:
        ValueError: wrong shapes, an unknown ``layers`` or ``backend``.
    """
    _check_params(params, allowed=(13,))
    if canvas.dim() != 4 or canvas.shape[1] != 3 or canvas.shape[0] != params.shape[0]:
        raise ValueError(f"canvas must be (B, 3, H, W) with B={params.shape[0]}, got {tuple(canvas.shape)}")
    if layers not in ("auto", "index", "boxes"):
        raise ValueError(f"layers must be 'auto', 'index' or 'boxes', got {layers!r}")
    if backend not in ("auto", "torch"):
        raise ValueError(f"backend must be 'auto' or 'torch', got {backend!r}")
    b, n, _ = params.shape
    h, w = canvas.shape[-2:]
    if layers == "auto":
        layers = "index" if n <= 256 else "boxes"
    with torch.no_grad():
        bx = _boxes(_to_pixels(params.detach().reshape(b * n, 13), h, w)).view(b, n, 4)
        area = (bx[..., 2].clamp(0, w) - bx[..., 0].clamp(0, w)).clamp_min(0) * (
            bx[..., 3].clamp(0, h) - bx[..., 1].clamp(0, h)
        ).clamp_min(0)  # (B, N) box pixels
        cost = area.sum(0)  # (N,) per stroke index, all images

    def paint(out: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
        k = hi - lo
        sub = params[:, lo:hi].reshape(b * k, 13)  # stroke s = image * k + index
        geo = _to_pixels(sub, h, w)
        base = torch.arange(b, device=params.device).repeat_interleave(k) * (h * w)  # (b * k,) image offset
        alpha, stroke, pix = _entries_in_region(geo, 0, 0, h, w, base, backend)
        if layers == "index":
            layer = torch.arange(k, device=params.device).repeat(b)
        else:
            boxes = _boxes(geo.detach())
            ib = torch.cat(
                [
                    torch.arange(b, device=params.device).repeat_interleave(k)[:, None],
                    torch.floor(boxes[:, [1, 0]]).long(),
                    torch.ceil(boxes[:, [3, 2]]).long(),
                ],
                1,
            )  # (b * k, 5) image, y0, x0, y1, x1
            layer = box_layers(ib, b, h, w)
        return composite_entries(out, pix, alpha, sub[:, 10:13], stroke, layer, backend=backend)

    return composite_in_segments(canvas, cost, max_entries, paint)


class Bezier13Renderer(nn.Module):
    """``nn.Module`` wrapper of :func:`render_bezier13`.

    ``forward(params (B, N, 13), canvas (B, 3, H, W)) -> (B, 3, H, W)``."""

    def __init__(self, max_entries: int = _MAX_ENTRIES):
        super().__init__()
        self.max_entries = max_entries

    def forward(self, params: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
        return render_bezier13(params, canvas, max_entries=self.max_entries)
