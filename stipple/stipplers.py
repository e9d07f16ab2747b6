"""Classical stipplers in torch: weighted Voronoi stippling (Secord 2002) and weighted Linde-Buzo-Gray
stippling (Deussen, Spicker & Zheng 2017). CPU or GPU (device follows the input).

Shape letters: B images, N stipples, H, W raster size.

Both work on a density rho = (1 - gray)^gamma (dark = dense) at a working raster chosen so that every
stipple owns about ``pixels_per_point`` pixels, with the raster Voronoi diagram of :mod:`stipple.voronoi`.
They return a :class:`Stipples` with normalised float positions (x = column / W, y = row / H, in [0, 1]),
radii as fractions of min(H, W), and colours: the exact point list, never recovered from pixels.

Radii ("tone-matched"): a stipple's disc area equals its cell's mass, pi r_i^2 = m_i (working pixels), so
the ink of the drawing reproduces the tone of the input (Gaussian-blurred render ~ gray image). For LBG
this is also the paper's stopping rule (cells end with m ~ A = pi (d/2)^2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from stipple.voronoi import cell_stats, cell_stats_refined, nearest_site_jfa

__all__ = [
    "Stipples",
    "density_from_image",
    "weighted_voronoi_stippling",
    "lbg_stippling",
    "lloyd_relax",
    "stipple_image",
]


@dataclass
class Stipples:
    """A stipple drawing of one image.

    positions: (N, 2) float32, normalised (x, y) in [0, 1].
    radii: (N,) float32, fractions of min(H, W) of the image.
    colors: (N, 3) float32 in [0, 1], the rho-weighted mean input colour of each stipple's cell.
    history: per-iteration log (energy for WVS, count/splits/deletes for LBG).
    """

    positions: torch.Tensor
    radii: torch.Tensor
    colors: torch.Tensor
    history: list = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.positions.shape[0])


def density_from_image(image: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """Stipple density of an image: rho = (1 - luma)^gamma (Secord 2002, sec. 3).

    Args:
        image: (B, 3, H, W) or (B, 1, H, W) float in [0, 1] (sRGB; luma = 0.299 R + 0.587 G + 0.114 B).
        gamma: > 0; larger values push stipples further into dark regions.

    Returns:
        (B, H, W) float in [0, 1].

    Raises:
        ValueError: wrong rank or channel count.
    """
    if image.dim() != 4 or image.shape[1] not in (1, 3):
        raise ValueError(f"image must be (B, 3, H, W) or (B, 1, H, W), got {tuple(image.shape)}")
    gray = (
        image[:, 0]
        if image.shape[1] == 1
        else 0.299 * image[:, 0] + 0.587 * image[:, 1] + 0.114 * image[:, 2]
    )
    return (1.0 - gray.clamp(0, 1)).pow(gamma)


def working_size(height: int, width: int, n_points: int, pixels_per_point: float) -> tuple[int, int]:
    """Raster size (h, w) with the image's aspect ratio and about ``n_points * pixels_per_point`` pixels."""
    scale = math.sqrt(n_points * pixels_per_point / (height * width))
    return max(8, round(height * scale)), max(8, round(width * scale))


