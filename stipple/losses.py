"""The stippling network's training objective (equations in ``stipple/__init__.py``).

Shape letters: B batch, G grid side, K slots, M reference points.

    L = w_cd * G^2 * L_CD + w_spec * L_spec + w_col * L_col + w_dens * L_dens

The slots a cell uses during training are given by the reference occupancy (teacher forcing: cell c uses
min(n_c, K) slots, n_c its reference count), so Chamfer, spectrum and colour losses see the points the
cell should emit, while the density head learns n_c directly. G^2 expresses the squared Chamfer distance in
cell units, so its size does not depend on the point count.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from common.losses.chamfer import chamfer_distance
from common.losses.spectrum import spectrum_loss
from stipple.data import occupancy_grid
from stipple.model import gather_points, slot_mask


@dataclass
class LossWeights:
    """Weights of the four terms (release: Chamfer 1, spectrum 0.1, colour 1; density is ours)."""

    chamfer: float = 1.0
    spectrum: float = 0.1
    color: float = 1.0
    density: float = 1.0
    kmax: int = 24


def sample_colors(image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear image colour at normalised points: image (B, 3, S, S), points (B, M, 2) -> (B, M, 3)."""
    grid = (points * 2 - 1)[:, :, None, :]  # (B, M, 1, 2), pixel-centre convention (align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", align_corners=False, padding_mode="border")[
        ..., 0
    ].transpose(1, 2)


def stipple_losses(
    out: dict[str, torch.Tensor],
    image: torch.Tensor,
    ref_points: torch.Tensor,
    ref_mask: torch.Tensor,
    weights: LossWeights,
) -> dict[str, torch.Tensor]:
    """All loss terms for one batch.

    Args:
        out: :class:`stipple.model.StippleNet` output (density (B, G, G), positions (B, G*G, K, 2),
            colors (B, G*G, K, 3)).
        image: (B, 3, S, S) input in [0, 1] (colour targets are sampled from it).
        ref_points: (B, M, 2) reference stipples, normalised; ref_mask (B, M) bool.
        weights: :class:`LossWeights`.

    Returns:
        dict with ``chamfer``, ``spectrum``, ``color``, ``density`` and the weighted ``total`` (scalars).
    """
    b, g = out["density"].shape[:2]
    k = out["positions"].shape[2]
    counts = occupancy_grid(ref_points, g, ref_mask)  # (B, G, G)
    used = slot_mask(counts.view(b, -1).clamp(max=k).long(), k)  # (B, G*G, K)
    pts, pmask = gather_points(out["positions"], used)  # (B, P, 2)
    cols, _ = gather_points(out["colors"], used)
    chamfer = chamfer_distance(pts, ref_points, pmask, ref_mask) * g * g
    spec = spectrum_loss(pts, ref_points, pmask.to(pts.dtype), ref_mask.to(pts.dtype), kmax=weights.kmax)
    target_col = sample_colors(image, pts.detach())
    pm = pmask.to(pts.dtype)[..., None]
    color = ((cols - target_col).square() * pm).sum() / (pm.sum() * 3).clamp(min=1)
    density = F.mse_loss(out["density"], counts)
    total = (
        weights.chamfer * chamfer
        + weights.spectrum * spec
        + weights.color * color
        + weights.density * density
    )
    return {"total": total, "chamfer": chamfer, "spectrum": spec, "color": color, "density": density}
