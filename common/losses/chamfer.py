"""Two-way Chamfer distance between point sets (deep stippling's point loss).

Shape letters: B batch, N and M points, D coordinates (2 for stipples: normalised (x, y)).

    L_CD(X, Y) = 1/|X| sum_{x in X} min_{y in Y} |x - y|^2  +  1/|Y| sum_{y in Y} min_{x in X} |x - y|^2

Both directions have equal weight and the distance is squared, as in the deep-stippling release
(reference notes A.3). Point sets of different sizes inside one batch are handled with boolean masks.
The B x N x M distance matrix is built in chunks of rows, so memory stays bounded for large sets.
"""

from __future__ import annotations

import torch

__all__ = ["chamfer_distance", "nearest_distances"]


def nearest_distances(
    x: torch.Tensor, y: torch.Tensor, y_mask: torch.Tensor | None = None, chunk: int = 4096
) -> torch.Tensor:
    """Squared distance from every point of ``x`` to its nearest valid point of ``y``.

    Args:
        x: (B, N, D) float.
        y: (B, M, D) float.
        y_mask: optional (B, M) bool, True for valid points of ``y``.
        chunk: rows of ``x`` per step.

    Returns:
        (B, N) float (``inf`` where ``y`` has no valid point).
    """
    out = []
    for s in range(0, x.shape[1], chunk):
        d = torch.cdist(x[:, s : s + chunk], y).square()  # (B, n, M)
        if y_mask is not None:
            d = d.masked_fill(~y_mask[:, None, :], float("inf"))
        out.append(d.min(-1).values)
    return torch.cat(out, 1)


def chamfer_distance(
    x: torch.Tensor,
    y: torch.Tensor,
    x_mask: torch.Tensor | None = None,
    y_mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Two-way squared Chamfer distance (equation in the module docstring).

    Args:
        x: (B, N, D) float, e.g. predicted stipples in normalised (x, y).
        y: (B, M, D) float, e.g. reference stipples.
        x_mask, y_mask: optional (B, N) / (B, M) bool masks of valid points (each row needs >= 1).
        reduction: "mean" over the batch (scalar) or "none" ((B,) tensor).

    Returns:
        scalar or (B,) float, in squared coordinate units; differentiable in ``x`` and ``y``.

    Raises:
        ValueError: mismatched batch/coordinate sizes, or an unknown reduction.
    """
    if x.dim() != 3 or y.dim() != 3 or x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2]:
        raise ValueError(
            f"chamfer_distance expects (B, N, D) and (B, M, D), got {tuple(x.shape)}, {tuple(y.shape)}"
        )
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    if x_mask is None:
        x_mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    if y_mask is None:
        y_mask = torch.ones(y.shape[:2], dtype=torch.bool, device=y.device)
    d_xy = nearest_distances(x, y, y_mask)  # (B, N)
    d_yx = nearest_distances(y, x, x_mask)  # (B, M)
    xm, ym = x_mask.to(x.dtype), y_mask.to(y.dtype)
    term_x = (d_xy.nan_to_num(posinf=0.0) * xm).sum(1) / xm.sum(1).clamp(min=1)
    term_y = (d_yx.nan_to_num(posinf=0.0) * ym).sum(1) / ym.sum(1).clamp(min=1)
    loss = term_x + term_y
    return loss.mean() if reduction == "mean" else loss
