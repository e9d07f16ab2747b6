"""Stippling with the trained network: load a checkpoint, predict stipples for an image of any size.

Shape letters: B batch, G grid side of the network, t tiles per side, K slots.

:func:`predict_stipples` resizes the image to t*S x t*S (S the network's input side) with
t = ceil(sqrt(n_points / N_train)), runs the t x t tiles as one batch, weighs each tile's density by its
share of the image's darkness (tiles are normalised crops), allocates exactly ``n_points`` stipples over the
t^2 G^2 cells by error diffusion (at most K per cell, :func:`stipple.model.diffuse_counts`) and reads their
slot positions and colours. Radii are tone-matched like the classical stipplers': the stipples around a
cell share the ink of the cells around it, pi r^2 = box3(m) / box3(n), with m the density mass and n the
stipple count per cell and box3 a 3 x 3 mean.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from common.checkpoint import load_checkpoint, load_model_state
from stipple.model import StippleNet, StippleNetConfig, diffuse_counts, grid_for_points, slot_mask
from stipple.stipplers import Stipples, density_from_image


def load_stipple_net(path: str | Path, device: torch.device | str = "cpu") -> tuple[StippleNet, dict]:
    """Rebuild the network from a checkpoint's stored config and load its weights (strict).

    Returns:
        (model in eval mode on ``device``, the checkpoint dict).

    Raises:
        CheckpointError: missing/corrupt file or mismatching weights.
    """
    ckpt = load_checkpoint(path, map_location="cpu")
    cfg = StippleNetConfig(**ckpt["config"]["model"])
    model = StippleNet(cfg, random_weights=True)  # pretrained encoders come back from the checkpoint
    load_model_state(model, ckpt["model"])
    return model.to(device).eval(), ckpt


@torch.no_grad()
def predict_stipples(model: StippleNet, image: torch.Tensor, n_points: int) -> Stipples:
    """Stipple one image with the network.

    Args:
        model: a :class:`StippleNet` (eval mode).
        image: (1, 3, H, W) float in [0, 1], any size.
        n_points: stipples wanted; a perfect square (the release's grid rule).

    Returns:
        :class:`Stipples` with exactly ``n_points`` stipples (positions normalised to the image).

    Raises:
        UserError: ``n_points`` not a square grid size.
    """
    grid_for_points(n_points)
    cfg = model.config
    g, k, s = cfg.grid, cfg.slots, cfg.image_size
    t = max(1, math.ceil(math.sqrt(n_points / cfg.points)))
    while t * t * g * g * k < n_points:
        t += 1
    dev = next(model.parameters()).device
    _, _, h, w = image.shape
    big = F.interpolate(image.to(dev).float(), size=(t * s, t * s), mode="area" if h >= t * s else "bilinear")
    tiles = big.view(1, 3, t, s, t, s).permute(0, 2, 4, 1, 3, 5).reshape(t * t, 3, s, s)  # row-major tiles
    out = model(tiles)
    rho = density_from_image(tiles)  # (t*t, s, s)
    cell_mass = F.adaptive_avg_pool2d(rho[:, None], g)[:, 0]  # (t*t, G, G) mean density per cell
    dens = out["density"].clamp(min=0)
    share = cell_mass.sum((1, 2), keepdim=True)  # darkness of each tile
    weights = dens / dens.sum((1, 2), keepdim=True).clamp(min=1e-12) * share  # (t*t, G, G)
    big = weights.view(t, t, g, g).permute(0, 2, 1, 3).reshape(t * g, t * g)  # tiles -> one cell grid
    counts_big = diffuse_counts(big, n_points, k)  # (tG, tG)
    counts = counts_big.view(t, g, t, g).permute(0, 2, 1, 3).reshape(t * t, g * g)
    used = slot_mask(counts, k)  # (t*t, G*G, K)
    ty = torch.arange(t, device=dev).repeat_interleave(t).view(-1, 1, 1)
    tx = torch.arange(t, device=dev).repeat(t).view(-1, 1, 1)
    pos = out["positions"]
    gx = (tx + pos[..., 0]) / t
    gy = (ty + pos[..., 1]) / t
    positions = torch.stack([gx, gy], -1)[used]  # (n_points, 2) in tile, cell, slot order
    colors = out["colors"][used]
    # tone-matched radii: the stipples near a cell share the ink of the cells around it,
    # pi r^2 = box3(m) / box3(n) on the global cell grid, m in units of min(H, W)^2
    cell_area = (w * h) / (t * g) ** 2 / min(h, w) ** 2
    mass_big = cell_mass.view(t, t, g, g).permute(0, 2, 1, 3).reshape(1, 1, t * g, t * g) * cell_area
    m3 = F.avg_pool2d(mass_big, 3, 1, 1, count_include_pad=False)
    n3 = F.avg_pool2d(counts_big.view(1, 1, t * g, t * g).to(m3.dtype), 3, 1, 1, count_include_pad=False)
    area = (m3 / n3.clamp(min=1e-6))[0, 0]  # (tG, tG)
    area = area.view(t, g, t, g).permute(0, 2, 1, 3).reshape(t * t, g * g)
    radii = (area / math.pi).sqrt()[:, :, None].expand(-1, -1, k)[used]
    return Stipples(positions.float().cpu().clamp(0, 1), radii.float().cpu(), colors.float().cpu())
