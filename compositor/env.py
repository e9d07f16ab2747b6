"""Batched painting environment of the CNP compositor (paper Sec. 3.3) and its rewards.

State: (target, canvas), each (E, 3, 128, 128) in [0, 1], E environments. Action: a box (two corners,
sorted, minimum side ``min_box``). Step: crop the box from target and canvas, resample both to 128,
let the frozen painter paint ``calls`` x 5 strokes (4 x 5 = 20 in the paper) on that patch, map the
strokes to the canvas and render them there with the analytic ``oil`` renderer (the release pasted a
resized patch back; rendering at absolute positions avoids the resampling blur).
"""

from __future__ import annotations

import itertools
import math

import torch

from common.renderers.oil import render_oil
from compositor.model import ANCHOR_SIDES, action_to_box, crop_boxes, patch_to_canvas


def distance(target: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error (E,) between (E, 3, H, W) images."""
    return (target - canvas).pow(2).flatten(1).mean(1)


def phasic_reward(
    d_before: torch.Tensor, d_after: torch.Tensor, norm: torch.Tensor, mode: str = "paper", alpha: float = 0.1
) -> torch.Tensor:
    """Reward of one compositor step (E,).

    ``mode="paper"`` (Eq. 1-2): ``R_ori = (||I - C_t||^2 - ||I - C_t+1||^2) / ||I||^2``,
    ``d = ||I - C_t+1|| / ||I||``, ``R = beta * R_ori`` with ``beta = 1`` if ``d > 0.005`` else
    ``alpha * ln((1 + x + eps) / (1 - x + eps))``, ``x = 1 - d``, ``eps = 1e-6``.

    ``mode="piecewise"`` (the released ``ddpg.py``): ``R = m * (MSE_t - MSE_t+1)`` with ``m`` = 0.25, 125,
    125, 250 for the pre-step MSE in (0.005, inf), (0.003, 0.005], (0.001, 0.003], [0, 0.001].

    ``mode="plain"``: ``R_ori`` only (ablation "without phasic reward").

    Args:
        d_before, d_after: (E,) per-image MSE before/after the step. norm: (E,) mean of I^2.
    """
    r_ori = (d_before - d_after) / norm.clamp_min(1e-8)
    if mode == "plain":
        return r_ori
    if mode == "paper":
        d = torch.sqrt(d_after / norm.clamp_min(1e-8))
        x = 1 - d
        eps = 1e-6
        beta = torch.where(d > 0.005, torch.ones_like(d), alpha * torch.log((1 + x + eps) / (1 - x + eps)))
        return beta * r_ori
    if mode == "piecewise":
        m = torch.full_like(d_before, 250.0)
        m = torch.where(d_before > 0.001, torch.full_like(m, 125.0), m)
        m = torch.where(d_before > 0.005, torch.full_like(m, 0.25), m)
        return m * (d_before - d_after)
    raise ValueError(f"unknown reward mode {mode!r} (paper, piecewise, plain)")


@torch.no_grad()
def paint_box(painter, target, canvas, boxes, calls: int, size: int | None = None):
    """Paint ``calls`` x 5 strokes in each box; returns the new canvas and the strokes on the canvas.

    Args:
        painter: frozen painter, (target, canvas) patches -> (E, 5, 8).
        target, canvas: (E, 3, H, W). boxes: (E, 4) normalised.

    Returns:
        canvas (E, 3, H, W) and strokes (E, 5 * calls, 8) in canvas coordinates.
    """
    h, w = canvas.shape[-2:]
    size = size or painter.config.patch
    t_patch = crop_boxes(target, boxes, size)
    strokes = []
    for _ in range(calls):
        c_patch = crop_boxes(canvas, boxes, size)
        s = patch_to_canvas(painter(t_patch, c_patch), boxes, h, w)
        canvas = render_oil(s, canvas)
        strokes.append(s)
    return canvas, torch.cat(strokes, dim=1)


class PaintEnv:
    """E parallel episodes of ``max_step`` compositor steps on 128 x 128 targets."""

    def __init__(
        self, painter, calls: int = 4, max_step: int = 25, min_box: float = 0.08, reward: str = "paper"
    ):
        self.painter, self.calls, self.max_step = painter, calls, max_step
        self.min_box, self.reward_mode = min_box, reward
        self.target = self.canvas = None
        self.t = 0

    def reset(self, targets: torch.Tensor):
        self.target = targets
        self.canvas = torch.zeros_like(targets)
        self.t = 0
        return self.target, self.canvas

    def step(self, action: torch.Tensor):
        """action (E, 4) in [0, 1] -> (canvas, reward (E,), done: bool)."""
        boxes = action_to_box(action, self.min_box)
        d0 = distance(self.target, self.canvas)
        self.canvas, _ = paint_box(self.painter, self.target, self.canvas, boxes, self.calls)
        d1 = distance(self.target, self.canvas)
        norm = self.target.pow(2).flatten(1).mean(1)
        self.t += 1
        return self.canvas, phasic_reward(d0, d1, norm, self.reward_mode), self.t >= self.max_step


# Box sides the teacher tries, as fractions of the region side (1/8 added after measuring: with sides
# 1, 1/2, 1/4 only, the teacher lost to a 6 x 6 grid in 40-region episodes, MSE 0.0149 vs 0.0112; with
# 1/8 it wins, 0.0106). Positions at a stride of half the side: the actor's anchor boxes.
TEACHER_SIDES = ANCHOR_SIDES


def _candidate_boxes(target: torch.Tensor, canvas: torch.Tensor, min_box: float) -> list[torch.Tensor]:
    """One candidate per box side: the square box with the largest error visible at its scale.

    A painter paints strokes of a size proportional to its region, so a box of side s can only fix the
    error that is visible at that scale: the squared difference between the canvas and the target
    low-passed at about s / 4 (box blur). For each side s in ``TEACHER_SIDES`` (1, 1/2, 1/4, 1/8 of the
    region, at least ``min_box``), at a stride of s / 2 (the actor's anchor boxes), pick the box with the
    largest such "fixable" error.

    Args:
        target, canvas: (E, 3, S, S) in [0, 1]. min_box: smallest side considered.

    Returns:
        (E, 4) normalised boxes (x0, y0, x1, y1).
    """
    size = target.shape[-1]
    out = []
    for frac in TEACHER_SIDES:
        if frac < min_box:
            continue
        k = max(1, int(round(frac * size)))
        r = max(1, k // 8)  # blur radius ~ a quarter of the box side (kernel 2r + 1)
        low = torch.nn.functional.avg_pool2d(target, 2 * r + 1, 1, r, count_include_pad=False)
        err = (low - canvas).pow(2).mean(1, keepdim=True)  # (E, 1, S, S)
        stride = max(1, k // 2)  # the anchor grid of compositor.model.anchor_boxes
        sums = torch.nn.functional.avg_pool2d(err, k, stride) * (k * k)  # (E, 1, h', w')
        val, idx = sums.flatten(1).max(1)
        ncols = sums.shape[-1]
        y0 = (idx // ncols).to(err.dtype) * stride / size
        x0 = (idx % ncols).to(err.dtype) * stride / size
        out.append(torch.stack([x0, y0, x0 + k / size, y0 + k / size], 1).clamp(0, 1))
    return out


@torch.no_grad()
def teacher_box(
    target: torch.Tensor, canvas: torch.Tensor, min_box: float = 0.08, painter=None
) -> torch.Tensor:
    """Greedy look-ahead box, used to warm-start the actor by imitation (not in the paper).

    Candidates: for each side s in {1, 1/2, 1/4, 1/8} of the region, the square box with the largest error
    visible at its scale (squared difference between the canvas and the target box-blurred with radius
    s / 8). With a painter, each candidate is tried with one painter call (5 strokes) and the one that
    lowers the MSE of the whole region most wins (so a large box is no longer chosen once its strokes
    would only repaint coarse colour over detail); without one, the largest visible error wins.

    Args:
        target, canvas: (E, 3, S, S) in [0, 1]. min_box: smallest side considered. painter: or None.

    Returns:
        (E, 4) normalised boxes (x0, y0, x1, y1).
    """
    cands = _candidate_boxes(target, canvas, min_box)  # C x (E, 4)
    e = target.shape[0]
    boxes = torch.stack(cands, 1)  # (E, C, 4)
    if painter is None:
        size = target.shape[-1]
        scores = []
        for c in cands:
            lo = (c[:, :2] * size).long()
            hi = (c[:, 2:] * size).long().clamp_min(lo + 1)
            err = (target - canvas).pow(2).mean(1)
            scores.append(
                torch.stack([err[i, lo[i, 1] : hi[i, 1], lo[i, 0] : hi[i, 0]].sum() for i in range(e)])
            )
        return boxes[torch.arange(e), torch.stack(scores, 1).argmax(1)]
    n = len(cands)
    t_rep = target.repeat_interleave(n, 0)
    c_rep = canvas.repeat_interleave(n, 0)
    after, _ = paint_box(painter, t_rep, c_rep, boxes.reshape(e * n, 4), calls=1)
    gain = (distance(t_rep, c_rep) - distance(t_rep, after)).view(e, n)
    return boxes[torch.arange(e), gain.argmax(1)]


@torch.no_grad()
def lookahead_box(
    target: torch.Tensor, canvas: torch.Tensor, painter, step: int, max_step: int
) -> torch.Tensor:
    """The look-ahead picker's region for step ``step`` of a ``max_step``-region episode, one painter call
    per region: the imitation teacher of ``--teacher lookahead`` (default; not in the paper).

    The rule of mode 1's default picker (:func:`compositor.paint.paint_lookahead`) for a budget of
    ``5 max_step`` strokes: the phase of :func:`compositor.paint.scale_schedule` that step ``step``
    falls in gives a g x g grid (40 steps: 14 on the whole image, then 26 on 2 x 2 cells), and the box
    is the cell whose trial painter call removes the most error around it
    (:func:`compositor.paint.trial_gains`, measured on the cell grown by half a side). Every cell's trial
    is recomputed (the picker reuses untouched cells' gains: the same choice up to stale margins). Cells
    of grids with g = 1, 2, 4, 8 are anchor boxes of the actor (:func:`compositor.model.anchor_boxes`).

    Args:
        target, canvas: (E, 3, S, S) in [0, 1]. painter: the frozen painter.
        step: 0-based index of the region in the episode (``PaintEnv.t`` before the step).
        max_step: regions per episode.

    Returns:
        (E, 4) normalised boxes (x0, y0, x1, y1).

    Raises:
        ValueError: ``step`` outside [0, max_step).
    """
    from compositor.paint import STROKES_PER_CALL, grid_cells, scale_schedule, trial_gains

    if not 0 <= step < max_step:
        raise ValueError(f"step must be in [0, {max_step}), got {step}")
    phases = scale_schedule(max_step * STROKES_PER_CALL)  # [(g, calls)], coarse to fine
    ends = itertools.accumulate(calls for _, calls in phases)
    g = next(side for (side, _), end in zip(phases, ends, strict=True) if step < end)
    boxes = grid_cells(g, target.device, target.dtype)  # (g * g, 4)
    best = [
        int(trial_gains(target[i : i + 1], canvas[i : i + 1], painter, boxes).argmax())
        for i in range(target.shape[0])
    ]
    return boxes[best]


def schedule(stroke_num: int, per_region: int = 20, top_limit: int = 50) -> tuple[int, int]:
    """Regions for a stroke budget: (top-level steps S, sub-regions per step k), S * k * per_region >=
    stroke_num (the release's rule with 20 strokes per region and at most ``top_limit`` top steps)."""
    regions = math.ceil(stroke_num / per_region)
    if regions <= top_limit:
        return regions, 1
    k = regions // top_limit + 1
    return math.ceil(regions / k), k
