"""Raster Voronoi diagrams of point sites on a pixel grid, and per-cell density statistics, in torch.

Shape letters: B images, N sites, H, W raster size. Sites are in PIXEL units here (x = column, y = row,
continuous, pixel (i, j) has its centre at (j + 0.5, i + 0.5)); the stipplers convert to normalised
positions at their boundary.

Two ways to label every pixel with its nearest site:

- :func:`nearest_site_jfa`: the jump flooding algorithm (Rong & Tan, I3D 2006) with one extra step-1 pass
  ("JFA+1"): log2(max(H, W)) + 1 passes of 9 look-ups per pixel, O(H W log) whatever N is, on CPU or GPU.
  Approximate: a small fraction of pixels can get a site that is not the nearest one (measured < 1% in
  the tests against brute force), and a site that shares its seed pixel with another gets no cell.
- :func:`nearest_site_brute`: exact, chunked ``argmin`` over all sites (O(H W N)); for checks and small N.

:func:`cell_stats` gathers, per cell, the density mass m = sum rho, the pixel count (area), the
rho-weighted centroid and the rho-weighted second moments with ``scatter_add`` (Secord 2002, sec. 3;
Deussen et al. 2017, sec. 4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

_OFFSETS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 0), (0, 1), (1, -1), (1, 0), (1, 1)]


def pixel_centers(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(H, W, 2) pixel-centre coordinates (x, y) in pixel units: (j + 0.5, i + 0.5)."""
    ys = torch.arange(height, device=device, dtype=dtype) + 0.5
    xs = torch.arange(width, device=device, dtype=dtype) + 0.5
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], -1)


