"""Procedural paired line data: damaged input lines -> the same geometry in a named drawing style.

No line-art dataset ships with StrokeLab, so pairs are drawn here (reference B.4/B.6): random vector strokes
(straight lines, quadratic and cubic Beziers, ellipse arcs, doodle polylines; about a third of them start on
an earlier stroke, making T-junctions) are rendered twice from the same centrelines with the core ``curve``
renderer (:func:`common.renderers.curve.render_curves`):

- input: the damage model of :mod:`linerefiner.damage` (pen 1-4 px, anti-aliased or hard; gaps of 1-12 px
  along strokes and at junctions; specks and dust; jittered double lines; scanner blur; gray, uneven paper;
  noise), which also returns the ground truth the metrics need (each gap's two stroke ends, speck labels);
- target: the clean centrelines in a named :data:`STYLES` entry (pressure taper, nib width from direction,
  ink darkness) on white paper of exactly 1.0. The style parameters are fixed per style (a pen, not a
  random pen), so the mapping is learnable.

Geometry is generated in pixels (so widths and shape sizes mean the same on any canvas size) and converted to
the ``curve`` format (normalised control points, widths as fractions of min(H, W)) at render time.
The same ``seed`` always gives the same pair (numpy ``default_rng(seed)`` drives every random choice);
seeds >= :data:`HELDOUT_SEED_BASE` are held out (:func:`heldout_samples`).

Real pairs in the original's layout (``DIR/inputs/NAME`` and ``DIR/targets/NAME``) are read by
:class:`FolderPairs`; :func:`training_batch` mixes them with synthetic pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from common.errors import ImageLoadError, UserError
from common.renderers.curve import render_curves
from linerefiner.damage import ArcStroke, Gap, damage_drawing

#: Width samples T per cubic segment passed to the renderer (widths ``(1, N, T)``).
WIDTH_SAMPLES = 6
#: Seeds at or above this value are held out from training (benchmarks and tests use them).
HELDOUT_SEED_BASE = 1_000_000_000
#: Strokes per 256 x 256 px in training crops (small crops of sparse drawings would be mostly blank).
TRAIN_DENSITY = (10.0, 30.0)
_KAPPA = 0.5522847498  # cubic approximation of a quarter circle


@dataclass(frozen=True)
class LineStyle:
    """A named target drawing style (all lengths in pixels).

    Width along a stroke at arc length d from the nearer end (pressure taper) and tangent angle theta (nib):
    ``w = taper(d) * (w_base + w_nib * |sin(theta - nib_angle)|)``,
    ``taper(d) = tip + (1 - tip) * sin(pi/2 * min(1, d / taper_px)) ** gamma`` (1 when ``taper_px == 0``).
    ``ink`` is the gray level of the ink (0 = black).
    """

    name: str
    w_base: float
    w_nib: float = 0.0
    nib_angle: float = math.pi / 4
    taper_px: float = 0.0
    gamma: float = 1.0
    tip: float = 0.25
    ink: float = 0.0
    description: str = ""


#: Named target styles. ``taper``: brush-pen pressure taper w0 = 2.6 px, tapering over 14 px at both ends.
#: ``nib``: calligraphic nib held at 45 degrees, 0.8 px (along the nib) to 3.4 px (across it), black ink.
STYLES: dict[str, LineStyle] = {
    "taper": LineStyle(
        "taper",
        w_base=2.6,
        taper_px=14.0,
        gamma=0.7,
        tip=0.2,
        ink=0.08,
        description="brush pen: 2.6 px line with pressure taper over 14 px at both ends",
    ),
    "nib": LineStyle(
        "nib",
        w_base=0.8,
        w_nib=2.6,
        nib_angle=math.pi / 4,
        taper_px=6.0,
        gamma=0.5,
        tip=0.5,
        ink=0.0,
        description="calligraphy nib at 45 deg: 0.8-3.4 px by direction, black ink",
    ),
}


def get_style(name: str) -> LineStyle:
    """Look a style up by name; raises :class:`common.errors.UserError` listing the known names."""
    if name not in STYLES:
        raise UserError(f"unknown line style {name!r} (known: {', '.join(STYLES)})")
    return STYLES[name]


# ----------------------------------------------------------------------------------------------------------
# geometry: each stroke is a chain of cubic segments (K, 4, 2) in pixels (x = column, y = row)


def _line(p0: np.ndarray, p3: np.ndarray) -> np.ndarray:
    return np.stack([p0, p0 + (p3 - p0) / 3, p0 + 2 * (p3 - p0) / 3, p3])[None]


def _quadratic(p0: np.ndarray, q: np.ndarray, p2: np.ndarray) -> np.ndarray:
    """Degree elevation: quadratic (p0, q, p2) -> cubic (p0, p0 + 2/3 (q - p0), p2 + 2/3 (q - p2), p2)."""
    return np.stack([p0, p0 + 2 / 3 * (q - p0), p2 + 2 / 3 * (q - p2), p2])[None]


def _ellipse_arc(c: np.ndarray, rx: float, ry: float, rot: float, start: int, quarters: int) -> np.ndarray:
    """``quarters`` quarter arcs of an ellipse (4 = closed), each one cubic segment."""
    segs = []
    for q in range(start, start + quarters):
        a0, a1 = q * math.pi / 2, (q + 1) * math.pi / 2
        u0 = np.array([math.cos(a0), math.sin(a0)])
        u1 = np.array([math.cos(a1), math.sin(a1)])
        t0 = np.array([-math.sin(a0), math.cos(a0)])
        t1 = np.array([-math.sin(a1), math.cos(a1)])
        seg = np.stack([u0, u0 + _KAPPA * t0, u1 - _KAPPA * t1, u1]) * np.array([rx, ry])
        rmat = np.array([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
        segs.append(seg @ rmat.T + c)
    return np.stack(segs)


def _catmull_rom(points: np.ndarray) -> np.ndarray:
    """Smooth curve through ``points`` (M, 2): Catmull-Rom spline as M - 1 cubic segments."""
    pad = np.concatenate([points[:1], points, points[-1:]])
    segs = []
    for i in range(1, len(pad) - 2):
        p0, p1, p2, p3 = pad[i - 1], pad[i], pad[i + 1], pad[i + 2]
        segs.append(np.stack([p1, p1 + (p2 - p0) / 6, p2 - (p3 - p1) / 6, p2]))
    return np.stack(segs)


def random_stroke(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """One random stroke as ``(K, 4, 2)`` cubic segments in pixels.

    Kinds (uniform): straight line, quadratic Bezier, cubic Bezier, ellipse arc (1-4 quarters), doodle
    (Catmull-Rom through a 4-9 point random walk, or a straight-edged polyline). Extent 15-180 px around a
    centre anywhere on the canvas (strokes may leave it).
    """
    centre = rng.uniform([0, 0], [width, height])
    size = rng.uniform(15, 180)
    kind = rng.integers(5)

    def pt():
        return centre + rng.uniform(-size / 2, size / 2, 2)

    if kind == 0:
        return _line(pt(), pt())
    if kind == 1:
        return _quadratic(pt(), pt(), pt())
    if kind == 2:
        return np.stack([pt(), pt(), pt(), pt()])[None]
    if kind == 3:
        rx, ry = rng.uniform(0.15, 0.5, 2) * size
        return _ellipse_arc(
            centre, rx, ry, rng.uniform(0, math.pi), int(rng.integers(4)), int(rng.integers(1, 5))
        )
    steps = int(rng.integers(4, 10))
    heading = rng.uniform(0, 2 * math.pi)
    pts = [centre.copy()]
    for _ in range(steps - 1):
        heading += rng.normal(0, 0.9)
        pts.append(pts[-1] + rng.uniform(0.1, 0.3) * size * np.array([math.cos(heading), math.sin(heading)]))
    pts = np.array(pts)
    if rng.random() < 0.6:
        return _catmull_rom(pts)
    return np.stack([_line(a, b)[0] for a, b in zip(pts[:-1], pts[1:], strict=True)])


#: Probability that a stroke (after the first) starts on an earlier stroke, making a T-junction.
JOIN_P = 0.35


def drawing_geometry(
    seed: int, height: int, width: int, density: float | None = None
) -> tuple[list[np.ndarray], list[bool]]:
    """The strokes of one drawing and their junctions.

    Returns ``(strokes, joins)``: strokes are ``(K, 4, 2)`` pixel arrays; ``joins[i]`` is True when stroke
    ``i`` was moved so that it starts on a random point of an earlier stroke (a T-junction, p =
    :data:`JOIN_P`). ``density``: strokes per 256 x 256 px (default: random 4-12 from the seed).
    Deterministic per seed.
    """
    rng = np.random.default_rng([seed, 1])
    if density is None:
        density = rng.uniform(4, 12)
    n = max(1, int(round(density * height * width / 65536)))
    strokes, joins = [], []
    for i in range(n):
        s = random_stroke(rng, height, width)
        joined = i > 0 and rng.random() < JOIN_P
        if joined:
            other = ArcStroke(strokes[int(rng.integers(i))])
            s = s - s[0, 0] + other.point(rng.uniform(0.1, 0.9) * other.length)
        strokes.append(s)
        joins.append(bool(joined))
    return strokes, joins


def random_drawing(seed: int, height: int, width: int, density: float | None = None) -> list[np.ndarray]:
    """The strokes of one drawing (:func:`drawing_geometry` without the junction flags)."""
    return drawing_geometry(seed, height, width, density)[0]


# ----------------------------------------------------------------------------------------------------------
# rendering


def _segment_lengths(segs: np.ndarray) -> np.ndarray:
    """Approximate arc length (px) of each cubic segment ``(K, 4, 2)`` from 16 chords."""
    t = np.linspace(0, 1, 17)[:, None]
    u = 1 - t
    lens = []
    for p in segs:
        pts = u**3 * p[0] + 3 * u * u * t * p[1] + 3 * u * t * t * p[2] + t**3 * p[3]
        lens.append(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())
    return np.array(lens)


def style_widths(segs: np.ndarray, style: LineStyle) -> np.ndarray:
    """Full stroke width (px) at ``WIDTH_SAMPLES`` evenly spaced t of each segment: ``(K, T)``.

    Implements the :class:`LineStyle` width law (pressure taper by arc length from the nearer stroke end,
    nib width from the tangent direction).
    """
    t = np.linspace(0, 1, WIDTH_SAMPLES)
    lens = _segment_lengths(segs)
    total = max(lens.sum(), 1e-6)
    starts = np.concatenate([[0.0], np.cumsum(lens)[:-1]])
    d = starts[:, None] + lens[:, None] * t[None]  # (K, T) arc length from the start (linear in t, approx.)
    d_end = np.minimum(d, total - d)
    if style.taper_px > 0:
        ramp = np.clip(d_end / style.taper_px, 0, 1)
        taper = style.tip + (1 - style.tip) * np.sin(0.5 * math.pi * ramp) ** style.gamma
    else:
        taper = np.ones_like(d)
    u = 1 - t[None, :, None]
    tt = t[None, :, None]
    p = segs[:, None]  # (K, 1, 4, 2)
    deriv = (
        3 * u * u * (p[:, :, 1] - p[:, :, 0])
        + 6 * u * tt * (p[:, :, 2] - p[:, :, 1])
        + 3 * tt * tt * (p[:, :, 3] - p[:, :, 2])
    )  # (K, T, 2)
    theta = np.arctan2(deriv[..., 1], deriv[..., 0])
    nib = style.w_base + style.w_nib * np.abs(np.sin(theta - style.nib_angle))
    return taper * nib


def render_segments(
    segs_px: np.ndarray, widths_px: np.ndarray, grays: np.ndarray, height: int, width: int
) -> np.ndarray:
    """Render cubic segments in black-on-white with the core ``curve`` renderer.

    Args:
        segs_px: ``(N, 4, 2)`` control points in pixels (x, y). widths_px: ``(N,)`` or ``(N, T)`` full widths
        in pixels. grays: ``(N,)`` ink gray in [0, 1]. height, width: canvas size.
    Returns:
        ``(H, W)`` float32 gray image in [0, 1] (1 = paper).
    """
    canvas = torch.ones(1, 3, height, width)
    if len(segs_px) == 0:
        return canvas[0, 0].numpy()
    scale = np.array([width, height], dtype=np.float64)
    cp = torch.from_numpy((segs_px / scale).astype(np.float32))[None]  # (1, N, 4, 2)
    w = torch.from_numpy((widths_px / min(height, width)).astype(np.float32))[None]  # (1, N) or (1, N, T)
    g = torch.from_numpy(grays.astype(np.float32))
    colors = torch.stack([g, g, g, torch.ones_like(g)], -1)[None]  # (1, N, 4)
    with torch.no_grad():
        out = render_curves(cp, w, colors, canvas)
    return out[0, 0].numpy().copy()


def render_target(strokes: list[np.ndarray], style: LineStyle, height: int, width: int) -> np.ndarray:
    """Clean target rendering of ``strokes`` in ``style``: ``(H, W)`` float32 in [0, 1]."""
    if not strokes:
        return np.ones((height, width), np.float32)
    segs = np.concatenate(strokes)
    widths = np.concatenate([style_widths(s, style) for s in strokes])
    return render_segments(segs, widths, np.full(len(segs), style.ink), height, width)


def disc_coverage(
    rng: np.random.Generator, centres: np.ndarray, r_lo: float, r_hi: float, height: int, width: int
) -> np.ndarray:
    """Anti-aliased disc coverage ``(H, W)`` float32 in [0, 1] at ``centres`` (M, 2) px, radius U(lo, hi)."""
    mask = np.zeros((height, width), np.uint8)
    shift = 4
    for c in centres:
        r = rng.uniform(r_lo, r_hi)
        cv2.circle(
            mask,
            (int(round(c[0] * 16)), int(round(c[1] * 16))),
            max(1, int(round(r * 16))),
            255,
            -1,
            cv2.LINE_AA,
            shift,
        )
    return mask.astype(np.float32) / 255.0


def points_on_strokes(strokes: list[np.ndarray], rng: np.random.Generator, m: int) -> np.ndarray:
    """``m`` random points (M, 2) px on random segments of ``strokes``."""
    segs = np.concatenate(strokes)
    idx = rng.integers(len(segs), size=m)
    t = rng.uniform(0, 1, (m, 1))
    p = segs[idx]
    u = 1 - t
    return u**3 * p[:, 0] + 3 * u * u * t * p[:, 1] + 3 * u * t * t * p[:, 2] + t**3 * p[:, 3]


def render_input(
    strokes: list[np.ndarray],
    rng: np.random.Generator,
    height: int,
    width: int,
    damage: bool = True,
    joins: list[bool] | None = None,
) -> np.ndarray:
    """Input rendering of ``strokes``: ``(H, W)`` float32 in [0, 1].

    With ``damage`` the :func:`linerefiner.damage.damage_drawing` model (gaps, specks, dust, double lines,
    pen width 1-4 px, blur, gray paper); without, clean 1-1.5 px uniform lines of gray 0-0.3.
    """
    if damage:
        joins = [False] * len(strokes) if joins is None else joins
        return damage_drawing(strokes, joins, rng, height, width, render_segments).image
    if not strokes:
        return np.ones((height, width), np.float32)
    line_w = rng.uniform(1.0, 1.5)
    gray = rng.uniform(0.0, 0.3)
    segs = np.concatenate(strokes)
    return render_segments(segs, np.full(len(segs), line_w), np.full(len(segs), gray), height, width)


@dataclass
class SynthSample:
    """One synthetic pair with the ground truth of its damage (what ``linerefiner.metrics`` needs).

    ``input``, ``target``: ``(H, W)`` float32 in [0, 1], dark lines on white. ``gaps``: the
    :class:`linerefiner.damage.Gap` list (empty without damage). ``specks``: ``(H, W)`` int32 speck labels
    (0 = none). ``strokes``: the clean centrelines ``(K, 4, 2)`` px.
    """

    input: np.ndarray
    target: np.ndarray
    gaps: list[Gap]
    specks: np.ndarray
    strokes: list[np.ndarray]


def make_sample(
    seed: int,
    height: int = 256,
    width: int | None = None,
    style: str = "taper",
    damage: bool = True,
    density: float | None = None,
) -> SynthSample:
    """One synthetic pair with its gaps and specks; same arguments, same sample (see :func:`make_pair`)."""
    width = height if width is None else width
    st = get_style(style)
    strokes, joins = drawing_geometry(seed, height, width, density)
    rng = np.random.default_rng([seed, 2])
    if damage:
        d = damage_drawing(strokes, joins, rng, height, width, render_segments)
        x, gaps, specks = d.image, d.gaps, d.specks
    else:
        x, gaps = render_input(strokes, rng, height, width, damage=False), []
        specks = np.zeros((height, width), np.int32)
    y = render_target(strokes, st, height, width)
    return SynthSample(x, y, gaps, specks, strokes)


def make_pair(
    seed: int,
    height: int = 256,
    width: int | None = None,
    style: str = "taper",
    damage: bool = True,
    density: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One synthetic (input, target) pair; the same arguments always give the same pair.

    Args:
        seed: integer seed (seeds >= :data:`HELDOUT_SEED_BASE` are kept out of training).
        height, width: canvas size in pixels (``width`` defaults to ``height``).
        style: a :data:`STYLES` name. damage: apply input-only damage. density: strokes per 256^2 px.
    Returns:
        ``input, target``: each ``(1, H, W)`` float32 in [0, 1], dark lines on white.
    Raises:
        UserError: unknown style.
    """
    smp = make_sample(seed, height, width, style, damage, density)
    return torch.from_numpy(smp.input)[None], torch.from_numpy(smp.target)[None]


