"""The stippling network's training objective (equations in ``stipple/__init__.py``).

Shape letters: B batch, G grid side, K slots, M reference points, F frequencies, R x A spectrum bins.

    L = w_cd N L_CD + w_spec L_spec + w_col L_col + w_dens L_dens + w_rad L_rad + w_tone L_tone + w_rep L_rep

The slots a cell uses during training are given by the reference occupancy (teacher forcing: cell c uses
min(n_c, K) slots, n_c its reference count), so Chamfer, spectrum, colour and radius losses see the points
the cell should emit, while the density head learns n_c directly. N (the reference count) expresses the
squared Chamfer distance in units of the squared dot spacing, so its size does not depend on the point count
(N = G^2 at one stipple per cell).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from common.losses.spectrum import half_plane_frequencies, point_periodogram
from common.renderers.dots import render_dots
from stipple.data import occupancy_grid
from stipple.model import gather_points, slot_mask


@dataclass
class LossWeights:
    """Weights of the terms (release: Chamfer 1, spectrum 0.1, colour 1; density and radius are ours).

    kmax_factor: spectrum frequencies |k| <= kmax_factor * sqrt(N) (N reference stipples: the blue-noise
        ring and a lattice peak at |k| = sqrt(N) are inside; sqrt(N) = G at one stipple per cell).
    angular_bins: sectors of the half plane in the spectrum loss (1 = radial only).
    spectrum_keep: fraction of the frequencies |k| >= 16 evaluated per step (random subset).
    repulsion, repulsion_spacing: weight of :func:`repulsion_loss` and its reach d0 as a fraction of the
        local dot spacing (0 = off: the 2025 network was trained without it).
    tone_scales: render scales of the tone loss, one drawn per step (:func:`tone_loss`).
    """

    chamfer: float = 1.0
    spectrum: float = 0.1
    color: float = 1.0
    density: float = 1.0
    radius: float = 1.0
    tone: float = 10.0
    repulsion: float = 0.0
    repulsion_spacing: float = 0.85
    tone_scales: tuple[int, ...] = (1,)
    kmax_factor: float = 1.25
    angular_bins: int = 8
    spectrum_keep: float = 0.4


def sample_colors(image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear image colour at normalised points: image (B, 3, S, S), points (B, M, 2) -> (B, M, 3)."""
    grid = (points * 2 - 1)[:, :, None, :]  # (B, M, 1, 2), pixel-centre convention (align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", align_corners=False, padding_mode="border")[
        ..., 0
    ].transpose(1, 2)


def spectrum_bins(freqs: torch.Tensor, kmax: int, angular_bins: int, width: int = 2) -> torch.Tensor:
    """(F,) bin index of every half-plane frequency: annulus floor((|k| - 1) / width) times
    ``angular_bins`` sectors of [0, pi) (angle of k), -1 outside |k| in [1, kmax + 1)."""
    radius = freqs.norm(dim=-1)
    ring = ((radius - 1) / width).floor().long()
    angle = torch.atan2(freqs[:, 1], freqs[:, 0]).remainder(math.pi)
    sector = (angle / math.pi * angular_bins).floor().long().clamp(max=angular_bins - 1)
    idx = ring * angular_bins + sector
    return torch.where((radius >= 1) & (radius < kmax + 1), idx, torch.full_like(idx, -1))


def radial_angular_spectrum_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    pred_weights: torch.Tensor,
    target_weights: torch.Tensor,
    kmax: int,
    angular_bins: int = 8,
    eps: float = 1e-2,
    keep: float = 1.0,
    exact_below: int = 16,
) -> torch.Tensor:
    """L1 between log mean periodogram power of predicted and reference points over (annulus, sector) bins.

    P(k) is the exact periodogram (:func:`common.losses.spectrum.point_periodogram`); bins are annuli of
    width 2 in |k| in [1, kmax] times ``angular_bins`` sectors of the angle of k in [0, pi). A lattice puts
    its power at |k| = G along the axes: the radial average dilutes that peak over its annulus, the sectors
    do not.

    Args:
        pred: (B, N, 2) normalised points, differentiable; target: (B, M, 2).
        pred_weights, target_weights: (B, N) / (B, M) float masks in [0, 1].
        kmax: largest |k| (cycles per canvas side); angular_bins: sectors (1 = radial only).
        keep: fraction of the frequencies with |k| >= ``exact_below`` evaluated (a random subset per call,
            drawn from torch's global generator: each bin's mean is then an unbiased estimate; the cost is
            B N F complex exponentials).

    Returns:
        scalar float tensor.
    """
    freqs = half_plane_frequencies(kmax, pred.device, pred.dtype)
    bins = spectrum_bins(freqs, kmax, angular_bins)
    use = bins >= 0
    if keep < 1.0:
        use &= (freqs.norm(dim=-1) < exact_below) | (torch.rand(bins.shape, device=bins.device) < keep)
    freqs, bins = freqs[use], bins[use]
    nb = int(bins.max()) + 1
    p_pred, _ = point_periodogram(pred, pred_weights, kmax, freqs)  # (B, F)
    with torch.no_grad():
        p_ref, _ = point_periodogram(target.to(pred.dtype), target_weights, kmax, freqs)
    count = torch.zeros(nb, device=pred.device, dtype=pred.dtype).index_add_(
        0, bins, torch.ones_like(bins, dtype=pred.dtype)
    )
    occupied = count > 0

    def binned(p):
        return (
            torch.zeros(p.shape[0], nb, device=p.device, dtype=p.dtype).index_add(1, bins, p)
            / count.clamp(min=1)
        )[:, occupied]

    return (torch.log(eps + binned(p_pred)) - torch.log(eps + binned(p_ref))).abs().mean()


