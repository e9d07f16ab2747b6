"""SVG export of every stroke format, and SVG rasterisation (resvg) for checks against the tensor renderers.

Shape letters: N strokes, P parameters per stroke, S samples along a curve, H, W canvas size in pixels.

Coordinates: one SVG user unit = one canvas pixel; normalised ``(x, y)`` maps to ``(x * W, y * H)`` and pixel
``(row i, column j)`` covers ``[j, j + 1] x [i, i + 1]``, the convention of every StrokeLab renderer. Colours
are sRGB; SVG's "source-over" with ``opacity`` is the same "over" compositing the renderers use, in the same
order (the first stroke is painted first).

How each format is written (``strokes_to_svg`` dispatches on the format name):

- ``oil`` ``(N, 8)``: the oil renderer's own outline (``common.renderers.oil.oil_svg_elements``: the brush's
  outline under the stroke's affine transform, filled with the mean brush intensity times the colour); a
  rotated rounded rectangle when that function is not available.
- ``bezier13`` ``(N, 13)``: a ``<g>`` of short opaque round-capped ``<path>`` segments whose ``stroke-width``
  follows the radius r0 -> r2; the group carries the opacity (``opacity``, or a gradient mask t0 -> t2 along
  the chord), so overlapping caps are painted once.
- ``curve`` ``(N, 13)`` rows ``x0..y3, width, R, G, B, A``: a cubic ``<path>`` with ``stroke-width``,
  ``stroke-opacity`` and ``stroke-linecap="round"``; with a width profile ``(N, T)`` a group of segments.
- ``dots`` ``(N, 6)`` ``x, y, radius, R, G, B`` (or ``(N, 7)`` with opacity): ``<circle>`` elements;
  :func:`dots_to_svg` writes a plotter-ready document sized in millimetres.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from common.errors import StrokeFormatError
from common.strokes import stroke_format

__all__ = [
    "svg_document",
    "write_svg",
    "rasterize_svg",
    "strokes_to_svg",
    "oil_to_svg_elements",
    "bezier13_to_svg_elements",
    "curves_to_svg_elements",
    "dots_to_svg_elements",
    "dots_to_svg",
    "svg_color",
]


def svg_color(rgb: Sequence[float]) -> str:
    """sRGB floats in [0, 1] (clipped) -> ``"#rrggbb"``."""
    r, g, b = (max(0, min(255, round(255 * float(c)))) for c in rgb[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _f(value: float) -> str:
    """Compact number for SVG attributes (3 decimals, no trailing zeros)."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def svg_document(
    width_px: int,
    height_px: int,
    elements: Sequence[str],
    background: Sequence[float] | None = None,
    size: tuple[str, str] | None = None,
) -> str:
    """A complete SVG document whose user units are the canvas pixels.

    Args:
        width_px, height_px: canvas size in pixels (the ``viewBox``).
        elements: SVG element strings, painted in order.
        background: canvas colour (3 floats in [0, 1]) drawn as a full-size ``<rect>``, or None (transparent).
        size: physical ``(width, height)`` attribute strings, e.g. ``("210mm", "148.5mm")``; default pixels.

    Returns:
        The SVG text.
    """
    w, h = size if size is not None else (str(int(width_px)), str(int(height_px)))
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" '
        f'viewBox="0 0 {int(width_px)} {int(height_px)}">'
    )
    body = []
    if background is not None:
        body.append(
            f'<rect x="0" y="0" width="{int(width_px)}" height="{int(height_px)}" '
            f'fill="{svg_color(background)}"/>'
        )
    body.extend(elements)
    return "\n".join([head, *body, "</svg>"]) + "\n"


def write_svg(path: str | os.PathLike, svg_text: str) -> Path:
    """Write SVG text to ``path`` atomically (temporary name, then rename). Returns ``Path(path)``.

    Raises:
        OutputDirError: the folder cannot be written.
    """
    from common.image_io import atomic_write

    with atomic_write(path, "w") as handle:
        handle.write(svg_text)
    return Path(path)


def rasterize_svg(svg_text: str, width_px: int, height_px: int) -> torch.Tensor:
    """Render SVG text with resvg (anti-aliased) to ``(1, 3, height_px, width_px)`` float32 in [0, 1].

    Transparent parts are composited over white. The SVG is scaled to the requested size.

    Raises:
        ValueError: invalid SVG (resvg's message).
    """
    import io

    import resvg_py
    from PIL import Image

    png = resvg_py.svg_to_bytes(
        svg_string=svg_text, width=int(width_px), height=int(height_px), skip_system_fonts=True
    )
    with Image.open(io.BytesIO(bytes(png))) as im:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
    if rgba.shape[:2] != (height_px, width_px):
        raise ValueError(f"resvg returned {rgba.shape[1]}x{rgba.shape[0]}, expected {width_px}x{height_px}")
    alpha = rgba[..., 3:4]
    rgb = rgba[..., :3] * alpha + (1.0 - alpha)
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]