def _resample(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(image.shape[-2:]) == size:
        return image
    mode = "area" if size[0] < image.shape[-2] else "bilinear"
    kw = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(image, size=size, mode=mode, **kw).clamp(0, 1)


def _sample_density(density: torch.Tensor, n: int, generator: torch.Generator | None) -> torch.Tensor:
    """n points (B, n, 2) in pixel units drawn from rho (rejection sampling's distribution), jittered."""
    b, h, w = density.shape
    probs = density.reshape(b, -1) + 1e-6
    idx = torch.multinomial(probs.cpu(), n, replacement=True, generator=generator).to(density.device)
    jitter = torch.rand(b, n, 2, generator=generator).to(density.device, density.dtype)
    return torch.stack([(idx % w).to(density.dtype), (idx // w).to(density.dtype)], -1) + jitter


def _cell_colors(image: torch.Tensor, density: torch.Tensor, labels: torch.Tensor, n: int) -> torch.Tensor:
    """(B, n, 3) rho-weighted mean colour per cell (plain mean where the cell has no mass)."""
    b, c, h, w = image.shape
    rgb = image.expand(b, 3, h, w).reshape(b, 3, -1).transpose(1, 2)  # (B, HW, 3)
    wgt = density.reshape(b, -1, 1) + 1e-4
    lab = labels.reshape(b, -1, 1)
    num = torch.zeros(b, n, 3, device=image.device, dtype=image.dtype).scatter_add_(
        1, lab.expand(-1, -1, 3), rgb * wgt
    )
    den = torch.zeros(b, n, 1, device=image.device, dtype=image.dtype).scatter_add_(1, lab, wgt)
    return (num / den.clamp(min=1e-8)).clamp(0, 1)


def weighted_voronoi_stippling(
    image: torch.Tensor,
    n_points: int,
    n_iter: int = 50,
    gamma: float = 1.0,
    pixels_per_point: float = 64.0,
    subpixel: int = 2,
    normalize: bool = True,
    warm_start: bool = True,
    generator: torch.Generator | None = None,
    progress=None,
) -> list[Stipples]:
    """Weighted Voronoi stippling (Secord, NPAR 2002): Lloyd iterations to rho-weighted centroids.

    Sites start as ``n_points`` samples of rho (Secord's rejection sampling); each iteration labels the
    working raster by nearest site (jump flooding, warm-started from the previous labels after the first 5
    iterations) and moves every site to its cell's centroid
    c_i = sum_{p in V_i} rho(p) p / sum_{p in V_i} rho(p), with the cell borders resolved to
    ``subpixel`` x ``subpixel`` sub-pixels (:func:`stipple.voronoi.cell_stats_refined`); this lowers the
    energy E = sum_p rho(p) |p - s(p)|^2 (logged in ``history``). A site whose cell is empty (it shared a
    seed pixel with another) is re-drawn from rho. Batched: all images share the working raster size.

    With ``normalize`` the positions follow the min-max stretched density (rho - min) / (max - min) of each
    image (the darkest pixel gets density 1, the lightest 0); the radii always follow the true density.
    The measurements behind these defaults are in ``stipple/__init__.py`` (classical stipplers).

    Args:
        image: (B, 3, H, W) or (B, 1, H, W) float in [0, 1].
        n_points: stipples per image (>= 1).
        n_iter: Lloyd iterations (>= 0).
        gamma: density exponent, rho = (1 - gray)^gamma.
        pixels_per_point: working raster pixels per stipple (accuracy/speed trade-off).
        subpixel: sub-pixels per side on cell borders (1 = whole pixels, today's labels).
        normalize: stretch the density to [0, 1] for the positions.
        warm_start: jump flooding from the previous labels (a few passes) once the sites move little.
        generator: CPU torch.Generator for the initial sampling (reproducible runs).
        progress: optional callable(iteration) for progress bars.

    Returns:
        one :class:`Stipples` per image, exactly ``n_points`` each; ``history`` holds the energy
        (working-pixel^2 units) before the first and after every iteration.

    Raises:
        ValueError: bad image shape or n_points < 1.
    """
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1, got {n_points}")
    b, _, h0, w0 = image.shape
    h, w = working_size(h0, w0, n_points, pixels_per_point)
    img = _resample(image.float(), (h, w))
    rho_true = density_from_image(img, gamma)  # (B, h, w)
    rho = _stretch(rho_true) if normalize else rho_true
    sites = _sample_density(rho, n_points, generator)
    energies = []
    labels, move = None, None
    for it in range(n_iter + 1):
        if warm_start and labels is not None and move is not None and it >= 5:
            labels = nearest_site_jfa(sites, h, w, init=labels, max_step=int(math.ceil(move)) + 1)
        else:
            labels = nearest_site_jfa(sites, h, w)
        stats = cell_stats_refined(rho, labels, sites, sub=subpixel)
        energies.append(stats.energy)
        if it == n_iter:
            break
        new = stats.centroid
        empty = stats.area == 0
        if bool(empty.any()):
            fresh = _sample_density(rho, n_points, generator)
            new = torch.where(empty[..., None], fresh, new)
            move = None  # a re-drawn site can land anywhere: full jump flooding next time
        else:
            move = float((new - sites).norm(dim=-1).max())
        sites = new
        if progress is not None:
            progress(it)
    if normalize:
        stats = cell_stats_refined(rho_true, labels, sites, sub=subpixel)
    colors = _cell_colors(img, rho_true, labels, n_points)
    scale = torch.tensor([w, h], device=sites.device, dtype=sites.dtype)
    radii = (stats.mass / math.pi).sqrt() / min(h, w)
    hist = torch.stack(energies, 1).cpu()  # (B, n_iter + 1)
    return [
        Stipples(
            (sites[i] / scale).clamp(0, 1).float().cpu(),
            radii[i].float().cpu(),
            colors[i].float().cpu(),
            hist[i].tolist(),
        )
        for i in range(b)
    ]


def _stretch(rho: torch.Tensor) -> torch.Tensor:
    """(B, h, w) density min-max stretched to [0, 1] per image (a flat image is left as it is)."""
    lo = rho.amin((1, 2), keepdim=True)
    span = rho.amax((1, 2), keepdim=True) - lo
    return torch.where(span > 1e-6, (rho - lo) / span.clamp(min=1e-6), rho)


def lbg_stippling(
    image: torch.Tensor,
    n_points: int,
    max_iter: int = 50,
    gamma: float = 1.0,
    pixels_per_point: float = 64.0,
    hysteresis: float = 0.6,
    hysteresis_step: float = 0.01,
    exact_count: bool = True,
    generator: torch.Generator | None = None,
    progress=None,
) -> Stipples:
    """Weighted Linde-Buzo-Gray stippling (Deussen, Spicker & Zheng, TOG 36(6) 2017), one image.

    Start from one site; each iteration computes the raster Voronoi diagram and every cell's mass m_i,
    area, centroid and principal axis; with the stipple disc area A = pi (d/2)^2 and the hysteresis
    h_t = hysteresis + hysteresis_step * t a cell is deleted if m_i < (1 - h_t / 2) A, split in two along its
    principal axis at +-0.5 sqrt(area_i / pi) if m_i > (1 + h_t / 2) A, and otherwise moved to its
    centroid. It stops when an iteration neither splits nor deletes, or after ``max_iter``.
    The count is emergent (about sum rho / A): the stipple size is chosen as d = 2 sqrt(sum rho / (pi N)) so
    that it lands near ``n_points``; with ``exact_count`` the heaviest cells are then split (or the
    lightest deleted) until there are exactly ``n_points``, followed by 3 Lloyd steps.

    Args:
        image: (1, 3, H, W) or (1, 1, H, W) float in [0, 1].
        n_points: wanted number of stipples.
        max_iter, hysteresis, hysteresis_step: the paper's loop and hysteresis schedule.
        gamma, pixels_per_point, generator, progress: as in :func:`weighted_voronoi_stippling`.

    Returns:
        :class:`Stipples`; ``history`` holds (count, splits, deletes) per iteration.

    Raises:
        ValueError: batch size other than 1, or n_points < 1.
    """
    if image.shape[0] != 1:
        raise ValueError(f"lbg_stippling takes one image (1, C, H, W), got {tuple(image.shape)}")
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1, got {n_points}")
    _, _, h0, w0 = image.shape
    h, w = working_size(h0, w0, n_points, pixels_per_point)
    img = _resample(image.float(), (h, w))
    rho = density_from_image(img, gamma)  # (1, h, w)
    total = float(rho.sum())
    disc_area = max(total, 1e-6) / n_points  # A: mass each stipple should carry
    dev = rho.device
    sites = torch.tensor([[[w / 2.0, h / 2.0]]], device=dev)
    history = []
    for it in range(max_iter):
        labels = nearest_site_jfa(sites, h, w)
        st = cell_stats(rho, labels, sites)
        hyst = hysteresis + hysteresis_step * it
        m = st.mass[0]
        delete = (m < (1 - hyst / 2) * disc_area) | (st.area[0] == 0)
        split = (m > (1 + hyst / 2) * disc_area) & ~delete
        keep = ~delete & ~split
        children = _split(st.centroid[0][split], st.cov[0][split], st.area[0][split], generator)
        sites = torch.cat([st.centroid[0][keep], children], 0)[None]
        history.append((int(sites.shape[1]), int(split.sum()), int(delete.sum())))
        if progress is not None:
            progress(it)
        if sites.shape[1] == 0:  # blank image: nothing carries enough mass
            sites = _sample_density(rho, 1, generator)
        if not bool(split.any()) and not bool(delete.any()):
            break
    if exact_count:
        sites = _fix_count(rho, sites, n_points, generator)
    labels = nearest_site_jfa(sites, h, w)
    st = cell_stats(rho, labels, sites)
    colors = _cell_colors(img, rho, labels, sites.shape[1])
    scale = torch.tensor([w, h], device=dev, dtype=sites.dtype)
    radii = (st.mass[0] / math.pi).sqrt() / min(h, w)
    return Stipples(
        (sites[0] / scale).clamp(0, 1).float().cpu(), radii.float().cpu(), colors[0].float().cpu(), history
    )


def _split(centroid: torch.Tensor, cov: torch.Tensor, area: torch.Tensor, generator) -> torch.Tensor:
    """Two children per cell along the principal axis of its covariance (xx, xy, yy), (2M, 2)."""
    if centroid.shape[0] == 0:
        return centroid
    theta = 0.5 * torch.atan2(2 * cov[:, 1], cov[:, 0] - cov[:, 2])
    axis = torch.stack([theta.cos(), theta.sin()], -1)  # (M, 2)
    offset = (0.5 * (area / math.pi).sqrt())[:, None] * axis
    jitter = 1e-3 * (torch.rand(centroid.shape[0], 2, generator=generator).to(centroid) - 0.5)
    return torch.cat([centroid + offset + jitter, centroid - offset - jitter], 0)


def _fix_count(rho: torch.Tensor, sites: torch.Tensor, n: int, generator, lloyd: int = 3) -> torch.Tensor:
    """Split the heaviest / delete the lightest cells until there are exactly n sites, then Lloyd steps."""
    _, h, w = rho.shape
    for _ in range(64):
        cur = sites.shape[1]
        if cur == n:
            break
        st = cell_stats(rho, nearest_site_jfa(sites, h, w), sites)
        order = torch.argsort(st.mass[0], descending=cur < n)
        k = min(abs(n - cur), cur)
        chosen, rest = order[:k], order[k:]
        if cur > n:
            sites = st.centroid[0][rest][None]
        else:
            kids = _split(st.centroid[0][chosen], st.cov[0][chosen], st.area[0][chosen], generator)
            sites = torch.cat([st.centroid[0][rest], kids], 0)[None]
    for _ in range(lloyd):
        sites = cell_stats(rho, nearest_site_jfa(sites, h, w), sites).centroid
    return sites


def stipple_image(image: torch.Tensor, n_points: int, method: str = "wvs", **kwargs) -> Stipples:
    """Stipple one image with ``method`` "wvs" or "lbg" (keyword arguments go to the stippler).

    Args:
        image: (1, 3, H, W) or (1, 1, H, W) float in [0, 1].

    Raises:
        ValueError: unknown method.
    """
    if method == "wvs":
        return weighted_voronoi_stippling(image, n_points, **kwargs)[0]
    if method == "lbg":
        return lbg_stippling(image, n_points, **kwargs)
    raise ValueError(f"unknown stippling method {method!r} (expected 'wvs' or 'lbg')")


def lloyd_relax(
    image: torch.Tensor,
    stipples: Stipples,
    steps: int = 1,
    pixels_per_point: float = 16.0,
    normalize: bool = True,
    gamma: float = 1.0,
) -> Stipples:
    """A few weighted Lloyd steps (Secord 2002) on given stipples: each moves to its cell's centroid.

    The cheap relaxation option of the network (``predict_stipples(..., relax=steps)``): a coarse working
    raster (``pixels_per_point``) and full jump flooding, cell borders at 2 x 2 sub-pixels. Radii and
    colours are kept.

    Args:
        image: (1, 3, H, W) or (1, 1, H, W) float in [0, 1], the stippled image.
        stipples: its :class:`Stipples` (N >= 1).
        steps: Lloyd steps (>= 0).
        pixels_per_point, normalize, gamma: as in :func:`weighted_voronoi_stippling`.

    Returns:
        a new :class:`Stipples` with the moved positions.
    """
    n = len(stipples)
    if steps <= 0 or n == 0:
        return stipples
    _, _, h0, w0 = image.shape
    h, w = working_size(h0, w0, n, pixels_per_point)
    rho = density_from_image(_resample(image.float(), (h, w)), gamma)
    if normalize:
        rho = _stretch(rho)
    scale = torch.tensor([w, h], dtype=torch.float32, device=rho.device)
    sites = stipples.positions.to(rho.device)[None] * scale
    for _ in range(steps):
        sites = cell_stats_refined(rho, nearest_site_jfa(sites, h, w), sites, sub=2).centroid
    return Stipples((sites[0] / scale).clamp(0, 1).cpu(), stipples.radii, stipples.colors)
