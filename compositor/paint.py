"""The CNP painting pipeline at test time: regions and sub-regions picked by the compositor, strokes by
the painter, every stroke rendered at its absolute position on the full-resolution canvas.

Shape letters: N strokes, H, W canvas size (aspect ratio of the input kept).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from common.renderers.oil import render_oil
from compositor.env import schedule, teacher_box
from compositor.model import action_to_box, crop_boxes, patch_to_canvas, sub_box

STROKES_PER_CALL = 5


@dataclass
class PaintResult:
    """strokes: (N, 8) ``oil`` strokes in canvas coordinates, painting order. canvas: (1, 3, H, W) final
    re-render. regions: (R, 4) normalised boxes painted in. frames: process snapshots (uint8 H x W x 3)."""

    strokes: torch.Tensor
    canvas: torch.Tensor
    regions: torch.Tensor
    frames: list = field(default_factory=list)
    seconds: float = 0.0


class _Canvas:
    """Full-resolution canvas being painted, with a stroke budget and optional process frames."""

    def __init__(self, target, painter, stroke_num, frame_every=0, progress=None):
        self.target, self.painter, self.left = target, painter, stroke_num
        self.canvas = torch.zeros_like(target)  # black canvas, as in the paper
        self.strokes: list[torch.Tensor] = []
        self.regions: list[torch.Tensor] = []
        self.frames: list = []
        self.frame_every, self.since_frame, self.progress = frame_every, 0, progress

    @torch.no_grad()
    def paint(self, box: torch.Tensor, calls: int) -> None:
        """Paint up to ``calls`` x 5 strokes inside ``box`` (1, 4), never beyond the budget."""
        h, w = self.canvas.shape[-2:]
        self.regions.append(box[0])
        size = self.painter.config.patch
        t_patch = crop_boxes(self.target, box, size)
        for _ in range(calls):
            if self.left <= 0:
                return
            s = self.painter(t_patch, crop_boxes(self.canvas, box, size))[
                :, : self.left
            ]  # (1, n, 8), patch coords
            s = patch_to_canvas(s, box, h, w).clamp(0, 1)
            self.canvas = render_oil(s, self.canvas)
            self.strokes.append(s[0])
            self.left -= s.shape[1]
            self._after(s.shape[1])

    def _after(self, n: int) -> None:
        if self.progress is not None:
            self.progress.update(n)
        self.since_frame += n
        if self.frame_every and self.since_frame >= self.frame_every:
            self.since_frame = 0
            self.frames.append(_frame(self.canvas))


def _frame(canvas: torch.Tensor, max_side: int = 512):
    c = canvas
    if max(c.shape[-2:]) > max_side:
        scale = max_side / max(c.shape[-2:])
        c = F.interpolate(c, scale_factor=scale, mode="area")
    return (c[0].clamp(0, 1).permute(1, 2, 0) * 255).round().byte().cpu().numpy()


def _full_box(device, dtype) -> torch.Tensor:
    return torch.tensor([[0.0, 0.0, 1.0, 1.0]], device=device, dtype=dtype)


@torch.no_grad()
def paint_regions(state: _Canvas, actor, stroke_num: int, per_region: int = 5) -> None:
    """Modes 1 and 2: S top-level regions, each split into k sub-regions (k = 1: the region itself)."""
    calls = per_region // STROKES_PER_CALL
    steps, k = schedule(stroke_num, per_region)
    full = _full_box(state.canvas.device, state.canvas.dtype)
    min_box = actor.config.min_box if actor is not None else 0.08
    asz = actor.config.patch if actor is not None else 128  # actor input size
    if actor is None:  # the imitation teacher instead of the trained actor (ablation, not in the paper)

        def actor(t, c):
            return teacher_box(t, c, min_box, state.painter)

    for _ in range(steps):
        if state.left <= 0:
            break
        top = action_to_box(
            actor(crop_boxes(state.target, full, asz), crop_boxes(state.canvas, full, asz)), min_box
        )
        if k == 1:
            state.paint(top, calls)
            continue
        for _ in range(k):
            if state.left <= 0:
                break
            rel = action_to_box(
                actor(crop_boxes(state.target, top, asz), crop_boxes(state.canvas, top, asz)), min_box
            )
            state.paint(sub_box(top, rel), calls)


@torch.no_grad()
def paint_grid(state: _Canvas, stroke_num: int) -> None:
    """Mode 3, the uniform-grid baseline: the whole image, then a g x g grid (g = 5 from 130 strokes on),
    exactly ``stroke_num`` strokes (the release painted about 5x more than asked)."""
    calls = math.ceil(stroke_num / STROKES_PER_CALL)
    g = 5 if calls >= 26 else max(1, int(math.isqrt(max(calls - 1, 1))))
    per = calls // (g * g + 1) if calls > 1 else 0
    whole = calls - per * g * g
    full = _full_box(state.canvas.device, state.canvas.dtype)
    state.paint(full, whole)
    for i in range(g):
        for j in range(g):
            box = torch.tensor(
                [[j / g, i / g, (j + 1) / g, (i + 1) / g]], device=full.device, dtype=full.dtype
            )
            state.paint(box, per)


def paint_image(
    target: torch.Tensor,
    painter,
    actor,
    stroke_num: int,
    mode: int = 1,
    per_region: int = 5,
    frames: int = 0,
    progress=None,
) -> PaintResult:
    """Paint one image with exactly ``stroke_num`` strokes.

    Args:
        target: (1, 3, H, W) in [0, 1] at the output resolution.
        painter: :class:`painter.model.Painter` (eval). actor: :class:`compositor.model.Actor` (eval;
            unused in mode 3), or None for the greedy largest-error teacher of ``compositor.env``.
        stroke_num: strokes to paint (>= 1).
        mode: 1 compositor on the target; 2 compositor on a blurred target (downsampled to a 128 long
            side and back: smoother, coarser paintings); 3 uniform grid without the compositor.
        per_region: strokes per (sub-)region (the painter is called per_region / 5 times).
        frames: number of process snapshots to keep (0: none).
        progress: a tqdm-like object with ``update(n)`` or None.

    Returns:
        :class:`PaintResult`; ``canvas`` is the final re-render of all strokes at absolute positions.
    """
    start = time.time()
    paint_target = target
    if mode == 2:
        h, w = target.shape[-2:]
        scale = 128 / max(h, w)
        small = F.interpolate(target, scale_factor=scale, mode="area") if scale < 1 else target
        paint_target = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)
    frame_every = max(1, stroke_num // frames) if frames else 0
    state = _Canvas(paint_target, painter, stroke_num, frame_every, progress)
    if frames:
        state.frames.append(_frame(state.canvas))
    if mode in (1, 2):
        paint_regions(state, actor, stroke_num, per_region)
        while state.left > 0:  # budget not reached (tiny regions clipped): keep painting the whole image
            state.paint(_full_box(target.device, target.dtype), 1)
    elif mode == 3:
        paint_grid(state, stroke_num)
    else:
        raise ValueError(f"mode must be 1, 2 or 3, got {mode}")
    strokes = torch.cat(state.strokes, dim=0)
    # Final re-render of every stroke at its absolute position, at full resolution.
    canvas = render_oil(strokes[None], torch.zeros_like(target)).clamp(0, 1)
    if frames:
        state.frames.append(_frame(canvas))
    return PaintResult(strokes, canvas, torch.stack(state.regions), state.frames, time.time() - start)


def refine_strokes(
    strokes: torch.Tensor,
    target: torch.Tensor,
    steps: int,
    lr: float = 0.003,
    size: int = 256,
    progress=None,
) -> torch.Tensor:
    """Beyond the paper: optimise the strokes against the target through the differentiable renderer.

    Adam on ``MSE(render_oil(strokes, black), target)`` at a working resolution whose long side is
    ``size`` (strokes are resolution independent), parameters clamped to [0, 1] after every step.

    Args:
        strokes: (N, 8) canvas strokes. target: (1, 3, H, W). steps: Adam steps.
        progress: optional callable(step): 0 before the first step, then after each step (1-based).

    Returns:
        (N, 8) refined strokes (detached).
    """
    if steps <= 0:
        return strokes
    h, w = target.shape[-2:]
    scale = min(1.0, size / max(h, w))
    small = F.interpolate(target, scale_factor=scale, mode="area") if scale < 1 else target
    params = strokes.detach().clone()[None].requires_grad_(True)
    opt = torch.optim.Adam([params], lr=lr)
    black = torch.zeros_like(small)
    if progress is not None:
        progress(0)
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(render_oil(params, black, use_boxes=True), small)
        loss.backward()
        opt.step()
        with torch.no_grad():
            params.clamp_(0, 1)
        if progress is not None:
            progress(step + 1)
    return params.detach()[0]