def _rows(params: torch.Tensor | np.ndarray, fmt: str, widths: Sequence[int]) -> np.ndarray:
    arr = torch.as_tensor(params).detach().cpu().double().numpy()
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2 or arr.shape[1] not in widths:
        raise StrokeFormatError(
            f"{fmt} strokes must be (N, {' or '.join(map(str, widths))}) rows, got shape {tuple(arr.shape)}"
        )
    return arr


# ----------------------------------------------------------------------------------------------------------
# curves of varying width and opacity


def _segment_group(
    points: np.ndarray, radii: np.ndarray, color: str, opacity: str, canvas: tuple[int, int], gid: str | None
) -> str:
    """A stroke of varying width as ``<g>`` of opaque round-capped segments, made transparent as a whole.

    The union of the opaque segments is painted once and the group's opacity (or mask) applied after, so
    overlapping caps never darken the stroke. ``opacity`` is either a number string (``<g opacity>``) or a
    pair ``"o0,o2"`` with the gradient end points encoded in ``gid`` (see callers).

    Args:
        points: ``(S + 1, 2)`` curve samples in pixels. radii: ``(S + 1,)`` half widths in pixels.
        color: ``"#rrggbb"``. opacity: see above. canvas: ``(W, H)`` for the mask region.
        gid: id of a ``<linearGradient>`` of white with the stroke's opacities, or None for constant opacity.
    """
    segs = []
    for i in range(len(points) - 1):
        a, b = points[i], points[i + 1]
        segs.append(
            f'<path d="M{_f(a[0])},{_f(a[1])} L{_f(b[0])},{_f(b[1])}" '
            f'stroke-width="{_f(radii[i] + radii[i + 1])}"/>'
        )
    style = f'fill="none" stroke="{color}" stroke-linecap="round" stroke-linejoin="round"'
    if gid is None:
        return f'<g opacity="{opacity}" {style}>' + "".join(segs) + "</g>"
    w, h = canvas
    mask = (
        f'<mask id="{gid}m" maskUnits="userSpaceOnUse" x="0" y="0" width="{w}" height="{h}">'
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="url(#{gid})"/></mask>'
    )
    return mask + f'<g mask="url(#{gid}m)" {style}>' + "".join(segs) + "</g>"


def _quadratic(p0, p1, p2, t):
    t = t[:, None]
    pts = (1 - t) ** 2 * p0 + 2 * t * (1 - t) * p1 + t**2 * p2
    der = 2 * (1 - t) * (p1 - p0) + 2 * t * (p2 - p1)
    return pts, der


def _cubic(p0, p1, p2, p3, t):
    t = t[:, None]
    pts = (1 - t) ** 3 * p0 + 3 * t * (1 - t) ** 2 * p1 + 3 * t**2 * (1 - t) * p2 + t**3 * p3
    der = 3 * (1 - t) ** 2 * (p1 - p0) + 6 * t * (1 - t) * (p2 - p1) + 3 * t**2 * (p3 - p2)
    return pts, der


def _segments_for(points_px: np.ndarray, lo: int = 8, hi: int = 64) -> int:
    """Samples along a curve: about one per 3 px of control-polygon length, within [lo, hi]."""
    length = float(np.linalg.norm(np.diff(points_px, axis=0), axis=1).sum())
    return int(min(hi, max(lo, math.ceil(length / 3.0))))


# ----------------------------------------------------------------------------------------------------------
# formats


def oil_to_svg_elements(params: torch.Tensor | np.ndarray, height: int, width: int) -> list[str]:
    """SVG elements of ``oil`` strokes ``(N, 8)`` = ``(x, y, w, h, theta, R, G, B)`` (format in
    ``common.renderers.oil``). Uses the oil renderer's outline when available, else a rotated rounded
    rectangle of length ``w * min(H, W)``, thickness ``h * min(H, W)``, angle ``pi * theta`` (clockwise on
    screen).

    Raises:
        StrokeFormatError: not ``(N, 8)``.
    """
    rows = _rows(params, "oil", (8,))
    try:
        from common.renderers.oil import oil_svg_elements
    except ImportError:
        oil_svg_elements = None
    if oil_svg_elements is not None:
        return list(oil_svg_elements(torch.from_numpy(rows), height, width))
    short = float(min(height, width))
    out = []
    for x, y, w, h, theta, r, g, b in rows:
        length, thick = max(w * short, 0.5), max(h * short, 0.5)
        cx, cy, deg = x * width, y * height, math.degrees(math.pi * theta)
        out.append(
            f'<rect x="{_f(-length / 2)}" y="{_f(-thick / 2)}" width="{_f(length)}" height="{_f(thick)}" '
            f'rx="{_f(thick / 2)}" fill="{svg_color((r, g, b))}" '
            f'transform="translate({_f(cx)},{_f(cy)}) rotate({_f(deg)})"/>'
        )
    return out


