"""The painting loop: passes from coarse to fine over windows, Adam on bezier13 stroke parameters.

Shape letters: B windows optimised together, T strokes per window, h, w window size (128), H, W canvas.
Strokes are optimised in window coordinates (the renderer's 128-px patch, as in the release) and stored in
canvas coordinates (``to_canvas``). See ``segpaint/__init__.py`` for the paper, equations and departures.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm import tqdm

from common.compositing import composite_sequential
from common.progress import TimeLeft
from common.renderers.bezier13 import bezier13_alpha, render_bezier13
from common.threads import recheck_threads
from segpaint.config import SegPaintConfig
from segpaint.patches import attention_windows, crop, paste_blend, paste_window, uniform_windows
from segpaint.segmentation import Segmentation

AlphaFn = Callable[[torch.Tensor, int, int], torch.Tensor]  # (B, T, 10) window coords -> (B, T, h, w)


@dataclass
class PaintResult:
    """Output of :func:`paint`: final canvas (1, 3, H, W), one canvas per pass, strokes (N, 13) in canvas
    coordinates (painting order), per-pass stroke counts, seconds, notes for metrics.json."""

    canvas: torch.Tensor
    pass_canvases: list[torch.Tensor]
    strokes: torch.Tensor
    pass_counts: list[int]
    seconds: float
    info: dict = field(default_factory=dict)


def min_radius_unit(height: int, width: int, h: int, w: int) -> float:
    """Smallest window radius r (LtP unit) whose canvas radius is representable (canvas r >= 0), >= 0.01."""
    return max(0.01, (0.5 * min(height, width) / min(h, w) - 0.5) / 32)


def to_canvas(params: torch.Tensor, windows, height: int, width: int) -> torch.Tensor:
    """(B, T, 13) strokes in window coordinates -> (B * T, 13) bezier13 strokes in canvas coordinates."""
    out = params.clone()
    for k, (t, l, h, w) in enumerate(windows):
        p = out[k]
        p[:, 0:6:2] = (l + p[:, 0:6:2] * w) / width
        p[:, 1:6:2] = (t + p[:, 1:6:2] * h) / height
        radius_px = (0.5 + 32 * p[:, 6:8]) * min(h, w) / 128
        p[:, 6:8] = ((radius_px * 128 / min(height, width) - 0.5) / 32).clamp(0, 1)
    return out.reshape(-1, 13)


def init_strokes(
    target: torch.Tensor,
    count: int,
    sigma: float,
    brush: float,
    generator: torch.Generator,
    masks: torch.Tensor | None = None,
) -> torch.Tensor:
    """Initial strokes per window (release ``stroke_initialization``): grid midpoints (or random mask pixels),
    start/end ~ N(mid, sigma), middle control point = midpoint, radius ~ U(0.3, 1) * brush, opaque, colour =
    target pixel at the midpoint.

    Args:
        target: (B, 3, h, w) window crops of the image; masks: optional (B, h, w) bool.
    Returns:
        (B, T, 13) raw parameters in window coordinates.
    """
    B, _, h, w = target.shape
    g = math.ceil(math.sqrt(count))
    cells = torch.stack(torch.meshgrid(torch.arange(g), torch.arange(g), indexing="ij"), -1).reshape(-1, 2)
    mids = []
    for b in range(B):
        if masks is not None:
            idx = masks[b].reshape(-1).nonzero().squeeze(1)
            pick = idx[torch.randint(idx.numel(), (count,), generator=generator)]
            mid = torch.stack([(pick % w + 0.5) / w, (pick // w + 0.5) / h], 1).float()
        else:
            sel = cells[torch.randperm(g * g, generator=generator)[:count]]
            mid = torch.stack([(sel[:, 1] + 0.5) / g, (sel[:, 0] + 0.5) / g], 1).float()
        mids.append(mid)
    mid = torch.stack(mids).to(target.device)  # (B, T, 2) as (x, y)
    noise = torch.randn((B, count, 2, 2), generator=generator).to(target.device) * sigma
    p = torch.zeros(B, count, 13, device=target.device)
    p[..., 0:2] = (mid + noise[:, :, 0]).clamp(0, 1)
    p[..., 2:4] = mid
    p[..., 4:6] = (mid + noise[:, :, 1]).clamp(0, 1)
    p[..., 6:8] = brush * (0.3 + 0.7 * torch.rand((B, count, 2), generator=generator)).to(target.device)
    p[..., 8:10] = 1.0
    col = (mid[..., 1] * h).long().clamp(0, h - 1) * w + (mid[..., 0] * w).long().clamp(0, w - 1)  # (B, T)
    p[..., 10:13] = target.flatten(2).gather(2, col[:, None].expand(B, 3, count)).transpose(1, 2)
    return p


def constrain(raw: torch.Tensor, r_lo: float, brush: float) -> torch.Tensor:
    """Forward-pass constraint of the release: every value clamped to [0, 1], radii to [r_lo, brush], opaque
    (``--use_transparency False``). (B, T, 13) -> (B, T, 13)."""
    q = raw.clamp(0, 1)
    r = q[..., 6:8].clamp(r_lo, max(brush, r_lo))
    return torch.cat([q[..., :6], r, torch.ones_like(q[..., 8:10]), q[..., 10:13]], dim=-1)


def render_windows(params: torch.Tensor, canvas: torch.Tensor, alpha_fn: AlphaFn) -> torch.Tensor:
    """Composite (B, T, 13) window strokes over window canvases (B, 3, h, w) -> (B, 3, h, w).

    The analytic renderer goes through ``render_bezier13``: each window is one image of the batch, every
    stroke costs only the pixels it covers (box-over compositing, ``common.compositing.composite_entries``,
    all B windows in one operation per stroke index). Other coverage functions (the neural renderer) give
    full-window alphas, composited by ``common.compositing.composite_sequential``."""
    if alpha_fn is analytic_alpha:
        return render_bezier13(params, canvas)
    h, w = canvas.shape[-2:]
    alpha = alpha_fn(params[..., :10], h, w)  # (B, T, h, w)
    return composite_sequential(canvas, params[..., 10:13], alpha)


def analytic_alpha(params: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Analytic bezier13 coverage (``common.renderers.bezier13``)."""
    return bezier13_alpha(params, h, w)


