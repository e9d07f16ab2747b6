"""What a user checks in a refined drawing: gaps bridged, specks removed, lines kept, paper white.

Shapes: H, W image size; images are ``(H, W)`` float arrays in [0, 1] (1 = paper), as numpy. Ink is a
pixel darker than ``threshold`` (0.5). All distances are in pixels; connectivity is 8-connectivity.

- Gap closed (:func:`gap_connected`): the two stroke ends ``a``, ``b`` of a :class:`~linerefiner.damage.Gap`
  lie in one connected component of the output's ink inside the gap's box (the bounding box of a and b
  grown by ``pad`` = 4 px), an end being the ink within 2 px of its point. The box keeps a path around the
  rest of the drawing (the other side of a closed ellipse) from counting. A gap is *scored* only when the
  target connects its ends and the input does not (in their boxes), so every scored gap is a real one.
- Speck removed: a speck (label of :class:`~linerefiner.damage.DamagedDrawing`) is scored when it is ink in
  the input and lies more than 3 px from the target's ink; it is removed when the output has no ink on it
  or within 1 px of it.
- Line precision / recall within ``tol`` = 2 px: the share of output ink pixels within 2 px of target ink,
  and of target ink pixels within 2 px of output ink (distance transforms; pixel masks, not skeletons).
- Paper: over pixels more than 4 px from any target ink, the share exactly 1.0 and the mean value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from linerefiner.damage import Gap

THRESHOLD = 0.5
TOLERANCE_PX = 2.0
GAP_PAD_PX = 4
#: Gaps up to this visible length (px) are the "short" gaps of the target (>= 80 % closed).
SHORT_GAP_PX = 8.0


def ink(img: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """Ink mask ``(H, W)`` bool: ``img < threshold``."""
    return np.asarray(img) < threshold


def _distance_to(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance (px) of every pixel to the nearest True pixel of ``mask`` (inf if none)."""
    if not mask.any():
        return np.full(mask.shape, np.inf, np.float32)
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)


def gap_connected(ink_mask: np.ndarray, gap: Gap, pad: int = GAP_PAD_PX, end_radius: float = 2.0) -> bool:
    """True when the ink of ``ink_mask`` ``(H, W)`` bool joins ``gap.a`` and ``gap.b`` inside its box."""
    h, w = ink_mask.shape
    lo = np.floor(np.minimum(gap.a, gap.b)).astype(int) - pad
    hi = np.ceil(np.maximum(gap.a, gap.b)).astype(int) + pad + 1
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], w), min(hi[1], h)
    box = ink_mask[y0:y1, x0:x1].astype(np.uint8)
    if not box.any():
        return False
    _, labels = cv2.connectedComponents(box, connectivity=8)
    yy, xx = np.mgrid[y0:y1, x0:x1]

    def near(p):
        d = np.hypot(xx + 0.5 - p[0], yy + 0.5 - p[1]) <= end_radius
        return set(np.unique(labels[d & (box > 0)]).tolist())

    return bool(near(gap.a) & near(gap.b))


@dataclass
class DrawingScore:
    """Counts from one output drawing (sums over drawings are combined by :func:`summarise`)."""

    gaps_short: int = 0
    gaps_short_closed: int = 0
    gaps_long: int = 0
    gaps_long_closed: int = 0
    specks: int = 0
    specks_removed: int = 0
    out_ink: int = 0
    out_ink_matched: int = 0
    target_ink: int = 0
    target_ink_matched: int = 0
    paper_px: int = 0
    paper_white: int = 0
    paper_sum: float = 0.0
    gap_lengths_closed: list = field(default_factory=list)


def score_drawing(
    output: np.ndarray,
    inp: np.ndarray,
    target: np.ndarray,
    gaps: list[Gap],
    specks: np.ndarray,
    threshold: float = THRESHOLD,
) -> DrawingScore:
    """Score one output ``(H, W)`` in [0, 1] against its input, target, gaps and speck labels (module doc)."""
    out_ink, in_ink, tgt_ink = ink(output, threshold), ink(inp, threshold), ink(target, threshold)
    s = DrawingScore()
    for g in gaps:
        if not gap_connected(tgt_ink, g) or gap_connected(in_ink, g):
            continue
        closed = gap_connected(out_ink, g)
        if g.length <= SHORT_GAP_PX:
            s.gaps_short += 1
            s.gaps_short_closed += int(closed)
        else:
            s.gaps_long += 1
            s.gaps_long_closed += int(closed)
        if closed:
            s.gap_lengths_closed.append(g.length)
    d_tgt, d_out = _distance_to(tgt_ink), _distance_to(out_ink)
    n = int(specks.max()) if specks is not None and specks.size else 0
    if n:
        grown = cv2.dilate(out_ink.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        for k in range(1, n + 1):
            m = specks == k
            if not m.any() or not in_ink[m].any() or d_tgt[m].min() <= 3.0:
                continue
            s.specks += 1
            s.specks_removed += int(not grown[m].any())
    s.out_ink, s.target_ink = int(out_ink.sum()), int(tgt_ink.sum())
    s.out_ink_matched = int((d_tgt[out_ink] <= TOLERANCE_PX).sum())
    s.target_ink_matched = int((d_out[tgt_ink] <= TOLERANCE_PX).sum())
    paper = d_tgt > 4.0
    s.paper_px = int(paper.sum())
    s.paper_white = int((output[paper] >= 1.0).sum())
    s.paper_sum = float(output[paper].sum())
    return s


def summarise(scores: list[DrawingScore]) -> dict[str, float]:
    """Totals over drawings: ``gaps_closed_short`` (<= 8 px), ``gaps_closed_long`` (9-12 px), ``gaps_short``
    and ``gaps_long`` (counts scored), ``specks_removed``, ``specks``, ``precision``, ``recall``, ``f1``,
    ``paper_white`` (share exactly 1.0), ``paper_mean``, ``score`` = ``gaps_closed_short * f1`` (gaps
    bridged, guarded against bridging by smearing ink everywhere) and ``target_score`` = ``score *
    specks_removed * paper_white`` (the trainer's keep-best figure: every target of the issue at once)."""

    def tot(name):
        return sum(getattr(s, name) for s in scores)

    def ratio(a, b):
        return tot(a) / tot(b) if tot(b) else float("nan")

    p, r = ratio("out_ink_matched", "out_ink"), ratio("target_ink_matched", "target_ink")
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    gs = ratio("gaps_short_closed", "gaps_short")
    return {
        "gaps_closed_short": gs,
        "gaps_closed_long": ratio("gaps_long_closed", "gaps_long"),
        "gaps_short": tot("gaps_short"),
        "gaps_long": tot("gaps_long"),
        "specks_removed": ratio("specks_removed", "specks"),
        "specks": tot("specks"),
        "precision": p,
        "recall": r,
        "f1": f1,
        "paper_white": ratio("paper_white", "paper_px"),
        "paper_mean": tot("paper_sum") / max(tot("paper_px"), 1),
        "score": gs * f1,
        "target_score": gs * f1 * ratio("specks_removed", "specks") * ratio("paper_white", "paper_px"),
    }
