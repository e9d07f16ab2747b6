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

import functools
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


def hilbert_index(x: torch.Tensor, y: torch.Tensor, order: int) -> torch.Tensor:
    """Position along the Hilbert curve of order ``order`` (side 2^order) of integer cells (x, y).

    Args:
        x, y: int64 tensors of one shape, values in [0, 2^order).

    Returns:
        int64 tensor of that shape, values in [0, 4^order), every cell once (consecutive cells adjacent).
    """
    n = 1 << order
    d = torch.zeros_like(x)
    s = n // 2
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx.long()) ^ ry.long())
        flip = ~ry & rx
        x, y = torch.where(flip, n - 1 - x, x), torch.where(flip, n - 1 - y, y)
        x, y = torch.where(~ry, y, x), torch.where(~ry, x, y)
        s //= 2
    return d


@functools.lru_cache(maxsize=8)
def _hilbert_order(height: int, width: int) -> torch.Tensor:
    """(H W,) int64 flat pixel indices of an H x W raster in Hilbert-curve order (cached per size)."""
    order = max(1, math.ceil(math.log2(max(height, width))))
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.argsort(hilbert_index(xx.reshape(-1), yy.reshape(-1), order))


def _hilbert_sample(density: torch.Tensor, n: int, generator: torch.Generator | None) -> torch.Tensor:
    """n points (B, n, 2) in pixel units drawn from rho by stratified sampling along a Hilbert curve.

    The pixels are ordered along the Hilbert curve that covers the raster, and point k lands in the pixel
    where the running mass crosses (k + u_k) / n of the total (u_k uniform in [0, 1)), jittered inside it.
    The marginal density is rho, as with rejection sampling, but every run of the curve holding mass M
    gets M n / total points within one, instead of a Poisson count: Lloyd iterations fix the local
    arrangement quickly but move mass between distant regions slowly (measured in ``stipple/__init__``).
    """
    b, h, w = density.shape
    perm = _hilbert_order(h, w)
    out = []
    for i in range(b):
        cum = (density[i].reshape(-1).double().cpu()[perm] + 1e-9).cumsum(0)
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        k = torch.searchsorted(cum, (torch.arange(n, dtype=torch.float64) + u) * cum[-1] / n).clamp(
            max=h * w - 1
        )
        pix = perm[k]
        jitter = torch.rand(n, 2, generator=generator, dtype=torch.float64)
        out.append(torch.stack([(pix % w).double(), (pix // w).double()], -1) + jitter)
    return torch.stack(out).to(density.device, density.dtype)


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
    method: str = "exact",
    init: str = "hilbert",
    overrelax: float = 1.0,
    sub_rows: int | None = None,
    pixels_per_point: float = 64.0,
    subpixel: int = 2,
    normalize: bool = True,
    warm_start: bool = True,
    generator: torch.Generator | None = None,
    progress=None,
) -> list[Stipples]:
    """Weighted Voronoi stippling (Secord, NPAR 2002): Lloyd iterations to rho-weighted centroids.

    Sites start as ``n_points`` samples of rho: stratified along a Hilbert curve (``init="hilbert"``,
    :func:`_hilbert_sample`) or independent (``"random"``, Secord's rejection sampling); each iteration
    moves every site s_i towards its cell's centroid c_i = sum_{p in V_i} rho(p) p / sum_{p in V_i} rho(p),
    s_i <- s_i + omega (c_i - s_i) (omega = ``overrelax``; 1 is Secord's plain Lloyd step, the last 10 % of
    the iterations always use 1 so the result sits at its centroids). ``history`` logs the CVT energy
    E = sum_p rho(p) |p - s(p)|^2. A site whose cell is empty (it coincides with another) is re-drawn from
    rho.

    ``method="exact"`` (default; CPU, sites go through Qhull): the exact Voronoi polygons clipped to the
    image, rho the image's own piecewise-constant density at its own resolution, integrated exactly along
    every scanline by Secord's row prefix sums (:func:`stipple.exact_cells.exact_cell_stats`), ``sub_rows``
    scanlines per pixel row (default: enough for about 12 per stipple spacing, at least 2).
    ``method="raster"``: the earlier torch path (CPU or GPU) on a working raster of ``pixels_per_point``
    pixels per stipple labelled by jump flooding (warm-started from the previous labels with
    ``warm_start``) with the cell borders resolved to ``subpixel`` x ``subpixel`` sub-pixels
    (:func:`stipple.voronoi.cell_stats_refined`); a site whose cell is empty is re-drawn from rho.

    With ``normalize`` the positions follow the min-max stretched density (rho - min) / (max - min) of each
    image (the darkest pixel gets density 1, the lightest 0, as the ReScience replication normalises its
    density); the radii always follow the true density. The measurements behind these defaults are in
    ``stipple/__init__.py`` (classical stipplers).

    Args:
        image: (B, 3, H, W) or (B, 1, H, W) float in [0, 1].
        n_points: stipples per image (>= 1).
        n_iter: Lloyd iterations (>= 0).
        gamma: density exponent, rho = (1 - gray)^gamma.
        method: "exact" or "raster".
        init: "hilbert" or "random" (initial sites).
        overrelax: omega in [1, 2) ("exact" only; 1 = plain Lloyd).
        sub_rows: scanlines per pixel row ("exact"); None = automatic.
        pixels_per_point, subpixel, warm_start: the "raster" method's working raster, border sub-pixels
            per side (1 = whole pixels) and warm-started jump flooding.
        normalize: stretch the density to [0, 1] for the positions.
        generator: CPU torch.Generator for the initial sampling (reproducible runs).
        progress: optional callable(iteration) for progress bars.

    Returns:
        one :class:`Stipples` per image, exactly ``n_points`` each; ``history`` holds the energy
        (squared pixels of the density raster) before the first and after every iteration.

    Raises:
        ValueError: bad image shape, n_points < 1, unknown method / init or overrelax outside [1, 2).
    """
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1, got {n_points}")
    if method not in ("exact", "raster"):
        raise ValueError(f"method must be 'exact' or 'raster', got {method!r}")
    if init not in ("hilbert", "random"):
        raise ValueError(f"init must be 'hilbert' or 'random', got {init!r}")
    sample = _hilbert_sample if init == "hilbert" else _sample_density
    if not 1.0 <= overrelax < 2.0:
        raise ValueError(f"overrelax must be in [1, 2), got {overrelax}")
    if method == "exact":
        return [
            _wvs_exact(
                image[i : i + 1],
                n_points,
                n_iter,
                gamma,
                sample,
                overrelax,
                sub_rows,
                normalize,
                generator,
                progress,
            )
            for i in range(image.shape[0])
        ]
    return _wvs_raster(
        image,
        n_points,
        n_iter,
        gamma,
        sample,
        pixels_per_point,
        subpixel,
        normalize,
        warm_start,
        generator,
        progress,
    )


def auto_sub_rows(height: int, width: int, n_points: int, rows_per_spacing: float = 12.0) -> int:
    """Scanlines per pixel row so that a stipple spacing sqrt(H W / N) holds about ``rows_per_spacing``
    of them (at least 2)."""
    spacing = math.sqrt(height * width / max(n_points, 1))
    return max(2, math.ceil(rows_per_spacing / spacing))


def _wvs_exact(
    image, n_points, n_iter, gamma, sample, overrelax, sub_rows, normalize, generator, progress
) -> Stipples:
    from stipple.exact_cells import RowTables, exact_cell_stats

    img = image.float().cpu()
    _, _, h, w = img.shape
    rows = sub_rows or auto_sub_rows(h, w, n_points)
    rho_true = density_from_image(img, gamma)  # (1, H, W)
    rho = _stretch(rho_true) if normalize else rho_true
    tables = RowTables(rho[0])
    sites = sample(rho, n_points, generator)[0].double()
    lo = torch.full((2,), 1e-6, dtype=torch.float64)
    hi = torch.tensor([w, h], dtype=torch.float64) - 1e-6
    plain_from = n_iter - max(1, n_iter // 10)
    energies = []
    for it in range(n_iter + 1):
        stats = exact_cell_stats(rho[0], sites, rows, tables=tables)
        energies.append(float(stats.energy))
        if it == n_iter:
            break
        omega = overrelax if it < plain_from else 1.0
        sites = (sites + omega * (stats.centroid[0] - sites)).clamp(lo, hi)
        empty = stats.area[0] <= 0  # a site on top of another (Qhull drops duplicates): re-draw it from rho
        if bool(empty.any()):
            fresh = _sample_density(rho, int(empty.sum()), generator)[0].double()
            sites[empty] = fresh.clamp(lo, hi)
        if progress is not None:
            progress(it)
    wgt = rho_true[0].double() + 1e-4
    rgb = img[0].expand(3, h, w).double() * wgt
    final = RowTables(rho_true[0], extra=torch.cat([rgb, wgt[None]], 0))
    stats = exact_cell_stats(rho_true[0], sites, rows, tables=final)
    colors = _exact_colors(final, sites, h, w, rows)
    scale = torch.tensor([w, h], dtype=torch.float64)
    radii = (stats.mass[0] / math.pi).sqrt() / min(h, w)
    return Stipples((sites / scale).clamp(0, 1).float(), radii.float(), colors.float(), energies)


def _exact_colors(tables, sites: torch.Tensor, h: int, w: int, rows: int) -> torch.Tensor:
    """(N, 3) (rho + 1e-4)-weighted mean colour of every exact cell (the tables' 4 extra channels are
    weighted R, G, B and the weight)."""
    from stipple.exact_cells import voronoi_spans

    cell, row, _, x0, x1 = voronoi_spans(sites, h, w, rows)
    sums = torch.zeros(sites.shape[0], 4, dtype=torch.float64).index_add_(
        0, cell, tables.extra_span(row, x0, x1)
    )
    return (sums[:, :3] / sums[:, 3:].clamp(min=1e-12)).clamp(0, 1)


def _wvs_raster(
    image,
    n_points,
    n_iter,
    gamma,
    sample,
    pixels_per_point,
    subpixel,
    normalize,
    warm_start,
    generator,
    progress,
) -> list[Stipples]:
    b, _, h0, w0 = image.shape
    h, w = working_size(h0, w0, n_points, pixels_per_point)
    img = _resample(image.float(), (h, w))
    rho_true = density_from_image(img, gamma)  # (B, h, w)
    rho = _stretch(rho_true) if normalize else rho_true
    sites = sample(rho, n_points, generator)
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
    normalize: bool = True,
    gamma: float = 1.0,
    sub_rows: int | None = None,
) -> Stipples:
    """A few weighted Lloyd steps (Secord 2002) on given stipples: each moves to its cell's centroid.

    The relaxation option of the network (``predict_stipples(..., relax=steps)``): the exact clipped
    Voronoi cells of the image's own density (:func:`stipple.exact_cells.exact_cell_stats`, as
    :func:`weighted_voronoi_stippling`), CPU. Radii and colours are kept.

    Args:
        image: (1, 3, H, W) or (1, 1, H, W) float in [0, 1], the stippled image.
        stipples: its :class:`Stipples` (N >= 1).
        steps: Lloyd steps (>= 0).
        normalize, gamma, sub_rows: as in :func:`weighted_voronoi_stippling`.

    Returns:
        a new :class:`Stipples` with the moved positions.
    """
    from stipple.exact_cells import RowTables, exact_cell_stats

    n = len(stipples)
    if steps <= 0 or n == 0:
        return stipples
    img = image.float().cpu()
    _, _, h, w = img.shape
    rho = density_from_image(img, gamma)
    if normalize:
        rho = _stretch(rho)
    tables = RowTables(rho[0])
    rows = sub_rows or auto_sub_rows(h, w, n)
    scale = torch.tensor([w, h], dtype=torch.float64)
    sites = stipples.positions.double().cpu() * scale
    for _ in range(steps):
        sites = exact_cell_stats(rho[0], sites, rows, tables=tables).centroid[0]
        sites = sites.clamp(torch.full((2,), 1e-6, dtype=torch.float64), scale - 1e-6)
    return Stipples((sites / scale).clamp(0, 1).float(), stipples.radii, stipples.colors)
