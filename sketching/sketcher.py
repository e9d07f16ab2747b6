"""MROSS's multi-round optimisation of cubic Bezier strokes (CLIPasso's loop, run once per region).

Shape letters: N strokes (all rounds so far), K = 4 control points, C canvas side in pixels.
Control points are optimised in PIXEL units (as CLIPasso/MROSS do with diffvg, which is why Adam's learning
rate 1.0 means about one pixel per step) and divided by C only when rendered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from common.renderers.curve import curves_to_rows, render_curves
from sketching.initialization import random_walk_strokes, saliency_sampling, seed_points

__all__ = ["SketchConfig", "SketchResult", "render_sketch", "sketch_rows", "optimize_sketch"]


@dataclass
class SketchConfig:
    """Settings of one sketch (defaults: the MROSS/CLIPasso values unless noted).

    Attributes:
        num_strokes: total strokes N over all rounds (MROSS README: 48).
        num_iter: iterations per round (MROSS runner: 801; ours 300 by default to fit a CPU budget).
        canvas: canvas side C in pixels (224, CLIP's input size).
        stroke_width: stroke width in canvas pixels (1.5, not optimised).
        lr: Adam learning rate on pixel coordinates (1.0).
        eval_every: iterations between evaluations without augmentation (10).
        early_stop_tol: stop a round after two consecutive evaluations changing by at most this (1e-5,
            CLIPasso); 0 disables early stopping.
        init: seed placement, ``"fps"`` (MROSS: farthest points over Canny edges), ``"saliency"`` (CLIPasso:
            softmax over a saliency map, needs one) or ``"random"`` (uniform in the region).
        walk_radius: CLIPasso's random-walk step for control points, fraction of C (0.05).
    """

    num_strokes: int = 48
    num_iter: int = 300
    canvas: int = 224
    stroke_width: float = 1.5
    lr: float = 1.0
    eval_every: int = 10
    early_stop_tol: float = 1e-5
    init: str = "fps"
    walk_radius: float = 0.05

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SketchResult:
    """One optimised sketch.

    Attributes:
        control_points: ``(N, 4, 2)`` float32 pixels, the best iterate of the last round.
        best_loss: its evaluation objective (no augmentation).
        round_points: per round, the ``(N_r, 4, 2)`` best iterate after that round (N_r strokes so far).
        round_losses: per round, the best evaluation objective.
        budgets: strokes added per round (sums to N).
        loss_curve: training objective at every iteration (all rounds, in order).
        eval_curve: ``(global_iteration, eval objective)`` every ``eval_every`` iterations.
        seconds: wall time of the optimisation; iterations: iterations run.
        seed: the seed of this run.
    """

    control_points: torch.Tensor
    best_loss: float
    round_points: list[torch.Tensor] = field(default_factory=list)
    round_losses: list[float] = field(default_factory=list)
    budgets: list[int] = field(default_factory=list)
    loss_curve: list[float] = field(default_factory=list)
    eval_curve: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    iterations: int = 0
    seed: int = 0


def _stroke_style(n: int, canvas: int, width_px: float, like: torch.Tensor):
    widths = torch.full((1, n), width_px / canvas, dtype=like.dtype, device=like.device)  # (1, N)
    colors = torch.zeros(1, n, 4, dtype=like.dtype, device=like.device)  # black ink ...
    colors[..., 3] = 1.0  # ... fully opaque (CLIPasso's default: colour not optimised)
    return widths, colors


def render_sketch(points_px: torch.Tensor, canvas: int, width_px: float) -> torch.Tensor:
    """Render black strokes on white paper.

    Args:
        points_px: ``(N, 4, 2)`` control points in pixels.
        canvas: C; width_px: stroke width in pixels.

    Returns:
        ``(1, 3, C, C)`` float in [0, 1], differentiable in ``points_px``.
    """
    n = points_px.shape[0]
    widths, colors = _stroke_style(n, canvas, width_px, points_px)
    paper = torch.ones(1, 3, canvas, canvas, dtype=points_px.dtype, device=points_px.device)
    return render_curves((points_px / canvas).unsqueeze(0), widths, colors, paper)


def sketch_rows(points_px: torch.Tensor, canvas: int, width_px: float) -> torch.Tensor:
    """``(N, 4, 2)`` pixel control points -> ``(N, 13)`` ``curve`` JSON rows (normalised, black, opaque)."""
    n = points_px.shape[0]
    widths, colors = _stroke_style(n, canvas, width_px, points_px)
    return curves_to_rows(points_px.detach().cpu() / canvas, widths[0].cpu(), colors[0].cpu())


def optimize_sketch(
    objective: Callable[..., dict],
    round_masks: list[np.ndarray],
    budgets: list[int],
    edges: np.ndarray,
    config: SketchConfig,
    seed: int,
    device: torch.device,
    saliency: np.ndarray | None = None,
    on_eval: Callable[[torch.Tensor, int, float], None] | None = None,
    progress: bool = True,
) -> SketchResult:
    """Run MROSS's rounds: round r seeds ``budgets[r]`` new strokes in ``round_masks[r]``, recreates Adam over
    ALL strokes and optimises them for ``config.num_iter`` iterations against the whole target.

    Args:
        objective: ``objective(sketch (1, 3, C, C), augment: bool) -> {"loss": scalar, ...}``.
        round_masks: ``(C, C)`` bool masks; the first is the whole image.
        budgets: strokes per round (same length as ``round_masks``; sums to ``config.num_strokes``).
        edges: ``(C, C)`` bool Canny edges of the target (FPS seeds).
        config: :class:`SketchConfig`.
        seed: seeds the seed placement, the random walk and the augmentations.
        device: where to optimise.
        saliency: ``(C, C)`` map for ``config.init == "saliency"``.
        on_eval: callback ``(sketch image, global iteration, eval loss)`` at each evaluation (video frames).
        progress: show a tqdm bar.

    Returns:
        :class:`SketchResult`.
    """
    from tqdm import tqdm

    if len(round_masks) != len(budgets):
        raise ValueError("one budget per round mask is needed")
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # augmentations draw from the global generator
    c = config.canvas
    points = torch.zeros(0, 4, 2)
    result = SketchResult(control_points=points, best_loss=float("inf"), budgets=list(budgets), seed=seed)
    start = time.perf_counter()
    total = config.num_iter * len(budgets)
    bar = tqdm(total=total, disable=not progress, desc=f"sketch seed {seed}", leave=False)
    step = 0
    for mask, n_new in zip(round_masks, budgets, strict=True):
        if n_new > 0:
            if config.init == "saliency" and saliency is not None:
                seeds = saliency_sampling(saliency, edges & mask, n_new, rng)
            elif config.init == "random":
                ys, xs = np.nonzero(mask)
                pick = rng.choice(len(ys), size=n_new, replace=len(ys) < n_new)
                seeds = np.stack([xs[pick], ys[pick]], 1) + 0.5
            else:
                seeds = seed_points(mask, edges, n_new, rng)
            points = torch.cat([points, random_walk_strokes(seeds, c, gen, config.walk_radius)], 0)
        params = points.clone().to(device).requires_grad_(True)
        optimizer = torch.optim.Adam([params], lr=config.lr)  # recreated each round over all strokes
        best, best_points, last_evals = float("inf"), points.clone(), []
        for it in range(config.num_iter):
            if it % config.eval_every == 0 or it == config.num_iter - 1:
                with torch.no_grad():
                    image = render_sketch(params, c, config.stroke_width)
                    value = float(objective(image, augment=False)["loss"])
                result.eval_curve.append((step, value))
                if value < best:
                    best, best_points = value, params.detach().cpu().clone()
                if on_eval is not None:
                    on_eval(image.detach(), step, value)
                last_evals.append(value)
                tol = config.early_stop_tol
                if (
                    tol > 0
                    and len(last_evals) >= 3
                    and all(abs(last_evals[-i] - last_evals[-i - 1]) <= tol for i in (1, 2))
                ):
                    break
            optimizer.zero_grad(set_to_none=True)
            loss = objective(render_sketch(params, c, config.stroke_width), augment=True)["loss"]
            loss.backward()
            optimizer.step()
            result.loss_curve.append(float(loss.detach()))
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{best:.4g}")
        with torch.no_grad():  # the final iterate counts too
            value = float(objective(render_sketch(params, c, config.stroke_width), augment=False)["loss"])
        if value < best:
            best, best_points = value, params.detach().cpu().clone()
        result.eval_curve.append((step, value))
        points = best_points  # the best iterate of this round starts the next one
        result.round_points.append(points.clone())
        result.round_losses.append(best)
    bar.close()
    result.control_points = points
    result.best_loss = result.round_losses[-1] if result.round_losses else float("inf")
    result.seconds = time.perf_counter() - start
    result.iterations = step
    return result
