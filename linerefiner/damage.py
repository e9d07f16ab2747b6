"""Input damage that matches real scanned or exported line drawings, with the ground truth the bench needs.

Shapes: H, W canvas size; strokes are ``(K, 4, 2)`` chains of cubic segments in pixels (x = column, y = row),
as in :mod:`linerefiner.synth`. Every random choice comes from the ``rng`` passed in, so a seed gives one
damaged drawing.

Damage, in the order it is applied (:func:`damage_drawing`), each with its parameter range per drawing:

- pen: one width per drawing, 1-4 px (log-uniform), ink gray 0-0.3; anti-aliased, or hard-edged
  (thresholded, p = 0.3);
- control-point jitter (sigma 0-0.6 px) and jittered double lines: each stroke is drawn a second time with
  probability 0-0.3, offset 0.5-2 px, jitter 0.2-1 px, each end trimmed by 0-4 px (half the time);
- gaps along strokes: 0.2-2.5 per 100 px of stroke (none in 15 % of drawings), each 1-12 px of paper
  between the two ink ends (the centreline is cut over ``length + pen width`` px because the pen's round caps
  reach half a width into the cut);
- gaps at junctions: a stroke that starts on another stroke (a T-junction, see
  :func:`linerefiner.synth.drawing_geometry`) stops 1-12 px short of it, with probability 0.6;
- specks (0-40 per 256^2 px, radius 0.5-2.5 px, darkness 0.4-1, isolated dark dots) and dust (0-300 per
  256^2 px, radius 0.3-0.8 px, darkness 0.05-0.4);
- gray, uneven paper: paper level 0.78-1.0, a smooth brightness ramp of up to +-0.04 across the drawing,
  multiplied into the drawing as a scanner sees it;
- scanner blur (Gaussian sigma 0.3-1.2 px, p = 0.5) and sensor noise (sigma 0-0.02).

Every gap is recorded as its two stroke ends (points on the centreline at the ink ends) and its visible
length; specks as a label mask. ``linerefiner.metrics`` decides from these whether an output closed a gap
or removed a speck.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

#: Visible gap lengths (px of clear paper between the two ink ends) drawn by :func:`damage_drawing`.
GAP_RANGE = (1.0, 12.0)
#: Pen widths (px) of the input drawing.
PEN_RANGE = (1.0, 4.0)


@dataclass
class Gap:
    """One gap cut into the input: stroke ends ``a`` and ``b`` ``(2,)`` px (x, y) on the centreline, at
    the two ink ends; ``length`` px of clear paper between the inks; ``kind`` ``"stroke"`` (cut along a
    stroke) or ``"junction"`` (a stroke stopping short of the one it meets)."""

    a: np.ndarray
    b: np.ndarray
    length: float
    kind: str


@dataclass
class DamagedDrawing:
    """A damaged input drawing with its ground truth.

    ``image``: ``(H, W)`` float32 in [0, 1] (1 = white paper). ``gaps``: the :class:`Gap` list.
    ``specks``: ``(H, W)`` int32 labels, 0 = no speck, k = pixels of speck k (1..n). ``pen_width`` px,
    ``paper`` (the paper level before the ramp), ``hard`` (not anti-aliased), ``blur`` sigma px (0 = none).
    """

    image: np.ndarray
    gaps: list[Gap] = field(default_factory=list)
    specks: np.ndarray | None = None
    pen_width: float = 1.0
    paper: float = 1.0
    hard: bool = False
    blur: float = 0.0


# ----------------------------------------------------------------------------------------------------------
# arc-length geometry on cubic chains


def _bezier(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points ``(T, 2)`` of cubic ``p`` ``(4, 2)`` at parameters ``t`` ``(T,)``."""
    t = np.asarray(t, np.float64)[:, None]
    u = 1 - t
    return u**3 * p[0] + 3 * u * u * t * p[1] + 3 * u * t * t * p[2] + t**3 * p[3]


_T16 = np.linspace(0, 1, 17)


def arc_tables(segs: np.ndarray) -> np.ndarray:
    """Cumulative chord length ``(K, 17)`` px of each segment at t = 0, 1/16, ..., 1."""
    out = []
    for p in segs:
        d = np.linalg.norm(np.diff(_bezier(p, _T16), axis=0), axis=1)
        out.append(np.concatenate([[0.0], np.cumsum(d)]))
    return np.array(out)