def neural_alpha_fn(model: torch.nn.Module) -> AlphaFn:
    """Coverage from the neural FCN renderer (128 x 128 output, resized for smaller windows)."""

    def fn(params: torch.Tensor, h: int, w: int) -> torch.Tensor:
        B, T, _ = params.shape
        a = model(params.reshape(B * T, 10).clamp(0, 1))  # (B*T, 1, 128, 128)
        if a.shape[-2:] != (h, w):
            a = F.interpolate(a, size=(h, w), mode="bilinear", align_corners=False)
        return a.view(B, T, h, w)

    return fn


def optimise(
    raw: torch.Tensor,
    canvas: torch.Tensor,
    target: torch.Tensor,
    alpha_fn: AlphaFn,
    steps: int,
    lr: float,
    r_lo: float,
    brush: float,
    loss_mask: torch.Tensor | None = None,
    perceptual: torch.nn.Module | None = None,
    w_perc: float = 0.0,
    global_fn=None,
    on_step=None,
    desc: str = "",
) -> torch.Tensor:
    """Adam on the raw stroke parameters of B windows (fresh optimiser per call, as in the release).

    Loss (paper Eq. 1): ``L = mean |C - I|`` (over the mask's pixels when ``loss_mask`` (B, 1, h, w) is
    given) ``+ beta * L_perc(C, I)`` (+ the half-resolution full-canvas L1 of ``global_fn``).

    Returns:
        (B, T, 13) optimised raw parameters (detached).
    """
    raw = raw.clone().requires_grad_(True)
    # the bar first: the first Adam of a process imports torch._dynamo (torch.optim's _disable_dynamo,
    # about 3.5 CPU-s here), work of this pass that the 0/steps line should not wait for
    bar = tqdm(range(steps), desc=desc, leave=False, dynamic_ncols=True, mininterval=1.0)
    opt = torch.optim.Adam([raw], lr=lr)
    for it in bar:
        opt.zero_grad(set_to_none=True)
        painted = render_windows(constrain(raw, r_lo, brush), canvas, alpha_fn)
        diff = (painted - target).abs()
        if loss_mask is not None:
            loss = (diff * loss_mask).sum() / (3 * loss_mask.sum()).clamp_min(1)
        else:
            loss = diff.mean()
        if perceptual is not None and w_perc > 0:
            loss = loss + w_perc * perceptual(painted, target)
        if global_fn is not None:
            loss = loss + global_fn(painted)
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step(it, painted.detach())
        if it % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
    return raw.detach()