def matched_chamfer(
    pts: torch.Tensor, pmask: torch.Tensor, ref: torch.Tensor, rmask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two-way squared Chamfer distance (``common.losses.chamfer.chamfer_distance``'s value and gradient)
    from one distance matrix built without autograd: the nearest partners are found first, then only the
    matched pairs' squared distances are differentiated (min's gradient flows through its argmin only).

    Args:
        pts: (B, N, 2) predicted points, differentiable; pmask (B, N) bool.
        ref: (B, M, 2) reference points; rmask (B, M) bool.

    Returns:
        (loss scalar (batch mean), nearest reference index of every predicted point (B, N) int64).
    """
    with torch.no_grad():
        d = torch.cdist(pts, ref)  # (B, N, M)
        d = d.masked_fill(~rmask[:, None, :], float("inf")).masked_fill(~pmask[:, :, None], float("inf"))
        to_ref = d.argmin(2)  # (B, N)
        to_pred = d.argmin(1)  # (B, M)
    near_ref = ref.gather(1, to_ref[..., None].expand(-1, -1, 2))
    near_pred = pts.gather(1, to_pred[..., None].expand(-1, -1, 2))
    pm, rm = pmask.to(pts.dtype), rmask.to(pts.dtype)
    term_p = ((pts - near_ref).square().sum(-1) * pm).sum(1) / pm.sum(1).clamp(min=1)
    term_r = ((ref - near_pred).square().sum(-1) * rm).sum(1) / rm.sum(1).clamp(min=1)
    return (term_p + term_r).mean(), to_ref


def repulsion_loss(
    pts: torch.Tensor, pmask: torch.Tensor, spacing: torch.Tensor, reach: float = 0.85
) -> torch.Tensor:
    """Nearest-neighbour repulsion: mean_p relu(1 - |p - nn(p)| / (reach * s_p))^2 over the valid points.

    Not in the paper (ours; ``stipple/__init__.py``, departure 15). Chamfer alone lets two slots that share a
    nearest reference stipple collapse onto it; this term is zero for a blue-noise set whose neighbours are at
    least ``reach`` times the local spacing apart and grows as two points approach. The nearest neighbour is
    found without autograd; only its distance is differentiated.

    Args:
        pts: (B, P, 2) normalised points, differentiable; pmask: (B, P) bool.
        spacing: (B, P) local dot spacing s_p in normalised units (> 0 where valid).
        reach: d0 / s.

    Returns:
        scalar float tensor in [0, 1].
    """
    with torch.no_grad():
        d = torch.cdist(pts, pts)  # (B, P, P)
        d.diagonal(dim1=1, dim2=2).fill_(float("inf"))
        d = d.masked_fill(~pmask[:, None, :], float("inf"))
        nn_idx = d.argmin(2)  # (B, P)
    near = pts.gather(1, nn_idx[..., None].expand(-1, -1, 2))
    dist = (pts - near).square().sum(-1).clamp(min=1e-12).sqrt()
    pen = F.relu(1 - dist / (reach * spacing).clamp(min=1e-6)).square()
    pm = pmask.to(pts.dtype)
    return (pen * pm).sum() / pm.sum().clamp(min=1)


def tone_loss(points: torch.Tensor, radii: torch.Tensor, image: torch.Tensor, scale: int = 1) -> torch.Tensor:
    """MSE between the Gaussian-blurred black-dot render and the grayscale image (the bench's tone
    measure, :func:`stipple.evaluate.tone_metrics`, as a loss; sigma = dot spacing sqrt(H W / N) px).

    Args:
        points: (B, N, 2) normalised; radii: (B, N) fractions of min(H, W) (0 for padding).
        image: (B, 3, H, W) in [0, 1].
        scale: render at ``scale`` times the image's size (the image bilinearly upsampled): the bench
            renders 1024 / 4096 stipples of a 512-px photo at 4 / 2 times the network's input size.

    Returns:
        scalar float tensor, squared [0, 1] units (differentiable in points and radii).
    """
    from stipple.evaluate import gaussian_blur

    if scale > 1:
        image = F.interpolate(image, scale_factor=scale, mode="bilinear", align_corners=False).clamp(0, 1)
    b, _, h, w = image.shape
    n = (radii > 0).sum(1).float().mean().clamp(min=1)
    canvas = torch.ones(b, 3, h, w, device=image.device, dtype=image.dtype)
    render = render_dots(points, radii, torch.zeros(b, points.shape[1], 3, device=image.device), canvas)[
        :, :1
    ]
    gray = 0.299 * image[:, 0:1] + 0.587 * image[:, 1:2] + 0.114 * image[:, 2:3]
    sigma = math.sqrt(h * w / float(n))
    return (gaussian_blur(render, sigma) - gray).square().mean()


def stipple_losses(
    out: dict[str, torch.Tensor],
    image: torch.Tensor,
    ref_points: torch.Tensor,
    ref_mask: torch.Tensor,
    weights: LossWeights,
    ref_radii: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """All loss terms for one batch.

    Args:
        out: :class:`stipple.model.StippleNet` output (density (B, G, G), positions (B, G*G, K, 2),
            radii (B, G*G, K), colors (B, G*G, K, 3)).
        image: (B, 3, S, S) input in [0, 1] (colour targets are sampled from it).
        ref_points: (B, M, 2) reference stipples, normalised; ref_mask (B, M) bool.
        weights: :class:`LossWeights`.
        ref_radii: (B, M) reference radii (fractions of the side); None skips the radius term.

    Returns:
        dict with ``chamfer``, ``spectrum``, ``color``, ``density``, ``radius``, ``tone``, ``repulsion`` and
        the weighted ``total``.
    """
    b, g = out["density"].shape[:2]
    k = out["positions"].shape[2]
    counts = occupancy_grid(ref_points, g, ref_mask)  # (B, G, G)
    used = slot_mask(counts.view(b, -1).clamp(max=k).long(), k)  # (B, G*G, K)
    pts, pmask = gather_points(out["positions"], used)  # (B, P, 2)
    cols, _ = gather_points(out["colors"], used)
    chamfer, nearest = matched_chamfer(pts, pmask, ref_points, ref_mask)
    n_ref = ref_mask.sum(1).to(pts.dtype).mean().clamp(min=1)
    chamfer = chamfer * n_ref
    kmax = max(4, int(round(weights.kmax_factor * float(n_ref) ** 0.5)))
    spec = radial_angular_spectrum_loss(
        pts,
        ref_points,
        pmask.to(pts.dtype),
        ref_mask.to(pts.dtype),
        kmax,
        weights.angular_bins,
        keep=weights.spectrum_keep,
    )
    target_col = sample_colors(image, pts.detach())
    pm = pmask.to(pts.dtype)
    color = ((cols - target_col).square() * pm[..., None]).sum() / (pm.sum() * 3).clamp(min=1)
    density = F.mse_loss(out["density"], counts)
    radius = pts.new_zeros(())
    if ref_radii is not None:
        rad, _ = gather_points(out["radii"][..., None], used)  # (B, P, 1)
        near = ref_radii.gather(1, nearest)  # (B, P) radius of the nearest reference stipple
        err = (torch.log(rad[..., 0].clamp(min=1e-5)) - torch.log(near.clamp(min=1e-5))).abs()
        radius = (err * pm).sum() / pm.sum().clamp(min=1)
    repulsion = pts.new_zeros(())
    if weights.repulsion > 0:
        n_cell = counts.view(b, -1, 1).clamp(max=k).expand(-1, -1, k)[..., None]  # (B, G*G, K, 1) emitted
        n_pts, _ = gather_points(n_cell, used)
        spacing = 1.0 / (g * n_pts[..., 0].clamp(min=1).sqrt())  # (B, P) normalised units
        repulsion = repulsion_loss(pts, pmask, spacing, weights.repulsion_spacing)
    tone = pts.new_zeros(())
    if weights.tone > 0:
        rad_all, _ = gather_points(out["radii"][..., None], used)
        scale = weights.tone_scales[int(torch.randint(len(weights.tone_scales), (1,)))]
        tone = tone_loss(pts, rad_all[..., 0] * pm, image, scale)
    total = (
        weights.tone * tone
        + weights.chamfer * chamfer
        + weights.spectrum * spec
        + weights.color * color
        + weights.density * density
        + weights.radius * radius
        + weights.repulsion * repulsion
    )
    return {
        "total": total,
        "chamfer": chamfer,
        "spectrum": spec,
        "color": color,
        "density": density,
        "radius": radius,
        "tone": tone,
        "repulsion": repulsion,
    }