def _split(p: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """De Casteljau split of cubic ``p`` ``(4, 2)`` at ``t``: (left, right) cubics."""
    a, b = p[:-1] + t * (p[1:] - p[:-1]), None
    b = a[:-1] + t * (a[1:] - a[:-1])
    c = b[0] + t * (b[1] - b[0])
    return np.stack([p[0], a[0], b[0], c]), np.stack([c, b[1], a[2], p[3]])


def _sub_cubic(p: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """The part of cubic ``p`` between parameters ``t0 < t1``, as one cubic ``(4, 2)``."""
    if t0 > 0:
        _, p = _split(p, t0)
        t1 = (t1 - t0) / (1 - t0)
    if t1 < 1:
        p, _ = _split(p, min(max(t1, 0.0), 1.0))
    return p


class ArcStroke:
    """A stroke ``(K, 4, 2)`` px with an arc-length parametrisation (16 chords per segment)."""

    def __init__(self, segs: np.ndarray):
        self.segs = segs
        self.tables = arc_tables(segs)  # (K, 17)
        lens = self.tables[:, -1]
        self.starts = np.concatenate([[0.0], np.cumsum(lens)[:-1]])
        self.length = float(lens.sum())

    def _locate(self, s: float) -> tuple[int, float]:
        s = min(max(s, 0.0), self.length)
        k = int(np.clip(np.searchsorted(self.starts, s, side="right") - 1, 0, len(self.segs) - 1))
        t = float(np.interp(s - self.starts[k], self.tables[k], _T16))
        return k, t

    def point(self, s: float) -> np.ndarray:
        """Point ``(2,)`` px at arc length ``s``."""
        k, t = self._locate(s)
        return _bezier(self.segs[k], np.array([t]))[0]

    def piece(self, a: float, b: float) -> np.ndarray:
        """Cubic segments ``(K', 4, 2)`` covering arc length ``[a, b]`` (empty ``(0, 4, 2)`` if b <= a)."""
        if b - a <= 1e-6:
            return np.zeros((0, 4, 2))
        ka, ta = self._locate(a)
        kb, tb = self._locate(b)
        out = []
        for k in range(ka, kb + 1):
            t0 = ta if k == ka else 0.0
            t1 = tb if k == kb else 1.0
            if t1 - t0 > 1e-6:
                out.append(_sub_cubic(self.segs[k], t0, t1))
        return np.stack(out) if out else np.zeros((0, 4, 2))


def _inside(p: np.ndarray, height: int, width: int, pad: float = 2.0) -> bool:
    return pad <= p[0] < width - pad and pad <= p[1] < height - pad


# ----------------------------------------------------------------------------------------------------------
# the damage model


def cut_gaps(
    strokes: list[np.ndarray],
    joins: list[bool],
    rng: np.random.Generator,
    pen: float,
    height: int,
    width: int,
    rate: float,
    junction_p: float,
) -> tuple[list[np.ndarray], list[Gap]]:
    """Cut gaps into each stroke (see module docstring); returns (segment arrays to draw, gaps).

    Args:
        strokes: ``(K, 4, 2)`` px each. joins: per stroke, True when its start lies on an earlier stroke.
        rng: random source. pen: pen width px. height, width: canvas (gaps whose ends leave it are drawn but
        not recorded). rate: gaps per 100 px of stroke. junction_p: probability of a junction gap at a join.
    """
    pieces, gaps = [], []
    for segs, joined in zip(strokes, joins, strict=True):
        st = ArcStroke(segs)
        cuts: list[tuple[float, float, float, str]] = []  # (start, end, visible length, kind)
        if joined and rng.random() < junction_p:
            vis = rng.uniform(*GAP_RANGE)
            cut = vis + pen  # the other stroke's half width + this stroke's round cap
            if cut < st.length - 4:
                cuts.append((0.0, cut, vis, "junction"))
        for _ in range(int(rng.poisson(rate * st.length / 100))):
            vis = rng.uniform(*GAP_RANGE)
            cut = vis + pen
            lo = rng.uniform(3.0, max(3.0, st.length - cut - 3.0))
            if lo + cut > st.length - 3.0:
                continue
            cuts.append((lo, lo + cut, vis, "stroke"))
        cuts.sort()
        kept, end = [], -1e9
        for c in cuts:  # non-overlapping, with >= 3 px of stroke between two cuts
            if c[0] >= end + 3.0:
                kept.append(c)
                end = c[1]
        s = 0.0
        for a, b, vis, kind in kept:
            pieces.append(st.piece(s, a))
            s = b
            pa, pb = st.point(a), st.point(b)
            if _inside(pa, height, width) and _inside(pb, height, width):
                gaps.append(Gap(pa, pb, float(vis), kind))
        pieces.append(st.piece(s, st.length))
    return [p for p in pieces if len(p)], gaps


def draw_dots(
    cover: np.ndarray,
    labels: np.ndarray | None,
    centres: np.ndarray,
    radii: np.ndarray,
    darkness: np.ndarray,
    first_label: int = 1,
) -> None:
    """Add anti-aliased dots to ``cover`` ``(H, W)`` float32 in [0, 1] in place (max of coverages).

    Dot k (centre ``(2,)`` px x, y; radius px; darkness in [0, 1]) covers ``clip(r + 0.5 - dist, 0, 1)``
    times its darkness. With ``labels`` ``(H, W)`` int32, pixels of dot k with coverage >= 0.5 that carry no
    label yet get ``first_label + k``.
    """
    height, width = cover.shape
    for k, ((cx, cy), r, dark) in enumerate(zip(centres, radii, darkness, strict=True)):
        x0, x1 = max(int(cx - r - 2), 0), min(int(cx + r + 3), width)
        y0, y1 = max(int(cy - r - 2), 0), min(int(cy + r + 3), height)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        a = np.clip(r + 0.5 - np.hypot(xx + 0.5 - cx, yy + 0.5 - cy), 0, 1).astype(np.float32)
        np.maximum(cover[y0:y1, x0:x1], a * dark, out=cover[y0:y1, x0:x1])
        if labels is not None:
            patch = labels[y0:y1, x0:x1]
            patch[(a >= 0.5) & (patch == 0)] = first_label + k


def damage_drawing(
    strokes: list[np.ndarray],
    joins: list[bool],
    rng: np.random.Generator,
    height: int,
    width: int,
    render,
) -> DamagedDrawing:
    """The damaged input rendering of ``strokes`` (module docstring lists the damage and its ranges).

    Args:
        strokes: ``(K, 4, 2)`` px cubic chains. joins: per stroke, starts on an earlier stroke.
        rng: random source. height, width: canvas px. render: ``render(segs (N, 4, 2), widths (N,),
            grays (N,), H, W) -> (H, W)`` float32 black-on-white (:func:`linerefiner.synth.render_segments`).
    Returns:
        :class:`DamagedDrawing`.
    """
    area = height * width / 65536
    pen = float(math.exp(rng.uniform(math.log(PEN_RANGE[0]), math.log(PEN_RANGE[1]))))
    gray = rng.uniform(0.0, 0.3)
    jitter = rng.uniform(0, 0.6)
    double_p = rng.uniform(0, 0.3)
    rate = 0.0 if rng.random() < 0.15 else rng.uniform(0.2, 2.5)
    jittered = [s + rng.normal(0, jitter, s.shape) for s in strokes]
    segs, gaps = cut_gaps(jittered, joins, rng, pen, height, width, rate, junction_p=0.6)
    for s in strokes:  # second pass of some strokes: offset, jittered, ends trimmed
        if rng.random() < double_p:
            st = ArcStroke(s)
            a, b = rng.uniform(-4, 4, 2)
            piece = st.piece(max(0.0, a), st.length - max(0.0, b))
            if len(piece):
                offset = rng.uniform(0.5, 2.0) * rng.choice([-1, 1], 2)
                segs.append(piece + offset + rng.normal(0, rng.uniform(0.2, 1.0), piece.shape))
    segs_all = np.concatenate(segs) if segs else np.zeros((0, 4, 2))
    img = render(segs_all, np.full(len(segs_all), pen), np.full(len(segs_all), gray), height, width)
    hard = bool(rng.random() < 0.3)
    if hard:
        img = np.where(img < 0.5 + 0.5 * gray, gray, 1.0).astype(np.float32)
    cover = np.zeros((height, width), np.float32)
    labels = np.zeros((height, width), np.int32)
    n_speck = int(rng.poisson(rng.uniform(0, 40) * area))
    xy = rng.uniform([0, 0], [width, height], (n_speck, 2))
    draw_dots(cover, labels, xy, rng.uniform(0.5, 2.5, n_speck), rng.uniform(0.4, 1.0, n_speck))
    n_dust = int(rng.poisson(rng.uniform(0, 300) * area))
    xy = rng.uniform([0, 0], [width, height], (n_dust, 2))
    draw_dots(cover, None, xy, rng.uniform(0.3, 0.8, n_dust), rng.uniform(0.05, 0.4, n_dust))
    img = img * (1 - cover)
    paper = 1.0 if rng.random() < 0.3 else rng.uniform(0.78, 1.0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    ramp = (math.cos(ang) * (xx / width - 0.5) + math.sin(ang) * (yy / height - 0.5)) * rng.uniform(0, 0.08)
    img = img * np.clip(paper + ramp, 0, 1) if paper < 1.0 else img
    blur = float(rng.uniform(0.3, 1.2)) if rng.random() < 0.5 else 0.0
    if blur:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    noise = rng.uniform(0, 0.02)
    if noise > 0.002:
        img = img + rng.normal(0, noise, img.shape).astype(np.float32)
    img = np.clip(img, 0, 1).astype(np.float32)
    return DamagedDrawing(img, gaps, labels, pen, paper, hard, blur)
