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
from compositor.model import action_to_box, crop_boxes, crop_many, patch_to_canvas, sub_box

STROKES_PER_CALL = 5
POLICIES = ("multiscale", "lookahead", "actor", "teacher")


@dataclass
class PaintResult:
    """strokes: (N, 8) ``oil`` strokes in canvas coordinates, painting order. canvas: (1, 3, H, W) final
    re-render. regions: (R, 4) normalised boxes painted in. frames: process snapshots (uint8 H x W x 3).
    ground: the canvas colour the strokes are painted on, 3 floats in [0, 1] (see :func:`ground_colour`)."""

    strokes: torch.Tensor
    canvas: torch.Tensor
    regions: torch.Tensor
    frames: list = field(default_factory=list)
    seconds: float = 0.0
    ground: tuple = (0.0, 0.0, 0.0)


class _Canvas:
    """Full-resolution canvas being painted, with a stroke budget and optional process frames."""

    def __init__(self, target, painter, stroke_num, frame_every=0, progress=None, ground=(0.0, 0.0, 0.0)):
        self.target, self.painter, self.left = target, painter, stroke_num
        self.canvas = ground_canvas(target, ground)  # black (the paper's) or a toned ground
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
            s = self.painter(t_patch, crop_boxes(self.canvas, box, size))  # (1, 5, 8), patch coords
            self.add(patch_to_canvas(s, box, h, w).clamp(0, 1))

    def add(self, strokes: torch.Tensor) -> None:
        """Render (1, n, 8) canvas strokes, at most the strokes left in the budget."""
        s = strokes[:, : self.left]
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


GROUNDS = ("mean", "black")


def ground_colour(target: torch.Tensor, ground: str = "mean") -> tuple[float, float, float]:
    """The colour of the canvas before the first stroke (not in the paper, whose canvas is black).

    ``"mean"``: the target's mean colour, a toned ground as painters lay one; ``"black"``: the paper's.

    Args:
        target: (1, 3, H, W) in [0, 1]. ground: ``"mean"`` or ``"black"``.

    Returns:
        (R, G, B) floats in [0, 1].

    Raises:
        ValueError: unknown ``ground``.
    """
    if ground == "black":
        return (0.0, 0.0, 0.0)
    if ground == "mean":
        return tuple(float(v) for v in target.mean((0, 2, 3)).clamp(0, 1))
    raise ValueError(f"ground must be one of {GROUNDS}, got {ground!r}")


def ground_canvas(like: torch.Tensor, ground) -> torch.Tensor:
    """A canvas the shape, dtype and device of ``like`` (B, 3, H, W), filled with the (R, G, B) ``ground``."""
    colour = torch.as_tensor(ground, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)
    return colour.expand_as(like).clone()


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


# Share of the calls of the finest, second finest and third finest phase of :func:`scale_schedule`; the
# coarser phases share the rest equally (measured in compositor/__init__.py).
PHASE_SHARES = (0.64, 0.24, 0.08)
TOUCH_MARGIN = 0.0  # cells (beyond the strokes' boxes) whose look-ahead gains are recomputed


def scale_schedule(stroke_num: int, max_cells: int = 32) -> list[tuple[int, int]]:
    """Coarse-to-fine region scales for a stroke budget (not in the paper; ``compositor/__init__.py``).

    Phases ``(g, calls)``: regions are the cells of a g x g grid over the image, each phase spends
    ``calls`` painter calls (5 strokes each). The finest grid has G = round(5 (T / 200)^0.72) cells per
    side (T = ceil(stroke_num / 5) calls; at least 1, at most ``max_cells``): 2 at 200 strokes, 5 at
    1000, 16 at 5000, fitted to the look-ahead's PSNR on the benchmark photos (at 1000 strokes 5 x 5
    beat 8 x 8, at 5000 16 x 16 beat 11 x 11 and 8 x 8); the coarser phases halve it down to the whole
    image (16, 8, 4, 2, 1; 5, 2, 1). The finest three phases get 64 %, 24 % and 8 % of the calls, the
    coarser ones the rest, equally; when there are fewer phases the coarsest takes the missing shares.

    Returns:
        list of (cells per side, painter calls), coarse to fine; the calls sum to T.
    """
    total = math.ceil(stroke_num / STROKES_PER_CALL)
    g = min(max_cells, max(1, round(5 * (total / 200) ** 0.72)))
    sides = []
    while g >= 1:
        sides.append(g)
        g //= 2
    sides = sides[::-1]  # coarse to fine, starting with the whole image
    fine = list(PHASE_SHARES[: len(sides)])[::-1]  # shares of the finest phases, coarse to fine
    coarse = len(sides) - len(fine)
    rest = 1.0 - sum(fine)
    shares = [rest / coarse] * coarse + fine if coarse else [fine[0] + rest] + fine[1:]
    calls = [int(round(total * f)) for f in shares]
    calls[-1] = total - sum(calls[:-1])
    return [(side, c) for side, c in zip(sides, calls, strict=True) if c > 0]


