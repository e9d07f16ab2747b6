"""Oil-brush stroke renderer (the ``oil`` stroke format of CNP and Paint Transformer).

Shape letters: B batch, N strokes, P = 8 parameters per stroke, H, W canvas size.

Format ``oil``: each stroke is ``(x, y, w, h, theta, R, G, B)``, all 8 values in [0, 1]:

- ``x, y``: stroke centre, x = column / W, y = row / H.
- ``w``: stroke length, ``h``: stroke thickness, both fractions of the canvas's shorter side
  ``S = min(H, W)`` (so a stroke with ``w = h`` is square in pixels on any canvas).
- ``theta``: rotation of the length axis from the +x axis, ``angle = pi * theta`` radians in [0, pi),
  clockwise on screen because y points down.
- ``R, G, B``: stroke colour, sRGB in [0, 1].

Rendering follows CNP's ``draw_oil`` / Paint Transformer's brush warp: a grayscale brush texture
(intensity and alpha) is affinely warped onto the canvas with ``grid_sample`` (bilinear), the stroke's
foreground is ``intensity * RGB`` and it is composited with the "over" operator
``C <- C * (1 - alpha) + alpha * intensity * RGB``.

Departures from the release (documented here once):

- The brush texture is procedural, made by :func:`brush_texture` (bristle streaks, ragged tips and a
  soft super-ellipse outline), not the release's PNG images. One texture is used for every stroke,
  with its bristles along the length axis ``w`` (the release switches between a "vertical" and a
  "horizontal" image when ``h > w``, which makes the renderer discontinuous).
- The alpha map is the warped soft outline (values in [0, 1]), not ``texture > 0`` followed by a 3x3
  dilation/erosion: a soft edge gives useful gradients for position, size and angle.
- Stroke length and thickness are clamped below at 0.5 px so that a zero size cannot divide by zero.

Large canvases: :func:`render_oil` never allocates ``N x H x W``; every stroke is rendered inside its
own bounding box (strokes are grouped by box size and rendered in chunks bounded by a pixel budget)
and composited in order. With gradients on, each chunk (segment of consecutive strokes) is
checkpointed: autograd keeps one canvas per segment, and a segment's intermediates exist only while
it is rendered or recomputed in backward, so peak memory is set by ``pixel_budget``, not by N.
Compositing is the box-over operation of :mod:`common.compositing` (strokes whose boxes do not meet
are composited together, in place, with a custom backward): forward values and gradients are those of
sequential "over" in stroke order.
:func:`oil_maps` / :func:`oil_alpha` give full-canvas maps for patches.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from common.compositing import box_layers, composite_in_segments, composite_patches, composite_sequential
from common.strokes import STROKE_FORMATS

FORMAT = "oil"
PARAM_NAMES = STROKE_FORMATS[FORMAT].param_names  # the registry's (common.strokes)
NUM_PARAMS = 8

TEXTURE_SIZE = 256
# Outline of the brush in normalised texture coordinates (u along the length, v across):
# inside where (|u| / OUTLINE_U) ** OUTLINE_POW + (|v| / OUTLINE_V) ** OUTLINE_POW <= 1.
OUTLINE_U = 0.92
OUTLINE_V = 0.9
OUTLINE_POW = 4.0
MIN_SIZE_PX = 0.5
# Texture is zero beyond |u|, |v| > 0.96, so a stroke's box is its half extents plus this margin (px).
_BOX_MARGIN_PX = 2.0


def _check_params(params: torch.Tensor) -> None:
    if params.dim() != 3 or params.shape[-1] != NUM_PARAMS:
        raise ValueError(
            f"oil strokes must have shape (B, N, 8) = (x, y, w, h, theta, R, G, B), got {tuple(params.shape)}"
        )


@lru_cache(maxsize=8)
def _texture_cached(size: int, seed: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    return _make_texture(size, seed).to(device=device, dtype=dtype)


def _make_texture(size: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    lin = (torch.arange(size, dtype=torch.float64) + 0.5) / size * 2 - 1  # texel centres in (-1, 1)
    v, u = torch.meshgrid(lin, lin, indexing="ij")  # rows = v (across), cols = u (along the length)
    # Bristles: a smooth random function of v, constant along u (streaks along the stroke).
    streak = torch.zeros(size, dtype=torch.float64)
    for freq in (3, 7, 13, 23, 41):
        phase = torch.rand(1, generator=gen, dtype=torch.float64) * 2 * math.pi
        amp = torch.rand(1, generator=gen, dtype=torch.float64) / math.sqrt(freq)
        streak = streak + amp * torch.sin(freq * math.pi * lin + phase)
    streak = (streak - streak.min()) / (streak.max() - streak.min())  # [0, 1]
    # Ragged bristle tips: each bristle row ends a little earlier or later.
    tip = 1.0 - 0.06 * streak
    along = 0.5 + 0.5 * torch.cos(2.5 * math.pi * u + 1.3)  # slow paint-load variation along the stroke
    intensity = 0.82 + 0.12 * streak[:, None] + 0.06 * along
    r = (u.abs() / (OUTLINE_U * tip[:, None])) ** OUTLINE_POW + (v.abs() / OUTLINE_V) ** OUTLINE_POW
    soft = 3.0 / size * OUTLINE_POW  # outline softness, a few texels
    alpha = torch.clamp((1.0 - r) / soft + 0.5, 0.0, 1.0)
    alpha = alpha * alpha * (3 - 2 * alpha)  # smoothstep
    alpha[(u.abs() > 0.96) | (v.abs() > 0.96)] = 0.0
    return torch.stack([intensity.clamp(0, 1), alpha])[None].float()  # (1, 2, T, T)


def brush_texture(size: int = TEXTURE_SIZE, seed: int = 0, device=None, dtype=torch.float32) -> torch.Tensor:
    """Procedural bristle-brush texture, generated by this code (no image files).

    Args:
        size: texture side in texels.
        seed: seed of the bristle pattern (the default 0 is the one every renderer uses).
        device, dtype: where the texture lives.

    Returns:
        ``(1, 2, size, size)`` tensor in [0, 1]: channel 0 the brush intensity (bristle streaks running
        along the texture's x axis, about 0.82 to 1.0 inside the brush), channel 1 the alpha (soft
        super-ellipse outline with ragged tips, exactly 0 outside ``|u|, |v| <= 0.96``).
    """
    return _texture_cached(size, seed, str(torch.device(device or "cpu")), dtype)


def _local_coords(params: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, height: int, width: int):
    """Texture coordinates (u, v) of pixel centres ``xs`` (..., W') and ``ys`` (..., H', 1) in pixels.

    ``params``: (M, 8). ``xs``: (M, 1, W') or (1, W'); ``ys``: (M, H', 1) or (H', 1). Returns two
    (M, H', W') tensors in texture units ([-1, 1] spans the stroke's length/thickness).
    """
    short = float(min(height, width))
    cx = params[:, 0, None, None] * width
    cy = params[:, 1, None, None] * height
    half_len = (params[:, 2, None, None] * short).clamp_min(MIN_SIZE_PX) / 2
    half_thk = (params[:, 3, None, None] * short).clamp_min(MIN_SIZE_PX) / 2
    ang = params[:, 4, None, None] * math.pi
    cos, sin = torch.cos(ang), torch.sin(ang)
    dx, dy = xs - cx, ys - cy
    u = (dx * cos + dy * sin) / half_len
    v = (-dx * sin + dy * cos) / half_thk
    return u, v


def _sample(u: torch.Tensor, v: torch.Tensor, texture: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup of the texture at (u, v) (M, H', W'); returns (M, 2, H', W')."""
    m, hh, ww = u.shape
    grid = torch.stack([u, v], dim=-1).reshape(1, m * hh, ww, 2)  # one batch: no texture copies
    out = F.grid_sample(texture, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.reshape(2, m, hh, ww).transpose(0, 1)  # (M, 2, H', W')


def oil_maps(params: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-canvas intensity and alpha maps of every stroke (for small canvases and patches).

    Args:
        params: (B, N, 8) ``oil`` strokes in [0, 1] (see the module docstring).
        height, width: canvas size in pixels.

    Returns:
        ``(intensity, alpha)``, each (B, N, H, W) in [0, 1]; differentiable in ``params``.
        Allocates B x N x H x W: use :func:`render_oil` for large canvases.

    Raises:
        ValueError: if ``params`` is not (B, N, 8).
    """
    _check_params(params)
    b, n, _ = params.shape
    flat = params.reshape(b * n, NUM_PARAMS)
    xs = torch.arange(width, device=params.device, dtype=params.dtype) + 0.5
    ys = torch.arange(height, device=params.device, dtype=params.dtype)[:, None] + 0.5
    u, v = _local_coords(flat, xs, ys, height, width)
    maps = _sample(u, v, brush_texture(device=params.device, dtype=params.dtype))
    maps = maps.reshape(b, n, 2, height, width)
    return maps[:, :, 0], maps[:, :, 1]


def oil_alpha(params: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Coverage (alpha) of every stroke on a small canvas: (B, N, 8) -> (B, N, H, W) in [0, 1]."""
    return oil_maps(params, height, width)[1]


def oil_edge(alpha: torch.Tensor, threshold: float = 0.2) -> torch.Tensor:
    """Stroke-edge map E_s used by CNP's DT loss (release's ``draw_oil_edge``, made soft).

    Args:
        alpha: (..., H, W) stroke alpha in [0, 1].
        threshold: Laplacian response mapped to 1 (the release thresholds at 0.2).

    Returns:
        (..., H, W) edge strength in [0, 1]: the 3x3 Laplacian (centre 8, neighbours -1) of the alpha
        eroded by a 3x3 min filter, clamped to ``[0, threshold]`` and divided by ``threshold``.
    """
    shape = alpha.shape
    a = alpha.reshape(-1, 1, *shape[-2:])
    eroded = -F.max_pool2d(-a, 3, stride=1, padding=1)
    kernel = -torch.ones(1, 1, 3, 3, dtype=a.dtype, device=a.device)
    kernel[0, 0, 1, 1] = 8.0
    lap = F.conv2d(F.pad(eroded, (1, 1, 1, 1), mode="replicate"), kernel)
    return (lap.clamp(0, threshold) / threshold).reshape(shape)


def _composite_full(params: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
    intensity, alpha = oil_maps(params, canvas.shape[-2], canvas.shape[-1])  # (B, N, H, W) each
    fg = intensity[:, :, None] * params[..., 5:8, None, None]  # (B, N, 3, H, W)
    return composite_sequential(canvas, fg, alpha[:, :, None])


def stroke_boxes(params: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Integer pixel bounding boxes of strokes, clipped to the canvas.

    Args:
        params: (M, 8) or (B, N, 8) ``oil`` strokes.

    Returns:
        long tensor (..., 4) with ``(x0, y0, x1, y1)``, half-open pixel ranges; every pixel outside
        the box has alpha exactly 0.
    """
    p = params.detach()
    short = float(min(height, width))
    half_len = (p[..., 2] * short).clamp_min(MIN_SIZE_PX) / 2
    half_thk = (p[..., 3] * short).clamp_min(MIN_SIZE_PX) / 2
    ang = p[..., 4] * math.pi
    ex = (half_len * torch.cos(ang)).abs() + (half_thk * torch.sin(ang)).abs() + _BOX_MARGIN_PX
    ey = (half_len * torch.sin(ang)).abs() + (half_thk * torch.cos(ang)).abs() + _BOX_MARGIN_PX
    cx, cy = p[..., 0] * width, p[..., 1] * height
    x0 = torch.floor(cx - ex).clamp(0, width)
    x1 = torch.ceil(cx + ex).clamp(0, width)
    y0 = torch.floor(cy - ey).clamp(0, height)
    y1 = torch.ceil(cy + ey).clamp(0, height)
    return torch.stack([x0, y0, x1, y1], dim=-1).long()


def _area(box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _render_boxes(params: torch.Tensor, canvas: torch.Tensor, pixel_budget: int) -> torch.Tensor:
    """Bounding-box renderer: (B, N, 8) strokes composited in order onto (B, 3, H, W).

    Strokes are split into segments of consecutive strokes whose boxes (for the whole batch) fit
    ``pixel_budget``, painted with :func:`common.compositing.composite_in_segments` (checkpointed when
    gradients are on: autograd keeps only each segment's input canvas).
    """
    b, n, _ = params.shape
    height, width = canvas.shape[-2:]
    texture = brush_texture(device=params.device, dtype=params.dtype)
    flat = params.reshape(b * n, NUM_PARAMS)
    boxes = stroke_boxes(flat, height, width).tolist()  # (B*N, 4)
    cost = [sum(_area(boxes[i * n + j]) for i in range(b)) for j in range(n)]

    def paint(out: torch.Tensor, start: int, end: int) -> torch.Tensor:
        idx = [i * n + j for j in range(start, end) for i in range(b)]
        return _composite_segment(out, flat, idx, boxes, texture, n)

    return composite_in_segments(canvas, cost, pixel_budget, paint)


def _composite_segment(canvas, flat, idx, boxes, texture, n) -> torch.Tensor:
    """Strokes ``idx`` (indices into ``flat`` = (B*N, 8), in painting order per image) composited onto
    ``canvas`` with the box-over operation: each size group's windows are one bucket of patches."""
    b = canvas.shape[0]
    height, width = canvas.shape[-2:]
    todo = [k for k in idx if boxes[k][2] > boxes[k][0] and boxes[k][3] > boxes[k][1]]
    if not todo:
        return canvas
    rank = {k: r for r, k in enumerate(todo)}  # stroke index of the compositing (painting order)
    dev = flat.device
    alphas, colors, origins, strokes = [], [], [], []
    for group, ox, oy, maps in _render_segment(flat, todo, boxes, texture, height, width):
        g = torch.tensor(group, device=dev)
        alphas.append(maps[:, 1])  # (G, h', w')
        colors.append(maps[:, 0:1] * flat[g, 5:8, None, None])  # (G, 3, h', w') intensity * RGB
        origins.append(torch.stack([g // n, oy.long(), ox.long()], 1))
        strokes.append(torch.tensor([rank[k] for k in group], device=dev))
    box = torch.tensor(
        [[k // n, boxes[k][1], boxes[k][0], boxes[k][3], boxes[k][2]] for k in todo], device=dev
    )
    layer = box_layers(box, b, height, width)  # exact boxes: every pixel outside has alpha 0
    return composite_patches(canvas, alphas, colors, origins, strokes, len(todo), layer=layer)


def _render_segment(flat, idx, boxes, texture, height, width) -> list:
    """Intensity/alpha windows of strokes ``idx``, rendered in groups of similar box size.

    Returns a list of ``(group, ox, oy, maps)``: stroke indices (G,), window origins ``ox, oy`` (G,) in
    pixels (float), and ``maps`` (G, 2, h', w') intensity and alpha on the group's common window (every
    window lies inside the canvas and contains its stroke's box; alpha is 0 outside the box)."""
    order = sorted(idx, key=lambda k: _area(boxes[k]))
    groups: list = []
    group_pixels = 1 << 18
    i = 0
    while i < len(order):
        # Grow a group while the padded window (max h' x max w') stays small relative to the budget.
        j, hh, ww = i, 1, 1
        while j < len(order):
            x0, y0, x1, y1 = boxes[order[j]]
            nh, nw = max(hh, y1 - y0), max(ww, x1 - x0)
            if j > i and (nh * nw * (j - i + 1) > group_pixels or nh * nw > 2 * hh * ww + 64):
                break
            hh, ww, j = nh, nw, j + 1
        group = order[i:j]
        # Window origins: the stroke's box, shifted inside the canvas when the window is larger.
        kw = {"dtype": flat.dtype, "device": flat.device}
        ox = torch.tensor([min(boxes[k][0], width - ww) for k in group], **kw)
        oy = torch.tensor([min(boxes[k][1], height - hh) for k in group], **kw)
        xs = ox[:, None, None] + torch.arange(ww, dtype=flat.dtype, device=flat.device) + 0.5  # (G, 1, w')
        ys = oy[:, None, None] + torch.arange(hh, dtype=flat.dtype, device=flat.device)[:, None] + 0.5
        u, v = _local_coords(flat[group], xs, ys, height, width)
        groups.append((group, ox, oy, _sample(u, v, texture)))  # maps (G, 2, h', w')
        i = j
    return groups


def render_oil(
    params: torch.Tensor,
    canvas: torch.Tensor,
    use_boxes: bool | None = None,
    pixel_budget: int = 1 << 22,
) -> torch.Tensor:
    """Composite ``oil`` strokes, in order, onto a canvas.

    ``C <- C * (1 - alpha_i) + alpha_i * intensity_i * RGB_i`` for i = 1..N (CNP / Paint Transformer).

    Args:
        params: (B, N, 8) strokes in [0, 1] (see the module docstring); float32 or float64.
        canvas: (B, 3, H, W) float in [0, 1], same device and dtype.
        use_boxes: render each stroke inside its bounding box (never N x H x W); ``False`` renders
            full-canvas maps (small canvases only); ``None`` picks boxes when ``B * N * H * W``
            exceeds 2**20.
        pixel_budget: with boxes, the most box pixels rendered at once (one segment of consecutive
            strokes). With gradients on, segments are checkpointed, so forward + backward memory is
            about one segment's intermediates plus one (B, 3, H, W) canvas per segment; the forward
            pass is recomputed segment by segment in backward.

    Returns:
        (B, 3, H, W) canvas in [0, 1]; differentiable in ``params`` and ``canvas``.

    Raises:
        ValueError: on a wrong stroke or canvas shape.
    """
    _check_params(params)
    if canvas.dim() != 4 or canvas.shape[1] != 3 or canvas.shape[0] != params.shape[0]:
        raise ValueError(f"canvas must be (B, 3, H, W) with B = {params.shape[0]}, got {tuple(canvas.shape)}")
    b, n, _ = params.shape
    if n == 0:
        return canvas
    if use_boxes is None:
        use_boxes = b * n * canvas.shape[-2] * canvas.shape[-1] > (1 << 20)
    if use_boxes:
        return _render_boxes(params, canvas, pixel_budget)
    return _composite_full(params, canvas)


class OilRenderer(nn.Module):
    """``nn.Module`` wrapper of :func:`render_oil` (no parameters)."""

    def forward(self, params: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
        return render_oil(params, canvas)


def oil_svg_elements(params: torch.Tensor, height: int, width: int, points: int = 48) -> list[str]:
    """SVG ``<path>`` elements approximating ``oil`` strokes (outline and mean colour, no bristles).

    Args:
        params: (N, 8) strokes. height, width: canvas size in pixels (SVG user units).
        points: vertices of each outline polygon.

    Returns:
        one ``<path>`` string per stroke, in painting order: the brush outline's alpha = 0.5 contour in
        texture coordinates, mapped by the stroke's affine transform, filled with
        ``mean intensity * RGB``.
    """
    p = params.detach().double().cpu().reshape(-1, NUM_PARAMS)
    short = float(min(height, width))
    t = torch.linspace(0, 2 * math.pi, points + 1, dtype=torch.float64)[:-1]
    c, s = torch.cos(t), torch.sin(t)
    e = 2.0 / OUTLINE_POW
    uu = OUTLINE_U * 0.97 * c.sign() * c.abs() ** e
    vv = OUTLINE_V * s.sign() * s.abs() ** e
    mean_intensity = 0.91
    out = []
    for row in p.tolist():
        x, y, w, h, th, r, g, b = row
        hl = max(w * short, MIN_SIZE_PX) / 2
        ht = max(h * short, MIN_SIZE_PX) / 2
        a = th * math.pi
        ca, sa = math.cos(a), math.sin(a)
        px = x * width + uu * hl * ca - vv * ht * sa
        py = y * height + uu * hl * sa + vv * ht * ca
        d = "M" + " L".join(f"{X:.2f},{Y:.2f}" for X, Y in zip(px.tolist(), py.tolist(), strict=True)) + " Z"
        col = [max(0, min(255, round(255 * mean_intensity * q))) for q in (r, g, b)]
        out.append(f'<path d="{d}" fill="rgb({col[0]},{col[1]},{col[2]})"/>')
    return out
