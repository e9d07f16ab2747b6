"""Tests of the ``dots`` renderer (common/renderers/dots.py)."""

from __future__ import annotations

import importlib
import math

import pytest
import torch

from common.compositing import composite_sequential
from common.renderers.dots import PARAM_NAMES, DotsRenderer, dots_alpha, render_dots


def _random_dots(b, n, device, dtype, r_lo=0.02, r_hi=0.12, gen=None):
    centers = torch.rand(b, n, 2, generator=gen).to(device, dtype)
    radii = (r_lo + (r_hi - r_lo) * torch.rand(b, n, generator=gen)).to(device, dtype)
    colors = torch.rand(b, n, 3, generator=gen).to(device, dtype)
    return centers, radii, colors


def test_shape_range_and_format(device, dtype, rng):
    centers, radii, colors = _random_dots(2, 20, device, dtype, gen=rng)
    canvas = torch.ones(2, 3, 24, 40, device=device, dtype=dtype)
    out = render_dots(centers, radii, colors, canvas)
    assert out.shape == (2, 3, 24, 40) and out.dtype == dtype and out.device.type == device.type
    assert out.min() >= 0 and out.max() <= 1
    alpha = dots_alpha(centers, radii, 24, 40)
    assert alpha.shape == (2, 20, 24, 40) and alpha.min() >= 0 and alpha.max() <= 1
    assert PARAM_NAMES == ("x", "y", "radius", "R", "G", "B")
    assert DotsRenderer()(centers, radii, colors, canvas).shape == out.shape


def test_disc_area_matches_radius(device):
    """A black disc of radius r px on white removes about pi r^2 of brightness (AA ramp adds pi/12)."""
    h = w = 64
    for r_px in (1.0, 3.0, 10.0):
        centers = torch.tensor([[[0.5 + 0.13 / w, 0.5 + 0.37 / h]]], device=device)
        radii = torch.tensor([[r_px / h]], device=device)
        out = render_dots(
            centers, radii, torch.zeros(1, 1, 3, device=device), torch.ones(1, 3, h, w, device=device)
        )
        ink = float((1 - out[0, 0]).sum())
        assert ink == pytest.approx(math.pi * (r_px**2 + 1 / 12), rel=0.03)


def test_bad_shapes_name_the_format():
    with pytest.raises(ValueError, match="dots: centers"):
        render_dots(torch.rand(1, 5, 3), torch.rand(1, 5), torch.rand(1, 5, 3), torch.ones(1, 3, 8, 8))
    with pytest.raises(ValueError, match="dots: radii"):
        render_dots(torch.rand(1, 5, 2), torch.rand(1, 4), torch.rand(1, 5, 3), torch.ones(1, 3, 8, 8))
    with pytest.raises(ValueError, match="dots: canvas"):
        render_dots(torch.rand(1, 5, 2), torch.rand(1, 5), torch.rand(1, 5, 3), torch.ones(2, 3, 8, 8))


@pytest.mark.parametrize("chunk_size", [1, 3, None])
def test_chunked_equals_sequential_over(device, rng, chunk_size):
    """Bounding-box chunked rendering == full-canvas sequential "over" of dots_alpha (overlapping dots)."""
    centers, radii, colors = _random_dots(2, 25, device, torch.float64, gen=rng)
    opacity = torch.rand(2, 25, generator=rng).to(device, torch.float64)
    canvas = torch.rand(2, 3, 30, 36, generator=rng).to(device, torch.float64)
    ref = composite_sequential(canvas, colors, dots_alpha(centers, radii, 30, 36, opacity))
    out = render_dots(centers, radii, colors, canvas, opacity=opacity, chunk_size=chunk_size)
    assert torch.allclose(out, ref, atol=1e-10)


@pytest.mark.parametrize("max_entries", [50, 2_000_000])
def test_one_colour_order_free_path_equals_sequential_over(device, rng, max_entries):
    """Without gradients, one colour per image (black stipples) takes the transmittance path; it must
    equal sequential "over" of dots_alpha, with dots overlapping and crossing the border, chunked or not."""
    centers, radii, _ = _random_dots(2, 40, device, torch.float64, gen=rng)
    centers = centers * 1.2 - 0.1  # some dots partly off the canvas
    colors = torch.tensor([[0.0, 0.0, 0.0], [0.2, 0.5, 0.9]], dtype=torch.float64)[:, None].expand(2, 40, 3)
    colors = colors.to(device)
    opacity = torch.rand(2, 40, generator=rng).to(device, torch.float64)
    canvas = torch.rand(2, 3, 30, 36, generator=rng).to(device, torch.float64)
    for op in (None, opacity):
        ref = composite_sequential(canvas, colors, dots_alpha(centers, radii, 30, 36, op))
        with torch.no_grad():
            out = render_dots(centers, radii, colors, canvas, opacity=op, max_entries=max_entries)
        assert torch.allclose(out, ref, atol=1e-6)
    # the same call with gradients goes through the ordered path and agrees too
    r = radii.clone().requires_grad_(True)
    out_grad = render_dots(centers, r, colors, canvas, opacity=opacity)
    assert out_grad.requires_grad and torch.allclose(out_grad.detach(), ref, atol=1e-6)