def bezier13_to_svg_elements(
    params: torch.Tensor | np.ndarray,
    height: int,
    width: int,
    segments: int | None = None,
    prefix: str = "b13",
) -> list[str]:
    """SVG elements of ``bezier13`` strokes ``(N, 13)`` (format in ``common.renderers.bezier13``).

    Each stroke is a ``<g>`` of S short opaque path segments (``stroke-width`` = the local diameter, round
    caps, so the radius interpolated r0 -> r2 is followed); the group gets the stroke's opacity:
    ``opacity="t0"`` when t0 == t2, else a mask holding a linear gradient t0 -> t2 along the chord P0 -> P2
    (the renderer's curve parameter t, projected on the chord). Radius in pixels
    ``(0.5 + 32 r) / 128 * min(H, W)``.

    Args:
        params: ``(N, 13)`` rows in [0, 1].
        height, width: canvas size in pixels.
        segments: samples S along each curve (default: about one per 3 px, 8 to 64).
        prefix: id prefix of the gradients/masks (unique ids when several sets share a document).

    Returns:
        SVG element strings, one per stroke (with its ``<linearGradient>``/``<mask>`` when t0 != t2).

    Raises:
        StrokeFormatError: not ``(N, 13)``.
    """
    rows = _rows(params, "bezier13", (13,))
    short = float(min(height, width))
    scale = np.array([width, height], dtype=np.float64)
    out = []
    for k, row in enumerate(rows):
        p0, p1, p2 = row[0:2] * scale, row[2:4] * scale, row[4:6] * scale
        rad0, rad2 = ((0.5 + 32.0 * row[6]) / 128.0 * short, (0.5 + 32.0 * row[7]) / 128.0 * short)
        o0, o2 = float(np.clip(row[8], 0, 1)), float(np.clip(row[9], 0, 1))
        color = svg_color(row[10:13])
        n = segments or _segments_for(np.stack([p0, p1, p2]))
        t = np.linspace(0.0, 1.0, n + 1)
        pts, _ = _quadratic(p0, p1, p2, t)
        radii = rad0 + t * (rad2 - rad0)
        if abs(o0 - o2) < 1e-3:
            out.append(_segment_group(pts, radii, color, _f((o0 + o2) / 2), (width, height), None))
            continue
        chord = p2 - p0
        if np.linalg.norm(chord) < 1e-6:
            chord = np.array([1e-3, 0.0])
        end = p0 + chord
        gid = f"{prefix}g{k}"
        gradient = (
            f'<linearGradient id="{gid}" gradientUnits="userSpaceOnUse" '
            f'x1="{_f(p0[0])}" y1="{_f(p0[1])}" x2="{_f(end[0])}" y2="{_f(end[1])}">'
            f'<stop offset="0" stop-color="#ffffff" stop-opacity="{_f(o0)}"/>'
            f'<stop offset="1" stop-color="#ffffff" stop-opacity="{_f(o2)}"/></linearGradient>'
        )
        out.append(gradient + _segment_group(pts, radii, color, "", (width, height), gid))
    return out


