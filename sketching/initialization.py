"""Stroke initialisation: seed points (farthest-point sampling over edge pixels, CLIP saliency, random) and
CLIPasso's random-walk control points.

Shape letters: N strokes, K = 4 control points, H, W canvas size. Seed points and control points here are in
PIXEL units (x = column, y = row, continuous, pixel centres at +0.5), the units the optimiser works in.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["farthest_point_sampling", "saliency_sampling", "random_walk_strokes", "seed_points"]


def farthest_point_sampling(points: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy farthest-point sampling (MROSS's seed placement over Canny edge pixels).

    Starts at a random point, then repeatedly adds the point farthest from all chosen ones.

    Args:
        points: ``(P, 2)`` candidate coordinates (x, y) in pixels.
        n: number of samples; if ``n >= P`` every point is returned (in FPS order) and the rest is not filled.
        rng: numpy generator (reproducible seeds).

    Returns:
        ``(min(n, P), 2)`` float64 coordinates.
    """
    p = np.asarray(points, dtype=np.float64)
    if len(p) == 0 or n <= 0:
        return np.zeros((0, 2))
    n = min(n, len(p))
    chosen = [int(rng.integers(len(p)))]
    dist = np.full(len(p), np.inf)
    for _ in range(n - 1):
        dist = np.minimum(dist, ((p - p[chosen[-1]]) ** 2).sum(1))
        chosen.append(int(dist.argmax()))
    return p[chosen]


def saliency_sampling(
    saliency: np.ndarray, edges: np.ndarray, n: int, rng: np.random.Generator, tau: float = 0.3
) -> np.ndarray:
    """CLIPasso's seed sampling: softmax(saliency / tau) over edge pixels, n draws without replacement.

    Args:
        saliency: ``(H, W)`` float, min-max normalised to [0, 1] inside.
        edges: ``(H, W)`` bool mask of allowed pixels (all pixels if it has fewer than n).
        n: number of seeds; tau: softmax temperature (0.3).
        rng: numpy generator.

    Returns:
        ``(n', 2)`` pixel-centre coordinates (x, y), ``n' = min(n, allowed pixels)``.
    """
    s = saliency.astype(np.float64)
    s = (s - s.min()) / max(s.max() - s.min(), 1e-12)
    allowed = edges if edges.sum() >= n else np.ones_like(edges, dtype=bool)
    ys, xs = np.nonzero(allowed)
    logits = s[ys, xs] / tau
    prob = np.exp(logits - logits.max())
    prob /= prob.sum()
    k = min(n, len(ys))
    idx = rng.choice(len(ys), size=k, replace=False, p=prob)
    return np.stack([xs[idx] + 0.5, ys[idx] + 0.5], 1)


def seed_points(mask: np.ndarray, edges: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """MROSS seeds for one round: FPS over the edge pixels inside ``mask``, topped up with random pixels of
    the mask when there are fewer edge pixels than strokes.

    Args:
        mask: ``(H, W)`` bool region (all True for the whole image).
        edges: ``(H, W)`` bool Canny edges of the target.
        n: strokes to seed.
        rng: numpy generator.

    Returns:
        ``(n, 2)`` pixel coordinates (x, y) of pixel centres.
    """
    ys, xs = np.nonzero(edges & mask)
    pts = farthest_point_sampling(np.stack([xs, ys], 1) + 0.5, n, rng) if len(ys) else np.zeros((0, 2))
    if len(pts) < n:
        my, mx = np.nonzero(mask) if mask.any() else np.nonzero(np.ones_like(mask))
        extra = rng.choice(len(my), size=n - len(pts), replace=len(my) < n - len(pts))
        pts = np.concatenate([pts, np.stack([mx[extra], my[extra]], 1) + 0.5], 0)
    return pts


def random_walk_strokes(
    seeds: np.ndarray, canvas_size: int, generator: torch.Generator, radius: float = 0.05
) -> torch.Tensor:
    """CLIPasso's control points: P0 = seed, P_{k+1} = P_k + U(-radius/2, radius/2) * canvas per axis.

    Args:
        seeds: ``(N, 2)`` pixel coordinates (x, y).
        canvas_size: canvas side in pixels (the walk scales with it; 224 in CLIPasso).
        generator: torch generator (reproducible).
        radius: walk step as a fraction of the canvas (0.05: steps of at most +-2.5 %).

    Returns:
        ``(N, 4, 2)`` float32 control points in pixels.
    """
    p0 = torch.as_tensor(seeds, dtype=torch.float32).view(-1, 1, 2)
    steps = (torch.rand(p0.shape[0], 3, 2, generator=generator) - 0.5) * radius * canvas_size
    return torch.cat([p0, p0 + steps.cumsum(1)], 1)
