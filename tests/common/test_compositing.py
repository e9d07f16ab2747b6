"""common.compositing: "over" compositing, sequential == parallel, gradients, bounding-box pasting."""

from __future__ import annotations

import pytest
import torch

from common.compositing import composite_over, composite_over_region, composite_parallel, composite_sequential


def _stack(device, dtype, b=2, n=12, h=9, w=11, maps=False, gen=None):
    canvas = torch.rand(b, 3, h, w, generator=gen, dtype=dtype).to(device)
    alphas = torch.rand(b, n, 1, h, w, generator=gen, dtype=dtype).to(device)
    shape = (b, n, 3, h, w) if maps else (b, n, 3)
    colors = torch.rand(*shape, generator=gen, dtype=dtype).to(device)
    return canvas, colors, alphas


@pytest.mark.parametrize("maps", [False, True])
def test_parallel_equals_sequential(device, dtype, rng, maps):
    canvas, colors, alphas = _stack(device, dtype, maps=maps, gen=rng)
    alphas[:, 3] = 1.0  # an opaque stroke hides everything below it
    alphas[:, 5] = 0.0
    seq = composite_sequential(canvas, colors, alphas)
    par = composite_parallel(canvas, colors, alphas)
    assert seq.shape == canvas.shape and seq.device == canvas.device
    assert (seq - par).abs().max().item() < 1e-5


def test_alpha_without_channel_axis_and_known_value(device):
    canvas = torch.zeros(1, 3, 2, 2, device=device)
    colors = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]], device=device)  # red, then blue
    alphas = torch.full((1, 2, 2, 2), 0.5, device=device)  # (B, N, H, W)
    out = composite_parallel(canvas, colors, alphas)
    # red over black at 0.5 -> (0.5, 0, 0); blue over that at 0.5 -> (0.25, 0, 0.5)
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.25, 0.0, 0.5], device=device))
    assert torch.allclose(composite_sequential(canvas, colors, alphas), out)


def test_composite_over_broadcasts_flat_colour(device):
    canvas = torch.ones(2, 3, 4, 4, device=device)
    alpha = torch.full((2, 1, 4, 4), 0.25, device=device)
    out = composite_over(canvas, torch.zeros(2, 3, device=device), alpha)
    assert torch.allclose(out, torch.full_like(out, 0.75))


def test_gradcheck_float64(rng):
    canvas, colors, alphas = _stack("cpu", torch.float64, b=1, n=3, h=3, w=4, gen=rng)
    inputs = tuple(t.requires_grad_(True) for t in (canvas, colors, alphas))
    assert torch.autograd.gradcheck(composite_parallel, inputs)
    assert torch.autograd.gradcheck(composite_sequential, inputs)


def test_region_matches_full_canvas(device, rng):
    canvas = torch.rand(1, 3, 20, 24, generator=rng).to(device)
    alpha = torch.rand(1, 1, 6, 7, generator=rng).to(device)
    color = torch.rand(1, 3, generator=rng).to(device)
    for top, left in [(3, 4), (-2, -3), (17, 20), (25, 30)]:
        full_alpha = torch.zeros(1, 1, 80, 84, device=device)  # padded placement, then crop to the canvas
        full_alpha[..., top + 20 : top + 26, left + 20 : left + 27] = alpha
        expected = composite_over(canvas, color, full_alpha[..., 20:40, 20:44])
        got = composite_over_region(canvas, color, alpha, top, left)
        assert torch.allclose(got, expected, atol=1e-6)
    assert torch.equal(canvas, canvas.clone())  # not modified in place by default


def test_region_inplace_loop_gradcheck(rng):
    canvas = torch.rand(1, 3, 8, 9, generator=rng, dtype=torch.float64).requires_grad_(True)
    alpha = torch.rand(1, 1, 4, 5, generator=rng, dtype=torch.float64).requires_grad_(True)
    color = torch.rand(1, 3, generator=rng, dtype=torch.float64).requires_grad_(True)

    def paint(canvas, alpha, color):
        out = canvas.clone()
        out = composite_over_region(out, color, alpha, -1, 6, inplace=True)
        return composite_over_region(out, color.flip(1), alpha * 0.7, 2, 2, inplace=True)

    assert torch.autograd.gradcheck(paint, (canvas, alpha, color))


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="alpha"):
        composite_over(torch.rand(1, 3, 4, 4), torch.rand(1, 3), torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="colors"):
        composite_sequential(torch.rand(1, 3, 4, 4), torch.rand(1, 2, 3), torch.rand(1, 5, 1, 4, 4))
