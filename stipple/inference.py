"""Stippling with the trained network: load a checkpoint, predict stipples for an image of any size.

Shape letters: Gh x Gw the point grid, K slots.

:func:`predict_stipples` picks the point grid for the wanted count (:func:`stipple.model.grid_for_count`:
square cells, about ``points_per_cell`` stipples each, the image's aspect ratio), resizes the image to
P Gh x P Gw (P = ``cell_px``), runs the network once, turns its density into integer counts by error
diffusion (at most K per cell, exact total: :func:`stipple.model.diffuse_counts`) and reads the used slots'
positions, radii and colours. ``radius="tone"`` replaces the network's radii by tone-matched ones
(pi r^2 = box3(m) / box3(n), m the density mass and n the stipple count per cell, box3 a 3 x 3 mean).
``relax`` adds that many Lloyd steps on the predicted points (:func:`stipple.stipplers.lloyd_relax`);
``calibrate`` that many tone-calibration steps on the radii afterwards (:func:`calibrate_tone`).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from common.checkpoint import load_checkpoint, load_model_state
from common.errors import UserError
from common.renderers.dots import dots_transmittance
from stipple.model import StippleNet, StippleNetConfig, diffuse_counts, grid_for_count, slot_mask
from stipple.stipplers import Stipples, density_from_image, lloyd_relax


def load_stipple_net(path: str | Path, device: torch.device | str = "cpu") -> tuple[StippleNet, dict]:
    """Rebuild the network from a checkpoint's stored config and load its weights (strict).

    Returns:
        (model in eval mode on ``device``, the checkpoint dict).

    Raises:
        CheckpointError: missing/corrupt file or mismatching weights (e.g. a checkpoint of the earlier,
            grid-bound architecture).
    """
    ckpt = load_checkpoint(path, map_location="cpu")
    cfg = StippleNetConfig(**ckpt["config"]["model"])
    model = StippleNet(cfg, build_pattern=False)  # a blue-noise pattern comes with the weights
    load_model_state(model, ckpt["model"])
    return model.to(device).eval(), ckpt


def tone_radii(image: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Tone-matched radius per cell, (Gh, Gw) fractions of min(H, W): pi r^2 = box3(m) / box3(n).

    Args:
        image: (1, 3, H, W) in [0, 1]; counts: (Gh, Gw) stipples per cell.
    """
    _, _, h, w = image.shape
    gh, gw = counts.shape
    rho = density_from_image(image)[:, None]  # (1, 1, H, W)
    cell_area = (h * w) / (gh * gw) / min(h, w) ** 2  # in units of min(H, W)^2
    mass = F.adaptive_avg_pool2d(rho, (gh, gw)) * cell_area
    m3 = F.avg_pool2d(mass, 3, 1, 1, count_include_pad=False)
    n3 = F.avg_pool2d(counts.view(1, 1, gh, gw).to(m3.dtype), 3, 1, 1, count_include_pad=False)
    return (m3 / n3.clamp(min=1e-6) / math.pi).sqrt()[0, 0]


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(1, 1, H, W) float32 Gaussian blur with OpenCV, the kernel and border of
    :func:`stipple.evaluate.gaussian_blur` (radius ceil(3 sigma), reflect-101), 5-10x faster at this size."""
    import cv2

    k = 2 * max(1, math.ceil(3 * sigma)) + 1
    out = cv2.GaussianBlur(x[0, 0].contiguous().numpy(), (k, k), sigma, borderType=cv2.BORDER_REFLECT_101)
    return torch.from_numpy(out)[None, None]


@torch.no_grad()
def calibrate_tone(
    image: torch.Tensor,
    stipples: Stipples,
    steps: int = 1,
    scale: float | None = None,
    lo: float = 0.6,
    hi: float = 1.6,
) -> Stipples:
    """Scale each stipple's radius so that the blurred ink of the render matches the image's darkness locally.

    Each step renders the stipples (black on white: their transmittance,
    :func:`common.renderers.dots.dots_transmittance`) at ``scale`` times the image's size, blurs render and
    grayscale input with a Gaussian of sigma = the mean dot spacing sqrt(h w / N) at that size (the scale of
    :func:`stipple.evaluate.tone_metrics`; both fields area-reduced first so that sigma is ~2 px), and
    multiplies every
    radius by sqrt(wanted ink / ink there) read bilinearly at its centre (ink = 1 - value), clamped to
    [lo, hi] per step. Positions and colours are kept. Not in the paper: the network's render is too light
    where dots overlap (fruits.jpg, 4096 points: blurred render mean 0.383 against the input's 0.348);
    measured in ``stipple/__init__.py`` (departure 14). It calibrates to the tone metric's own blur, so it
    raises that metric directly; the peer tone PSNR (equal discs, positions only) does not change.

    Args:
        image: (1, 3, H, W) or (1, 1, H, W) float in [0, 1].
        stipples: its :class:`Stipples` (positions normalised, radii fractions of min(H, W)).
        steps: calibration steps (0 = none).
        scale: render size as a fraction of (H, W), (0, 1]; ``None`` picks 4 / (dot spacing in px) within
            [0.25, 0.5] (0.25 at 1024 stipples of a 512-px photo, 0.5 from 4096): the render needs about 4 px
            per stipple, and its cost is the render.
        lo, hi: per-step bounds of the radius factor.

    Returns:
        a new :class:`Stipples` with the calibrated radii.
    """
    if steps <= 0 or len(stipples) == 0:
        return stipples
    img = image.float().cpu()
    _, c, h, w = img.shape
    gray = img if c == 1 else 0.299 * img[:, 0:1] + 0.587 * img[:, 1:2] + 0.114 * img[:, 2:3]
    if scale is None:
        scale = min(0.5, max(0.25, 4.0 / math.sqrt(h * w / len(stipples))))
    hs, ws = max(8, round(h * scale)), max(8, round(w * scale))
    sigma = math.sqrt(hs * ws / len(stipples))
    # the blurred fields are smooth at sigma: blur them after an f x f area reduction (sigma / f ~ 2 px)
    f = max(1, int(sigma / 2))
    coarse = (max(2, hs // f), max(2, ws // f))
    sigma_c = sigma * coarse[0] / hs
    want = (1 - _blur(F.interpolate(gray, size=coarse, mode="area"), sigma_c)).clamp(min=1e-3)
    grid = (stipples.positions * 2 - 1).view(1, 1, -1, 2)
    radii = stipples.radii
    for _ in range(steps):
        # black stipples on white: the render is the transmittance (common.renderers.dots)
        render = dots_transmittance(stipples.positions[None], radii[None], hs, ws)
        render = F.interpolate(render, size=coarse, mode="area")
        ratio = (want / (1 - _blur(render, sigma_c)).clamp(min=1e-3)).clamp(lo**2, hi**2)
        radii = radii * F.grid_sample(ratio, grid, mode="bilinear", align_corners=False).view(-1).sqrt()
    return Stipples(stipples.positions, radii, stipples.colors)


@torch.no_grad()
def predict_stipples(
    model: StippleNet,
    image: torch.Tensor,
    n_points: int,
    radius: str = "net",
    relax: int = 0,
    calibrate: int = 1,
    seed: int = 0,
) -> Stipples:
    """Stipple one image with the network.

    Args:
        model: a :class:`StippleNet` (eval mode).
        image: (1, 3, H, W) float in [0, 1], any size.
        n_points: stipples wanted, 256..16384 (any integer).
        radius: "net" (the network's radii) or "tone" (tone-matched from the image, the fallback).
        relax: Lloyd steps on the predicted points afterwards (0 = none).
        calibrate: tone-calibration steps on the radii after that (:func:`calibrate_tone`; 0 = the raw
            network; default 1).
        seed: picks the window of the blue-noise slot pattern (``prior="blue"``; the same seed gives the
            same stipples; the R2 prior ignores it).

    Returns:
        :class:`Stipples` with exactly ``n_points`` stipples (positions normalised to the image).

    Raises:
        UserError: ``n_points`` outside 256..16384 or an unknown ``radius``.
    """
    if radius not in ("net", "tone"):
        raise UserError(f"--radius must be 'net' or 'tone', got {radius!r}")
    cfg = model.config
    _, _, h, w = image.shape
    gh, gw = grid_for_count(n_points, h, w, cfg.points_per_cell)
    k = cfg.slots
    dev = next(model.parameters()).device
    size = (cfg.cell_px * gh, cfg.cell_px * gw)
    x = F.interpolate(image.to(dev).float(), size=size, mode="area" if h >= size[0] else "bilinear")
    shift = tuple(torch.randint(1 << 16, (2,), generator=torch.Generator().manual_seed(seed)).tolist())
    out = model(x.clamp(0, 1), n_points, shift)
    counts = diffuse_counts(out["density"][0], n_points, k)  # (Gh, Gw)
    used = slot_mask(counts.view(1, -1), k)  # (1, Gh*Gw, K)
    positions = out["positions"][used]  # (n_points, 2) in cell, slot order
    colors = out["colors"][used]
    if radius == "net":
        radii = out["radii"][used]
    else:
        radii = tone_radii(image.to(dev).float(), counts).reshape(1, -1, 1).expand(1, -1, k)[used]
    st = Stipples(positions.float().cpu().clamp(0, 1), radii.float().cpu(), colors.float().cpu())
    if relax:
        st = lloyd_relax(image, st, relax)
    return calibrate_tone(image, st, calibrate)