def grid_cells(g: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(g * g, 4) normalised boxes of a g x g grid over the image, raster order."""
    i = torch.arange(g, device=device, dtype=dtype)
    y0, x0 = torch.meshgrid(i / g, i / g, indexing="ij")
    x0, y0 = x0.flatten(), y0.flatten()
    return torch.stack([x0, y0, x0 + 1 / g, y0 + 1 / g], 1)


@torch.no_grad()
def trial_gains(
    target,
    canvas,
    painter,
    boxes: torch.Tensor,
    margin: float = 0.5,
    strokes: bool = False,
    target_crops=None,
    pyramid=None,
):
    """Error one painter call would remove around each box (the look-ahead of the greedy regions).

    The painter sees the box cropped from the target and the canvas at its patch size, exactly as when it
    paints there; its 5 strokes are rendered (exact ``oil`` renderer) on the box grown by ``margin``
    times its side on every side (clipped to the image), at the patch's pixel density, and the gain is
    the drop of that crop's MSE times its area, i.e. a share of the whole image's MSE. Strokes cross the
    box's border, so a gain measured inside the box only is optimistic: with margin 0 the greedy
    regions alternated between neighbouring cells that each call damaged (astronaut, 1000 strokes,
    whole image then 5 x 5 cells: 15.1 dB against 18.3 dB for the plain grid).

    Args:
        target, canvas: (1, 3, H, W) in [0, 1]. painter: the frozen painter. boxes: (M, 4) normalised.
        margin: growth of the measured area, fraction of the box side per side.
        target_crops: optional (inner, outer) target crops of these boxes, as :func:`_trial_boxes` makes
            them (the target does not change during a painting: cropped once per phase).
        pyramid: optional list for :func:`crop_pyramid` (``[canvas]`` or one it extended): the canvas
            crops are cut from half-size copies of the canvas where the boxes are large (cheaper).

    Returns:
        (M,) gains, squared [0, 1] units (negative: the call would make the image worse); with
        ``strokes=True`` also the (M, 5, 8) strokes of the trial calls in patch coordinates (what a real
        call in the box paints, as long as the box's canvas does not change).
    """
    size = painter.config.patch
    outer, rel, big = _trial_boxes(boxes, size, margin)
    if target_crops is None:
        target_crops = crop_many(target, boxes, size), crop_many(target, outer, big)
    t_in, t = target_crops
    if pyramid is None:
        c_in, c = crop_many(canvas, boxes, size), crop_many(canvas, outer, big)
    else:
        c_in, c = crop_pyramid(pyramid, boxes, size), crop_pyramid(pyramid, outer, big)
    patch_strokes = painter(t_in, c_in)
    after = render_oil(patch_to_canvas(patch_strokes, rel, big, big).clamp(0, 1), c)
    osz = outer[:, 2:] - outer[:, :2]
    area = osz[:, 0] * osz[:, 1]
    gains = ((t - c).pow(2).flatten(1).mean(1) - (t - after).pow(2).flatten(1).mean(1)) * area
    return (gains, patch_strokes) if strokes else gains


def crop_pyramid(pyramid: list[torch.Tensor], boxes: torch.Tensor, size: int) -> torch.Tensor:
    """:func:`compositor.model.crop_many` of (M, 4) normalised boxes, each cut from the smallest
    half-size copy of the image on which the box is still at least ``size`` pixels (``roi_align``'s
    adaptive sampling then takes at most 2 x 2 samples per output pixel, instead of up to (H / size)^2:
    a whole-image crop of a 512 px canvas to 64 px read 64 samples per output pixel).

    Args:
        pyramid: ``[image]`` (1, C, H, W), or the list a previous call extended: the half-size copies
            (2 x 2 average pooling) are appended to it when a box first needs them, so a list kept
            while the image does not change builds each copy once.
        boxes: (M, 4) normalised. size: output side, pixels.

    Returns:
        (M, C, size, size).
    """
    h, w = pyramid[0].shape[-2:]
    px = torch.minimum((boxes[:, 2] - boxes[:, 0]) * w, (boxes[:, 3] - boxes[:, 1]) * h)  # (M,) pixels
    level = torch.log2(px / size).floor().clamp_min(0).long()
    out = torch.empty(
        len(boxes), pyramid[0].shape[1], size, size, dtype=pyramid[0].dtype, device=boxes.device
    )
    for j in level.unique().tolist():
        while len(pyramid) <= j:
            pyramid.append(F.avg_pool2d(pyramid[-1], 2, ceil_mode=True))
        sel = level == j
        out[sel] = crop_many(pyramid[j], boxes[sel], size)
    return out


def _trial_boxes(boxes: torch.Tensor, size: int, margin: float):
    """The measured areas of :func:`trial_gains`: (M, 4) boxes grown by ``margin`` sides per side and
    clipped, the boxes relative to them (M, 4), and their crop size in pixels."""
    side = boxes[:, 2:] - boxes[:, :2]
    outer = torch.cat(
        [(boxes[:, :2] - margin * side).clamp(0, 1), (boxes[:, 2:] + margin * side).clamp(0, 1)], 1
    )
    osz = outer[:, 2:] - outer[:, :2]
    rel = torch.cat([(boxes[:, :2] - outer[:, :2]) / osz, (boxes[:, 2:] - outer[:, :2]) / osz], 1)
    return outer, rel, int(math.ceil(size * (1 + 2 * margin)))


def _touched(strokes: torch.Tensor, g: int, height: int, width: int, margin: float = 0.5) -> list[int]:
    """Indices of the g x g grid cells whose areas grown by ``margin`` cells per side the bounding
    boxes of (n, 8) canvas strokes overlap (the cells whose :func:`trial_gains` a call changed)."""
    short = min(height, width)
    reach = 0.5 * torch.sqrt(strokes[:, 2] ** 2 + strokes[:, 3] ** 2) * short  # pixels
    x, y = strokes[:, 0] * width, strokes[:, 1] * height
    c0 = ((x - reach) / width * g - margin).floor().clamp(0, g - 1).long()
    c1 = ((x + reach) / width * g + margin).floor().clamp(0, g - 1).long()
    r0 = ((y - reach) / height * g - margin).floor().clamp(0, g - 1).long()
    r1 = ((y + reach) / height * g + margin).floor().clamp(0, g - 1).long()
    cells = set()
    for a, b, c, d in zip(r0.tolist(), r1.tolist(), c0.tolist(), c1.tolist(), strict=True):
        cells.update(i * g + j for i in range(a, b + 1) for j in range(c, d + 1))
    return sorted(cells)


@torch.no_grad()
def paint_lookahead(state: _Canvas, stroke_num: int, max_cells: int = 32, chunk: int = 64) -> None:
    """Modes 1 and 2 by default: coarse-to-fine scales, greedy look-ahead regions (not in the paper).

    For each phase ``(g, calls)`` of :func:`scale_schedule`, the cells of a g x g grid are the candidate
    regions; every painter call goes to the cell where a trial call removes the most error
    (:func:`trial_gains`) and paints the trial's own strokes; after each call the trials of the cells
    whose boxes its strokes' bounding boxes overlap are redone (lazy greedy: the other cells' boxes did
    not change; their gains, measured with a margin around the box, may be slightly stale: redoing the
    margin's cells too gave the same PSNR in twice the time, astronaut / fruits at 1000 strokes). The
    trained actor is not used. Exactly ``stroke_num`` strokes are painted.

    Args:
        state: the canvas being painted (its painter, target and budget). stroke_num: the budget.
        max_cells: finest grid side. chunk: cells per batched trial at the start of a phase.
    """
    h, w = state.canvas.shape[-2:]
    size = state.painter.config.patch
    for g, calls in scale_schedule(stroke_num, max_cells):
        boxes = grid_cells(g, state.canvas.device, state.canvas.dtype)
        crops = None
        if g <= 16:  # the target's crops once per phase (at most 256 x 3 x (128^2 + 64^2) floats)
            outer, _, big = _trial_boxes(boxes, size, 0.5)
            crops = crop_many(state.target, boxes, size), crop_many(state.target, outer, big)

        def trial(idx, boxes=boxes, crops=crops):
            tc = None if crops is None else (crops[0][idx], crops[1][idx])
            return trial_gains(
                state.target, state.canvas, state.painter, boxes[idx], strokes=True, target_crops=tc
            )

        trials = [trial(torch.arange(i, min(i + chunk, len(boxes)))) for i in range(0, len(boxes), chunk)]
        gains = torch.cat([t[0] for t in trials])
        planned = torch.cat([t[1] for t in trials])  # (g * g, 5, 8) each cell's next call, patch coords
        for _ in range(calls):
            if state.left <= 0:
                return
            k = int(gains.argmax())
            # the trial's strokes ARE the call (its box's canvas has not changed since): no second forward
            state.regions.append(boxes[k])
            state.add(patch_to_canvas(planned[k : k + 1], boxes[k : k + 1], h, w).clamp(0, 1))
            near = _touched(state.strokes[-1], g, h, w, TOUCH_MARGIN)
            if k not in near:
                near.append(k)
            gains[near], planned[near] = trial(torch.tensor(near))


MULTISCALE_SIDES = (1, 2, 4, 8, 16, 32)  # cells per side of the candidate grids of paint_multiscale


class _Quadtree:
    """The candidate regions of :func:`paint_multiscale`: the cells of the 1 x 1, 2 x 2, 4 x 4, ... grids
    in one flat list (coarse to fine, raster order inside a grid), which are open (candidates) and which
    stale (painted near since their last trial), each open cell's last look-ahead gain and
    planned strokes, and the target's crops of the open cells (cut once, when the cell opens)."""

    def __init__(self, state: _Canvas, sides) -> None:
        dev, dt = state.canvas.device, state.canvas.dtype
        self.sides = list(sides)
        self.start = [0]
        for g in self.sides:
            self.start.append(self.start[-1] + g * g)
        n = self.start[-1]
        self.boxes = torch.cat([grid_cells(g, dev, dt) for g in self.sides])  # (n, 4)
        self.size = state.painter.config.patch
        self.outer, _, self.big = _trial_boxes(self.boxes, self.size, 0.5)
        self.open = torch.zeros(n, dtype=torch.bool, device=dev)
        self.stale = torch.zeros(n, dtype=torch.bool, device=dev)  # painted near since the last trial
        self.trials = 0  # cells tried so far (a cost figure)
        self.gains = torch.full((n,), float("-inf"), dtype=dt, device=dev)
        self.planned = torch.zeros(n, STROKES_PER_CALL, 8, dtype=dt, device=dev)
        # allocated, not written: only the rows of opened cells are ever filled (and touched in memory)
        self.t_in = torch.empty(n, 3, self.size, self.size, dtype=dt, device=dev)
        self.t_out = torch.empty(n, 3, self.big, self.big, dtype=dt, device=dev)
        self.pyramid = [state.canvas]  # crop_pyramid's half-size copies of the canvas, built on demand

    def level(self, i: int) -> int:
        """Index into ``sides`` of the grid that flat cell ``i`` belongs to."""
        return max(j for j in range(len(self.sides)) if self.start[j] <= i)

    def children(self, i: int) -> list[int]:
        """Flat indices of the 4 cells of the next finer grid inside flat cell ``i`` (none: finest)."""
        lv = self.level(i)
        if lv + 1 >= len(self.sides):
            return []
        g, r = self.sides[lv], self.sides[lv + 1] // self.sides[lv]
        y, x = divmod(i - self.start[lv], g)
        return [self.start[lv + 1] + (r * y + a) * g * r + r * x + b for a in range(r) for b in range(r)]

    def touched(self, strokes: torch.Tensor, height: int, width: int, levels=None) -> list[int]:
        """Flat indices of the open cells of the grids ``levels`` (indices into ``sides``; default all)
        that the (n, 8) canvas strokes overlap."""
        cells = []
        for j in range(len(self.sides)) if levels is None else levels:
            g = self.sides[j]
            cells += [self.start[j] + c for c in _touched(strokes, g, height, width, TOUCH_MARGIN)]
        return [c for c in cells if self.open[c]]

    def trial(self, state: _Canvas, cells: list[int]) -> None:
        """Open the cells not yet open and redo the trials of all of them in ONE batched call."""
        idx = torch.tensor(sorted(set(cells)), device=self.boxes.device)
        new = idx[~self.open[idx]]
        if len(new):
            self.t_in[new] = crop_many(state.target, self.boxes[new], self.size)
            self.t_out[new] = crop_many(state.target, self.outer[new], self.big)
            self.open[new] = True
        crops = self.t_in[idx], self.t_out[idx]
        if self.pyramid[0] is not state.canvas:  # the canvas changed since the last trial
            self.pyramid = [state.canvas]
        self.gains[idx], self.planned[idx] = trial_gains(
            state.target, state.canvas, state.painter, self.boxes[idx], 0.5, True, crops,
            pyramid=self.pyramid,
        )  # fmt: skip
        self.trials += len(idx)
        self.stale[idx] = False


@torch.no_grad()
def paint_multiscale(state: _Canvas, stroke_num: int, max_cells: int = 32, batch: int = 16) -> None:
    """Mode 1's default regions: a multi-scale greedy look-ahead without a fitted schedule (not in the
    paper; measured in ``compositor/__init__.py``).

    The candidate regions are cells of the 1 x 1, 2 x 2, 4 x 4, ... grids (up to ``max_cells`` per
    side), opened as a quadtree: at the start the whole image and its 4 quarters; whenever a cell is
    painted, its 4 sub-cells of the next finer grid become candidates too. Every painter call goes to
    the candidate, at any scale, where a trial call (:func:`trial_gains`) removes the most squared error
    from the image, and paints the trial's own strokes. A region is thus painted with large strokes
    while a call there removes more error than one in a sub-cell, and the stroke size follows the
    canvas instead of a schedule fitted to photos.

    After a call, the candidates whose boxes its strokes overlap are tried again in one batched painter
    call (canvas crops by :func:`crop_pyramid`) at the painted scale and every finer one; at the
    coarser scales they are only marked stale, and before a pick the stale candidates whose last gain
    beats the best fresh one are tried again (``batch`` at a time) until the best is fresh (lazy
    greedy: fine strokes rarely make a coarse call worth more, whereas a coarse call over finished
    detail can make the detail's own cells worth much more, so those are always redone). Exactly
    ``stroke_num`` strokes.

    Args:
        state: the canvas being painted (its painter, target and budget). stroke_num: the budget.
        max_cells: finest grid side. batch: most stale candidates refreshed per batched trial.
    """
    h, w = state.canvas.shape[-2:]
    tree = _Quadtree(state, [g for g in MULTISCALE_SIDES if g <= max_cells] or [1])
    tree.trial(state, [0] + tree.children(0))
    while state.left > 0:
        while True:
            fresh = tree.gains.masked_fill(tree.stale, float("-inf"))  # closed cells hold -inf
            waiting = tree.stale & (tree.gains > fresh.max())
            if not waiting.any():
                break
            gains = tree.gains.masked_fill(~waiting, float("-inf"))
            tree.trial(state, gains.topk(min(batch, int(waiting.sum()))).indices.tolist())
        k = int(fresh.argmax())
        state.regions.append(tree.boxes[k])
        state.add(patch_to_canvas(tree.planned[k : k + 1], tree.boxes[k : k + 1], h, w).clamp(0, 1))
        if state.left > 0:
            level = tree.level(k)
            tree.stale[tree.touched(state.strokes[-1], h, w, range(level))] = True
            finer = tree.touched(state.strokes[-1], h, w, range(level, len(tree.sides)))
            tree.trial(state, finer + [k] + tree.children(k))


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
    policy: str = "multiscale",
    ground: str = "black",
) -> PaintResult:
    """Paint one image with exactly ``stroke_num`` strokes.

    Args:
        target: (1, 3, H, W) in [0, 1] at the output resolution.
        painter: :class:`painter.model.Painter` (eval). actor: :class:`compositor.model.Actor` (eval;
            used by ``policy="actor"`` only), or None.
        stroke_num: strokes to paint (>= 1).
        mode: 1 compositor on the target; 2 compositor on a blurred target (downsampled to a 128 long
            side and back: smoother, coarser paintings); 3 uniform grid without the compositor.
        per_region: strokes per (sub-)region with ``policy`` "actor" or "teacher" (the painter is
            called per_region / 5 times); the look-ahead gives every call its own region.
        frames: number of process snapshots to keep (0: none).
        progress: a tqdm-like object with ``update(n)`` or None.
        policy: who picks the regions in modes 1 and 2: ``"multiscale"`` (default, not in the paper:
            greedy look-ahead over the cells of all scales, :func:`paint_multiscale`), ``"lookahead"``
            (the same greedy inside a coarse-to-fine schedule fitted to the benchmark photos,
            :func:`paint_lookahead`; about 2.5 x faster), ``"actor"`` (the trained actor with the
            release's top-level / sub-region schedule, the paper's method) or ``"teacher"`` (the
            actor's imitation teacher in that schedule, ablation).
        ground: the canvas before the first stroke (:func:`ground_colour`): ``"black"`` (default, the
            paper's) or ``"mean"`` (the target's mean colour, a toned ground; not in the paper).

    Returns:
        :class:`PaintResult`; ``canvas`` is the final re-render of all strokes at absolute positions
        on the ground.

    Raises:
        ValueError: unknown mode, policy or ground, or ``policy="actor"`` without an actor.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    if policy == "actor" and actor is None and mode in (1, 2):
        raise ValueError("policy 'actor' needs the compositor's actor")
    start = time.time()
    paint_target = target
    if mode == 2:
        h, w = target.shape[-2:]
        scale = 128 / max(h, w)
        small = F.interpolate(target, scale_factor=scale, mode="area") if scale < 1 else target
        paint_target = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)
    frame_every = max(1, stroke_num // frames) if frames else 0
    colour = ground_colour(paint_target, ground)
    state = _Canvas(paint_target, painter, stroke_num, frame_every, progress, colour)
    if frames:
        state.frames.append(_frame(state.canvas))
    if mode in (1, 2) and policy == "lookahead":
        paint_lookahead(state, stroke_num)
    elif mode in (1, 2) and policy == "multiscale":
        paint_multiscale(state, stroke_num)
    elif mode in (1, 2):
        paint_regions(state, actor if policy == "actor" else None, stroke_num, per_region)
        while state.left > 0:  # budget not reached (tiny regions clipped): keep painting the whole image
            state.paint(_full_box(target.device, target.dtype), 1)
    elif mode == 3:
        paint_grid(state, stroke_num)
    else:
        raise ValueError(f"mode must be 1, 2 or 3, got {mode}")
    strokes = torch.cat(state.strokes, dim=0)
    # Final re-render of every stroke at its absolute position, at full resolution.
    canvas = render_oil(strokes[None], ground_canvas(target, colour)).clamp(0, 1)
    if frames:
        state.frames.append(_frame(canvas))
    regions = torch.stack(state.regions)
    return PaintResult(strokes, canvas, regions, state.frames, time.time() - start, colour)


def refine_strokes(
    strokes: torch.Tensor,
    target: torch.Tensor,
    steps: int,
    lr: float = 0.003,
    size: int = 256,
    progress=None,
    ground=(0.0, 0.0, 0.0),
) -> torch.Tensor:
    """Beyond the paper: optimise the strokes against the target through the differentiable renderer.

    Adam on ``MSE(render_oil(strokes, ground), target)`` (``ground``: the (R, G, B) canvas colour) at a
    working resolution whose long side is ``size`` (strokes are resolution independent), parameters
    clamped to [0, 1] after every step.

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
    base = ground_canvas(small, ground)
    if progress is not None:
        progress(0)
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(render_oil(params, base, use_boxes=True), small)
        loss.backward()
        opt.step()
        with torch.no_grad():
            params.clamp_(0, 1)
        if progress is not None:
            progress(step + 1)
    return params.detach()[0]