class FolderPairs:
    """Real pairs in the original's layout: ``root/inputs/NAME`` and ``root/targets/NAME`` (same names).

    :meth:`sample` returns a random aligned crop ``(1, S, S)`` of each (gray, [0, 1]) with a joint flip.
    Raises :class:`common.errors.ImageLoadError` when a folder is missing, empty, or names do not match.
    """

    def __init__(self, root: str | Path):
        from common.image_io import list_images, load_image

        root = Path(root)
        ins, tgts = list_images(root / "inputs"), list_images(root / "targets")
        tmap = {p.name: p for p in tgts}
        missing = [p.name for p in ins if p.name not in tmap]
        if missing:
            raise ImageLoadError(f"no target for input {missing[0]} in {root / 'targets'}")
        self.pairs = []
        for p in ins:
            x, y = load_image(p, gray=True)[0], load_image(tmap[p.name], gray=True)[0]
            if x.shape != y.shape:
                raise ImageLoadError(
                    f"input and target sizes differ for {p.name}: {tuple(x.shape)} vs {tuple(y.shape)}"
                )
            self.pairs.append((x, y))

    def __len__(self) -> int:
        return len(self.pairs)

    def sample(self, rng: np.random.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Random aligned crop of one random pair; images smaller than ``size`` are padded with white."""
        x, y = self.pairs[int(rng.integers(len(self.pairs)))]
        ph, pw = max(0, size - x.shape[1]), max(0, size - x.shape[2])
        if ph or pw:
            x = torch.nn.functional.pad(x, (0, pw, 0, ph), value=1.0)
            y = torch.nn.functional.pad(y, (0, pw, 0, ph), value=1.0)
        i = int(rng.integers(x.shape[1] - size + 1))
        j = int(rng.integers(x.shape[2] - size + 1))
        x, y = x[:, i : i + size, j : j + size], y[:, i : i + size, j : j + size]
        if rng.random() < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        return x, y


def training_batch(
    step: int,
    batch_size: int,
    size: int,
    style: str,
    seed: int = 0,
    rank: int = 0,
    real: FolderPairs | None = None,
    real_fraction: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training batch of one step: ``(B, 1, S, S)`` inputs and targets, float32 in [0, 1].

    Deterministic in (step, seed, rank), so a resumed run sees the batches it would have seen. Synthetic
    seeds stay below :data:`HELDOUT_SEED_BASE`; drawings are denser than :func:`random_drawing`'s default
    (:data:`TRAIN_DENSITY` strokes per 256^2 px) so that small crops are rarely blank. With ``real``
    pairs, each sample is real with probability ``real_fraction``.
    """
    xs, ys = [], []
    for i in range(batch_size):
        sample_seed = ((seed * 1009 + rank) * 100_003 + step * batch_size + i) % HELDOUT_SEED_BASE
        rng = np.random.default_rng([sample_seed, 3])
        if real is not None and rng.random() < real_fraction:
            x, y = real.sample(rng, size)
        else:
            x, y = make_pair(sample_seed, size, size, style, density=rng.uniform(*TRAIN_DENSITY))
        xs.append(x)
        ys.append(y)
    return torch.stack(xs), torch.stack(ys)


#: Strokes per 256^2 px of the held-out evaluation drawings (denser than ``random_drawing``'s 4-12, so a
#: 128 px drawing carries a few gaps).
HELDOUT_DENSITY = 20.0


def heldout_samples(style: str, n: int, size: int = 128, offset: int = 0) -> list[SynthSample]:
    """``n`` held-out samples (seeds ``HELDOUT_SEED_BASE + offset + i``) of ``size`` px, density
    :data:`HELDOUT_DENSITY`: the bench uses offset 0, the trainer's validation offset 500,000."""
    return [
        make_sample(HELDOUT_SEED_BASE + offset + i, size, size, style, density=HELDOUT_DENSITY)
        for i in range(n)
    ]