def stroke_inside_fraction(params: torch.Tensor, masks: torch.Tensor, alpha_fn: AlphaFn) -> torch.Tensor:
    """Fraction of each stroke's alpha inside its window's mask.

    params (B, T, 13), masks (B, h, w) bool -> (B, T) in [0, 1]."""
    h, w = masks.shape[-2:]
    with torch.no_grad():
        a = alpha_fn(params[..., :10], h, w)  # (B, T, h, w)
        inside = (a * masks[:, None].to(a.dtype)).sum((2, 3))
        return inside / a.sum((2, 3)).clamp_min(1e-6)


def pass_costs(cfg: SegPaintConfig, grid_windows: int, overhead: float = 1.5) -> list[float]:
    """Relative cost of each pass for the time-left estimate:
    ``Adam steps x windows x (strokes per window x brush ** 1.75 + overhead)``.

    The renderer's work grows with the pixels a stroke covers: a pass of fine strokes is cheaper per stroke;
    the exponent and the per-window ``overhead`` (loss, canvas, Adam) fit the per-pass times of two default
    runs on astronaut at 512 px (issue 16: 83 / 60 / 30 / 22 s and 246 / 203 / 85 / 68 s per pass; the model
    gives 1 : 0.71 : 0.36 : 0.21, measured 1 : 0.72-0.83 : 0.35-0.36 : 0.27-0.28).

    Windows: the grid for uniform passes, the attention budget ``floor(N (0.7 - p / 10))`` after them; mask
    passes are counted as a grid (their window count is known only once the regions are).
    """
    costs = []
    for p, (count, brush) in enumerate(zip(cfg.strokes_per_patch, cfg.brush_sizes, strict=True)):
        mask_pass = cfg.mask_from_pass is not None and p >= cfg.mask_from_pass
        windows = grid_windows
        if not mask_pass and p >= cfg.uniform_passes:
            windows = max(1, math.floor(grid_windows * (0.7 - p / 10)))
        costs.append(cfg.iter_steps * windows * (count * brush**1.75 + overhead))
    return costs