def nearest_site_brute(sites: torch.Tensor, height: int, width: int, chunk: int = 1 << 22) -> torch.Tensor:
    """Exact nearest-site label of every pixel.

    Args:
        sites: (B, N, 2) float, pixel units (x, y).
        height, width: raster size.
        chunk: at most this many pixel-site distances per step (memory bound).

    Returns:
        (B, H, W) int64 labels in [0, N).
    """
    b, n, _ = sites.shape
    pix = pixel_centers(height, width, sites.device, sites.dtype).view(1, -1, 2)  # (1, HW, 2)
    labels = torch.empty(b, height * width, dtype=torch.long, device=sites.device)
    step = max(1, chunk // max(1, n))
    for s in range(0, height * width, step):
        d = torch.cdist(pix[:, s : s + step].expand(b, -1, -1), sites)  # (B, chunk, N)
        labels[:, s : s + step] = d.argmin(-1)
    return labels.view(b, height, width)


def nearest_site_jfa(sites: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Nearest-site labels by jump flooding (JFA+1), vectorised over the batch.

    Args:
        sites: (B, N, 2) float, pixel units (x, y); sites outside the raster are clamped to its border
            for seeding but keep their true position for distances.
        height, width: raster size.

    Returns:
        (B, H, W) int64 labels in [0, N) (every pixel labelled when N >= 1).
    """
    b, n, _ = sites.shape
    dev = sites.device
    sentinel = n  # label of "no site yet"; its coordinates are far away
    far = torch.full((b, 1, 2), 1e9, device=dev, dtype=sites.dtype)
    coords = torch.cat([sites, far], 1)  # (B, N + 1, 2)
    labels = torch.full((b, height, width), sentinel, dtype=torch.long, device=dev)
    col = sites[..., 0].floor().long().clamp(0, width - 1)
    row = sites[..., 1].floor().long().clamp(0, height - 1)
    bidx = torch.arange(b, device=dev)[:, None].expand(b, n)
    labels[bidx, row, col] = torch.arange(n, device=dev)[None].expand(b, n)
    pix = pixel_centers(height, width, dev, sites.dtype)  # (H, W, 2)
    px, py = pix[..., 0], pix[..., 1]
    cx, cy = coords[..., 0].reshape(-1), coords[..., 1].reshape(-1)  # flat over (B, N + 1)
    flat_b = torch.arange(b, device=dev).view(b, 1, 1) * (n + 1)
    steps = [2**k for k in range(int(math.ceil(math.log2(max(height, width, 2)))) - 1, -1, -1)] + [1]
    for k in steps:
        padded = F.pad(labels, (k, k, k, k), value=sentinel)  # (B, H + 2k, W + 2k)
        best_lab = labels
        idx = (labels + flat_b).view(-1)
        best_d2 = (cx[idx].view(b, height, width) - px).square() + (
            cy[idx].view(b, height, width) - py
        ).square()
        for dy, dx in _OFFSETS:
            if dy == 0 and dx == 0:
                continue
            cand = padded[:, k + dy * k : k + dy * k + height, k + dx * k : k + dx * k + width]  # (B, H, W)
            idx = (cand + flat_b).reshape(-1)
            d2 = (cx[idx].view(b, height, width) - px).square() + (
                cy[idx].view(b, height, width) - py
            ).square()
            better = d2 < best_d2
            best_d2 = torch.where(better, d2, best_d2)
            best_lab = torch.where(better, cand, best_lab)
        labels = best_lab
    return labels


@dataclass
class CellStats:
    """Per-cell statistics of a density over a raster Voronoi diagram (all (B, N) unless noted).

    mass: sum of rho over the cell (pixel units: a fully dark pixel counts 1).
    area: number of pixels in the cell.
    centroid: (B, N, 2) rho-weighted centroid, pixel units; equals the site where mass == 0.
    cov: (B, N, 3) rho-weighted covariance (xx, xy, yy) in pixel^2 (zero where mass == 0).
    energy: (B,) weighted CVT energy sum_p rho(p) |p - s(p)|^2 (Secord's objective; Lloyd lowers it).
    """

    mass: torch.Tensor
    area: torch.Tensor
    centroid: torch.Tensor
    cov: torch.Tensor
    energy: torch.Tensor


def cell_stats(density: torch.Tensor, labels: torch.Tensor, sites: torch.Tensor) -> CellStats:
    """Mass, area, weighted centroid, covariance and energy of every Voronoi cell.

    Args:
        density: (B, H, W) float >= 0 (rho).
        labels: (B, H, W) int64 nearest-site labels in [0, N).
        sites: (B, N, 2) pixel units.

    Returns:
        :class:`CellStats`.
    """
    b, h, w = density.shape
    n = sites.shape[1]
    dt = sites.dtype
    pix = pixel_centers(h, w, density.device, dt).view(1, h * w, 2)
    rho = density.reshape(b, h * w).to(dt)
    lab = labels.reshape(b, h * w)
    x, y = pix[..., 0].expand(b, -1), pix[..., 1].expand(b, -1)
    feats = torch.stack(
        [rho, rho * x, rho * y, rho * x * x, rho * x * y, rho * y * y, torch.ones_like(rho)], -1
    )
    sums = torch.zeros(b, n, 7, device=density.device, dtype=dt)
    sums.scatter_add_(1, lab[..., None].expand(-1, -1, 7), feats)  # (B, N, 7)
    mass, area = sums[..., 0], sums[..., 6]
    safe = mass.clamp(min=1e-12)
    cx, cy = sums[..., 1] / safe, sums[..., 2] / safe
    has = mass > 1e-12
    centroid = torch.where(has[..., None], torch.stack([cx, cy], -1), sites)
    cxx = (sums[..., 3] / safe - cx * cx).clamp(min=0)
    cxy = sums[..., 4] / safe - cx * cy
    cyy = (sums[..., 5] / safe - cy * cy).clamp(min=0)
    cov = torch.where(has[..., None], torch.stack([cxx, cxy, cyy], -1), torch.zeros_like(sums[..., :3]))
    s = sites.gather(1, lab[..., None].expand(-1, -1, 2))  # (B, HW, 2) site of each pixel
    energy = (rho * (pix - s).square().sum(-1)).sum(1)
    return CellStats(mass=mass, area=area, centroid=centroid, cov=cov, energy=energy)