def curves_to_svg_elements(
    params: torch.Tensor | np.ndarray,
    height: int,
    width: int,
    widths: torch.Tensor | np.ndarray | None = None,
) -> list[str]:
    """SVG elements of ``curve`` strokes given as JSON rows ``(N, 13)`` = ``x0..y3, width, R, G, B, A``.

    Args:
        params: ``(N, 13)``; control points normalised, ``width`` the full stroke width as a fraction of
            ``min(H, W)``, RGBA in [0, 1] (format in ``common.renderers.curve``).
        height, width: canvas size in pixels.
        widths: optional ``(N, T)`` width profile (T >= 2 samples along t, linearly interpolated); strokes
            are then written as groups of short round-capped segments (see :func:`bezier13_to_svg_elements`).

    Returns:
        One ``<path>`` per stroke (round caps), in order.

    Raises:
        StrokeFormatError: not ``(N, 13)``, or a width profile of the wrong shape.
    """
    rows = _rows(params, "curve", (13,))
    short = float(min(height, width))
    scale = np.array([width, height], dtype=np.float64)
    profile = None
    if widths is not None:
        profile = torch.as_tensor(widths).detach().cpu().double().numpy()
        if profile.ndim == 1:
            profile = profile[:, None].repeat(2, axis=1)
        if profile.ndim != 2 or profile.shape[0] != rows.shape[0] or profile.shape[1] < 2:
            raise StrokeFormatError(
                f"curve widths must be (N, T>=2) with N={rows.shape[0]}, got {profile.shape}"
            )
    out = []
    for k, row in enumerate(rows):
        pts = row[:8].reshape(4, 2) * scale
        color, alpha = svg_color(row[9:12]), float(np.clip(row[12], 0, 1))
        if profile is None:
            d = (
                f"M{_f(pts[0, 0])},{_f(pts[0, 1])} C{_f(pts[1, 0])},{_f(pts[1, 1])} "
                f"{_f(pts[2, 0])},{_f(pts[2, 1])} {_f(pts[3, 0])},{_f(pts[3, 1])}"
            )
            out.append(
                f'<path d="{d}" fill="none" stroke="{color}" stroke-opacity="{_f(alpha)}" '
                f'stroke-width="{_f(row[8] * short)}" stroke-linecap="round" stroke-linejoin="round"/>'
            )
            continue
        n = _segments_for(pts)
        t = np.linspace(0.0, 1.0, n + 1)
        samples, _ = _cubic(pts[0], pts[1], pts[2], pts[3], t)
        knots = np.linspace(0.0, 1.0, profile.shape[1])
        half = np.interp(t, knots, profile[k]) * short / 2
        out.append(_segment_group(samples, half, color, _f(alpha), (width, height), None))
    return out


def dots_to_svg_elements(params: torch.Tensor | np.ndarray, height: int, width: int) -> list[str]:
    """``<circle>`` elements of ``dots`` rows ``(N, 6)`` = ``x, y, radius, R, G, B`` or ``(N, 7)`` with
    opacity; radius is a fraction of ``min(H, W)`` (format in ``common.renderers.dots``).

    Raises:
        StrokeFormatError: not ``(N, 6)`` or ``(N, 7)``.
    """
    rows = _rows(params, "dots", (6, 7))
    short = float(min(height, width))
    out = []
    for row in rows:
        opacity = "" if rows.shape[1] == 6 else f' fill-opacity="{_f(float(np.clip(row[6], 0, 1)))}"'
        out.append(
            f'<circle cx="{_f(row[0] * width)}" cy="{_f(row[1] * height)}" r="{_f(row[2] * short)}" '
            f'fill="{svg_color(row[3:6])}"{opacity}/>'
        )
    return out


def dots_to_svg(
    params: torch.Tensor | np.ndarray,
    height: int,
    width: int,
    size_mm: float | None = None,
    background: Sequence[float] | None = None,
) -> str:
    """A stipple drawing as an SVG document, optionally sized for a pen plotter.

    Args:
        params: ``(N, 6)`` / ``(N, 7)`` dots rows (see :func:`dots_to_svg_elements`).
        height, width: canvas size in pixels (the viewBox).
        size_mm: physical width of the document in millimetres (height follows the aspect ratio); None
            keeps pixel units.
        background: canvas colour or None.

    Returns:
        SVG text.
    """
    size = None
    if size_mm is not None:
        size = (f"{_f(size_mm)}mm", f"{_f(size_mm * height / width)}mm")
    return svg_document(width, height, dots_to_svg_elements(params, height, width), background, size=size)


def strokes_to_svg(
    fmt: str,
    params: torch.Tensor | np.ndarray,
    height: int,
    width: int,
    background: Sequence[float] | None = None,
    **options,
) -> str:
    """An SVG document of strokes of any format (the registry ``common.strokes`` names each format's
    ``*_to_svg_elements`` function).

    Args:
        fmt: ``"oil"``, ``"bezier13"``, ``"curve"`` or ``"dots"``.
        params: ``(N, P)`` rows in the format's JSON layout (as saved by ``common.image_io.save_strokes``).
        height, width: canvas size in pixels.
        background: canvas colour (3 floats in [0, 1]) or None.
        options: passed to the format's function (``segments=`` for bezier13, ``widths=`` for curve).

    Raises:
        StrokeFormatError: unknown format or wrong parameter width.
    """
    elements = stroke_format(fmt).svg_elements(params, height, width, **options)
    return svg_document(width, height, elements, background)