def test_off_canvas_and_tiny_dots(device):
    """A dot far off-canvas draws nothing; one just past the edge draws only its rim; a 0.1 px dot draws
    about pi * 0.1^2 of ink (scaled half-pixel dot) instead of a saturated pixel."""
    white = torch.ones(1, 3, 32, 32, device=device)
    black = torch.zeros(1, 1, 3, device=device)

    def ink(x, y, r):
        c = torch.tensor([[[x, y]]], device=device)
        return float((1 - render_dots(c, torch.tensor([[r]], device=device), black, white)[0, 0]).sum())

    assert ink(-0.5, 0.5, 0.05) == 0.0
    assert 0 < ink(1.02, 0.5, 0.05) < ink(0.5, 0.5, 0.05) / 2
    tiny = ink(0.5, 0.5, 0.1 / 32)
    assert 0 < tiny < 0.1


def test_gradcheck_float64():
    gen = torch.Generator().manual_seed(3)
    centers = (0.15 + 0.7 * torch.rand(1, 3, 2, generator=gen, dtype=torch.float64)).requires_grad_()
    radii = (0.1 + 0.2 * torch.rand(1, 3, generator=gen, dtype=torch.float64)).requires_grad_()
    colors = torch.rand(1, 3, 3, generator=gen, dtype=torch.float64).requires_grad_()
    canvas = torch.rand(1, 3, 10, 12, generator=gen, dtype=torch.float64).requires_grad_()
    opacity = torch.rand(1, 3, generator=gen, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda c, r, col, can, op: render_dots(c, r, col, can, opacity=op, chunk_size=2),
        (centers, radii, colors, canvas, opacity),
    )


def test_recovery_single_dots(device):
    """diffvg-style: render a target, perturb centre/radius/colour, optimise back with Adam."""
    h = w = 48
    canvas = torch.ones(1, 3, h, w, device=device)
    c_t = torch.tensor([[[0.35, 0.6], [0.7, 0.3]]], device=device)
    r_t = torch.tensor([[0.12, 0.08]], device=device)
    col_t = torch.tensor([[[0.9, 0.1, 0.1], [0.1, 0.2, 0.8]]], device=device)
    target = render_dots(c_t, r_t, col_t, canvas)
    c = (c_t + torch.tensor([[[0.04, -0.03], [-0.03, 0.04]]], device=device)).requires_grad_()
    r = (r_t * 0.75).requires_grad_()
    col = torch.full_like(col_t, 0.5).requires_grad_()
    opt = torch.optim.Adam([c, r, col], lr=0.01)
    for _ in range(250):
        opt.zero_grad()
        loss = (render_dots(c, r, col, canvas) - target).square().mean()
        loss.backward()
        opt.step()
    assert (c - c_t).abs().max() < 0.5 / w
    assert (r - r_t).abs().max() < 0.5 / h
    assert (col - col_t).abs().max() < 0.05


def test_svg_circles_match_tensor_render():
    """The same dots through common.svg (resvg) and through render_dots agree (same pixel convention)."""
    svg = importlib.import_module("common.svg")
    gen = torch.Generator().manual_seed(1)
    h, w = 48, 64
    centers, radii, colors = _random_dots(1, 12, "cpu", torch.float32, r_lo=0.03, r_hi=0.08, gen=gen)
    params = torch.cat([centers[0], radii[0, :, None], colors[0]], 1)  # (N, 6)
    svg_text = svg.svg_document(w, h, svg.dots_to_svg_elements(params, h, w), background=(1, 1, 1))
    raster = svg.rasterize_svg(svg_text, w, h)
    ours = render_dots(centers, radii, colors, torch.ones(1, 3, h, w))
    assert (raster - ours).abs().mean() < 0.01
    assert (raster - ours).abs().max() < 0.35  # rim pixels: resvg's AA differs from the analytic ramp


def test_memory_bounded_large_canvas():
    """4096 dots on 1024 x 1024: chunked boxes, no 4096 x H x W tensor (that would be 17 GB)."""
    gen = torch.Generator().manual_seed(0)
    centers = torch.rand(1, 4096, 2, generator=gen)
    radii = torch.full((1, 4096), 2.0 / 1024)
    out = render_dots(
        centers, radii, torch.zeros(1, 4096, 3), torch.ones(1, 3, 1024, 1024), max_entries=200_000
    )
    ink = float((1 - out[0, 0]).sum())
    assert 0.5 * 4096 * math.pi * 4 < ink < 1.05 * 4096 * math.pi * (4 + 1 / 12)