def paint(
    image: torch.Tensor,
    cfg: SegPaintConfig,
    alpha_fn: AlphaFn = analytic_alpha,
    segmentation: Segmentation | None = None,
    perceptual: torch.nn.Module | None = None,
    seed: int = 0,
    recorder=None,
    log=print,
) -> PaintResult:
    """Paint ``image (1, 3, H, W)`` in [0, 1] with the passes of ``cfg``.

    Pass p uses brush ``cfg.brush_sizes[p]`` and ``cfg.strokes_per_patch[p]`` strokes per window; passes
    before ``cfg.uniform_passes`` paint the uniform grid (optimised together, pasted with linear cross-fades),
    later passes paint error-driven attention windows; from ``cfg.mask_from_pass`` on (with a segmentation)
    each region is painted in turn: windows centred in the region, strokes started in it, loss on its
    pixels, strokes that leave it rejected, crops taken just before the region is painted.

    Returns:
        :class:`PaintResult`.
    """
    start = time.time()
    device = image.device
    H, W = image.shape[-2:]
    gen = torch.Generator().manual_seed(seed)
    bg = 1.0 if cfg.canvas_color == "white" else 0.0
    canvas = torch.full_like(image, bg)
    grid = uniform_windows(H, W, cfg.patch_size, cfg.overlap)
    h, w = grid[0][2], grid[0][3]
    r_lo = min_radius_unit(H, W, h, w)
    all_strokes, pass_canvases, counts = [], [], []
    global_fn = None
    info: dict = {"windows_per_pass": []}

    eta = TimeLeft(pass_costs(cfg, len(grid)))
    current = {"pass": 0}

    def record(_it, _painted):
        if recorder is not None and _it % max(1, cfg.iter_steps // 8) == 0:
            recorder.add(canvas)
        if current["pass"] == 0 and _it == min(4, cfg.iter_steps - 1):  # a first estimate, 5 steps in
            tqdm.write(f"all {cfg.passes} passes: {eta.message(0, (_it + 1) / cfg.iter_steps)}")

    for p in range(cfg.passes):
        current["pass"] = p
        T, brush = cfg.strokes_per_patch[p], cfg.brush_sizes[p]
        sigma = cfg.init_sigma[min(p, len(cfg.init_sigma) - 1)]
        use_masks = segmentation is not None and cfg.mask_from_pass is not None and p >= cfg.mask_from_pass
        pass_strokes = []
        if not use_masks:
            if p < cfg.uniform_passes:
                windows = grid
            else:  # attention: propose as many windows as the grid has, keep the worst floor(N (0.7 - p/10))
                keep = max(1, math.floor(len(grid) * (0.7 - p / 10)))
                windows = attention_windows(canvas, image, len(grid), keep, cfg.patch_size, gen)
            tgt, base = crop(image, windows), crop(canvas, windows)
            if cfg.global_loss and p < cfg.uniform_passes:
                small = F.interpolate(image, scale_factor=0.5, mode="area")

                def global_fn(painted, _w=windows, _c=canvas, _s=small):
                    full = paste_blend(_c, painted, _w, cfg.overlap)
                    return (F.interpolate(full, scale_factor=0.5, mode="area") - _s).abs().mean()
            else:
                global_fn = None
            raw = init_strokes(tgt, T, sigma, brush, gen)
            raw = optimise(
                raw,
                base,
                tgt,
                alpha_fn,
                cfg.iter_steps,
                cfg.lr,
                r_lo,
                brush,
                perceptual=perceptual,
                w_perc=cfg.w_perc,
                global_fn=global_fn,
                on_step=record,
                desc=f"pass {p + 1}/{cfg.passes}",
            )
            params = constrain(raw, r_lo, brush)
            with torch.no_grad():
                painted = render_windows(params, base, alpha_fn)
            if p < cfg.uniform_passes:
                canvas = paste_blend(canvas, painted, windows, cfg.overlap)
            else:
                for k, win in enumerate(windows):
                    canvas = paste_window(canvas, painted[k : k + 1], win, cfg.overlap)
            pass_strokes.append(to_canvas(params, windows, H, W))
            info["windows_per_pass"].append(len(windows))
        else:
            n_win = 0
            for m_idx, mask in enumerate(segmentation.masks):
                mask = mask.to(device)
                tiles = sum(int(mask[t : t + hh, l : l + ww].sum()) > 100 for t, l, hh, ww in grid)
                if tiles == 0:
                    continue
                windows = attention_windows(canvas, image, tiles, tiles, cfg.patch_size, gen, mask=mask)
                mwin = crop(mask[None, None].float(), windows)[:, 0] > 0.5  # (B, h, w)
                ok = [k for k in range(len(windows)) if mwin[k].sum() >= 10]
                if not ok:
                    continue
                windows, mwin = [windows[k] for k in ok], mwin[ok]
                tgt, base = crop(image, windows), crop(canvas, windows)  # crops taken now: no stale pixels
                raw = init_strokes(tgt, T, sigma, brush, gen, masks=mwin)
                raw = optimise(
                    raw,
                    base,
                    tgt,
                    alpha_fn,
                    cfg.iter_steps,
                    cfg.lr,
                    r_lo,
                    brush,
                    loss_mask=mwin[:, None].float(),
                    on_step=record,
                    desc=f"pass {p + 1}/{cfg.passes} {segmentation.names[m_idx]}",
                )
                params = constrain(raw, r_lo, brush)
                keep = stroke_inside_fraction(params, mwin, alpha_fn) >= cfg.mask_keep_fraction  # (B, T)
                with torch.no_grad():
                    for k, win in enumerate(windows):
                        kept = params[k : k + 1, keep[k]]
                        if kept.shape[1] == 0:
                            continue
                        painted = render_windows(kept, base[k : k + 1], alpha_fn)
                        canvas = paste_window(canvas, painted, win, cfg.overlap)
                        pass_strokes.append(to_canvas(kept, [win], H, W))
                n_win += len(windows)
            info["windows_per_pass"].append(n_win)
        strokes = torch.cat(pass_strokes) if pass_strokes else torch.zeros(0, 13, device=device)
        all_strokes.append(strokes)
        counts.append(int(strokes.shape[0]))
        pass_canvases.append(canvas.clone())
        if recorder is not None:
            recorder.add(canvas)
        log(
            f"pass {p + 1}/{cfg.passes}: {counts[-1]} strokes, brush {brush}, L1 "
            f"{(canvas - image).abs().mean().item():.4f}, {time.time() - start:.0f} s"
            + (f"; {eta.message(p, 1.0)}" if p + 1 < cfg.passes else "")
        )
        recheck_threads(log)  # follow the machine's load between passes (only under the thread policy)
    return PaintResult(
        canvas.clamp(0, 1),
        pass_canvases,
        torch.cat(all_strokes).detach().cpu(),
        counts,
        time.time() - start,
        info,
    )
