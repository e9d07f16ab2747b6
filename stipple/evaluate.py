"""Rendering and measuring stipple drawings: anti-aliased PNG render, tone fidelity, Chamfer to a reference,
CSV / SVG / JSON export.

Tone fidelity (structure-aware halftoning practice, reference notes A.7): the stipples are rendered black on
white at the input's size, Gaussian-blurred with sigma = the mean dot spacing sqrt(H W / N) pixels, and
compared with the grayscale input by PSNR (data range 1) and SSIM.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import torch

from common.image_io import atomic_write
from common.losses.chamfer import chamfer_distance
from common.metrics import psnr, ssim
from common.renderers.dots import render_dots
from common.svg import dots_to_svg
from stipple.stipplers import Stipples

__all__ = [
    "render_stipples",
    "tone_metrics",
    "peer_tone_psnr",
    "nn_regularity",
    "chamfer_to",
    "with_uniform_radii",
    "write_points_csv",
    "write_outputs",
]


def render_stipples(st: Stipples, height: int, width: int, color: bool = False) -> torch.Tensor:
    """(1, 3, height, width) render in [0, 1]: black (or coloured) anti-aliased dots on white."""
    n = len(st)
    colors = st.colors[None] if color else torch.zeros(1, n, 3)
    return render_dots(st.positions[None], st.radii[None], colors, torch.ones(1, 3, height, width))


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W) by ``sigma`` px (kernel radius ceil(3 sigma), reflect pad)."""
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = torch.nn.functional.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = torch.nn.functional.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return torch.nn.functional.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def tone_metrics(st: Stipples, image: torch.Tensor) -> dict[str, float]:
    """Tone PSNR / SSIM of the blurred black-dot render against the grayscale input.

    Args:
        st: the stipples of ``image``.
        image: (1, 3, H, W) or (1, 1, H, W) float in [0, 1].

    Returns:
        ``{"tone_psnr": dB, "tone_ssim": [-1, 1], "blur_sigma_px": sigma}``.
    """
    _, c, h, w = image.shape
    gray = image if c == 1 else 0.299 * image[:, 0:1] + 0.587 * image[:, 1:2] + 0.114 * image[:, 2:3]
    sigma = math.sqrt(h * w / max(len(st), 1))
    render = render_stipples(st, h, w)[:, :1]
    blurred = gaussian_blur(render, sigma)
    g3, b3 = gray.expand(1, 3, h, w).float(), blurred.expand(1, 3, h, w)
    return {"tone_psnr": float(psnr(b3, g3)), "tone_ssim": float(ssim(b3, g3)), "blur_sigma_px": sigma}


def peer_tone_psnr(st: Stipples, image: torch.Tensor, sigma: float = 3.0) -> float:
    """Tone PSNR (dB) as measured for the published weighted Voronoi stippler in issue 13.

    The stipples' POSITIONS are drawn as black discs of one radius r = 0.5 sqrt(H W / (pi N)) px on white,
    render and grayscale input are blurred with a Gaussian of ``sigma`` px, the blurred render is normalised
    to the blurred input's mean and standard deviation, and PSNR (data range 1) compares the two.

    Args:
        st: stipples of ``image`` (their radii are ignored).
        image: (1, 3, H, W) or (1, 1, H, W) float in [0, 1].
    """
    _, c, h, w = image.shape
    n = max(len(st), 1)
    gray = image if c == 1 else 0.299 * image[:, 0:1] + 0.587 * image[:, 1:2] + 0.114 * image[:, 2:3]
    r = 0.5 * math.sqrt(h * w / (math.pi * n)) / min(h, w)
    disc = Stipples(st.positions, torch.full((len(st),), r), st.colors)
    render = gaussian_blur(render_stipples(disc, h, w)[:, :1], sigma)
    target = gaussian_blur(gray.float(), sigma)
    render = (render - render.mean()) / render.std().clamp(min=1e-8) * target.std() + target.mean()
    return float(10 * torch.log10(1.0 / (render - target).square().mean().clamp(min=1e-12)))


def nn_regularity(positions: torch.Tensor, height: int, width: int) -> float:
    """Mean over standard deviation of every stipple's nearest-neighbour distance (pixels of an H x W canvas);
    higher is more regular (uniform random points: about 1.9).

    Args:
        positions: (N, 2) normalised (x, y), N >= 2.
    """
    from scipy.spatial import cKDTree

    pts = (positions.double() * torch.tensor([width, height], dtype=torch.float64)).numpy()
    d = cKDTree(pts).query(pts, k=2)[0][:, 1]
    return float(d.mean() / d.std())


def chamfer_to(st: Stipples, reference: Stipples) -> float:
    """Two-way squared Chamfer distance in normalised units (x = column / W, y = row / H)."""
    return float(chamfer_distance(st.positions[None], reference.positions[None]))


def write_points_csv(st: Stipples, path: str | Path, height: int, width: int) -> Path:
    """CSV, one row per stipple: x, y (normalised), x_px, y_px, radius (fraction of min side), radius_px,
    r, g, b."""
    side = min(height, width)
    with atomic_write(path, "w") as fh:
        wr = csv.writer(fh)
        wr.writerow(["x", "y", "x_px", "y_px", "radius", "radius_px", "r", "g", "b"])
        for (x, y), r, col in zip(st.positions.tolist(), st.radii.tolist(), st.colors.tolist(), strict=True):
            wr.writerow(
                [
                    f"{x:.6f}",
                    f"{y:.6f}",
                    f"{x * width:.3f}",
                    f"{y * height:.3f}",
                    f"{r:.6f}",
                    f"{r * side:.3f}",
                    *(f"{v:.4f}" for v in col),
                ]
            )
    return Path(path)


def write_outputs(st: Stipples, out, height: int, width: int, size_mm: float, color: bool = False) -> None:
    """Write ``points.csv``, ``stipple.svg`` (one <circle> per stipple, ``size_mm`` wide, no background
    rectangle: for pen plotters) and ``strokes.json`` (format ``dots``) into ``out``, a
    ``common.outputs.ImageOutput``."""
    params = torch.cat([st.positions, st.radii[:, None], st.colors if color else torch.zeros(len(st), 3)], 1)
    write_points_csv(st, out.path("points.csv"), height, width)
    plotter_svg = dots_to_svg(params, height, width, size_mm=size_mm)
    out.strokes(
        "dots", params, height, width, background=[1.0, 1.0, 1.0], svg="stipple.svg", svg_text=plotter_svg
    )


def with_uniform_radii(st: Stipples, image: torch.Tensor) -> Stipples:
    """The same stipples, all with one radius r such that N pi r^2 equals the image's total density mass
    (so tone fidelity then measures where the points are, not how big each one is).

    Args:
        image: (1, 3, H, W) or (1, 1, H, W) float in [0, 1], the stippled image.
    """
    from stipple.stipplers import density_from_image

    _, _, h, w = image.shape
    mass = float(density_from_image(image).sum()) / min(h, w) ** 2  # in units of min(H, W)^2
    r = math.sqrt(mass / (math.pi * max(len(st), 1)))
    return Stipples(st.positions, torch.full_like(st.radii, r), st.colors)
