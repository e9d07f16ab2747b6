"""Tests of the analytic bezier13 renderer (common/renderers/bezier13.py)."""

from __future__ import annotations

import pytest
import torch

from common.compositing import composite_sequential
from common.renderers.bezier13 import (
    PARAM_NAMES,
    Bezier13Renderer,
    bezier13_alpha,
    radius_to_pixels,
    render_bezier13,
)
from common.svg import rasterize_svg, strokes_to_svg

pytestmark = pytest.mark.usefixtures("one_thread")


def _strokes(n: int, b: int = 1, max_r: float = 0.3, gen=None, dtype=torch.float32) -> torch.Tensor:
    p = torch.rand(b, n, 13, generator=gen, dtype=dtype)
    p[..., 6:8] *= max_r
    p[..., 8:10] = 0.5 + 0.5 * p[..., 8:10]
    return p


def test_format_names():
    assert len(PARAM_NAMES) == 13 and PARAM_NAMES[6:10] == ("r0", "r2", "t0", "t2")


def test_shape_range_and_geometry(device, rng):
    p = _strokes(6, b=2, gen=rng).to(device)
    a = bezier13_alpha(p, 40, 56)
    assert a.shape == (2, 6, 40, 56) and a.device.type == device.type
    assert a.min() >= 0 and a.max() <= 1
    a10 = bezier13_alpha(p[..., :10], 40, 56)
    torch.testing.assert_close(a, a10)
    # a straight horizontal opaque stroke: covered on its axis, empty far away, radius as documented
    s = torch.tensor([[[0.2, 0.5, 0.5, 0.5, 0.8, 0.5, 0.25, 0.25, 1, 1, 1, 0, 0]]], device=device)
    a = bezier13_alpha(s, 128, 128)[0, 0]
    rad = float(radius_to_pixels(torch.tensor(0.25), 128, 128))  # 8.5 px
    assert a[64, 64] == pytest.approx(1.0)
    assert a[64 + int(rad) + 2, 64] == 0 and a[64 - int(rad) - 2, 64] == 0
    width = (a[:, 64] > 0.5).sum().item()
    assert abs(width - 2 * rad) <= 1.5
    assert a[64, 10] == 0 and a[64, 120] == 0


def test_opacity_and_radius_interpolate(device):
    s = torch.tensor([[[0.1, 0.5, 0.5, 0.5, 0.9, 0.5, 0.1, 0.4, 0.2, 1.0, 0, 0, 0]]], device=device)
    a = bezier13_alpha(s, 128, 128)[0, 0]
    assert a[64, 20] == pytest.approx(0.2 + 0.8 * (20.5 - 12.8) / 102.4, abs=0.02)
    assert (a[:, 110] > 0.5).sum() > (a[:, 20] > 0.5).sum()  # thicker towards r2


def test_bad_shape():
    with pytest.raises(ValueError, match="bezier13"):
        bezier13_alpha(torch.rand(1, 3, 8), 16, 16)
    with pytest.raises(ValueError, match="bezier13"):
        render_bezier13(torch.rand(1, 3, 10), torch.rand(1, 3, 16, 16))


def test_gradcheck_float64():
    gen = torch.Generator().manual_seed(1)
    p = _strokes(3, gen=gen, dtype=torch.float64)
    p[..., 6:8] = 0.15 + 0.2 * torch.rand(1, 3, 2, generator=gen, dtype=torch.float64)
    p.requires_grad_(True)
    canvas = torch.rand(1, 3, 8, 10, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q: bezier13_alpha(q, 12, 16), (p,), eps=1e-6, atol=1e-4)
    assert torch.autograd.gradcheck(
        lambda q, c: render_bezier13(q, c), (p, canvas), eps=1e-6, atol=1e-4, fast_mode=True
    )


def test_gradient_reaches_every_parameter(rng):
    p = _strokes(4, gen=rng).requires_grad_(True)
    render_bezier13(p, torch.full((1, 3, 32, 32), 0.5)).square().sum().backward()
    assert (p.grad.abs().sum(dim=(0, 1)) > 0).all()


def test_parallel_equals_sequential(rng):
    p = _strokes(20, b=2, gen=rng)
    canvas = torch.rand(2, 3, 48, 40, generator=rng)
    seq = composite_sequential(canvas, p[..., 10:13], bezier13_alpha(p, 48, 40))
    torch.testing.assert_close(render_bezier13(p, canvas), seq, atol=1e-5, rtol=0)


@pytest.mark.parametrize("layers", ["index", "boxes"])
def test_segmented_box_path_equals_dense_sequential(rng, layers):
    """Small memory budget (many checkpointed segments) and both layerings: same image and gradients as
    dense full-canvas alphas composited one stroke after the other."""
    p = _strokes(60, b=2, gen=rng, dtype=torch.float64)
    canvas = torch.rand(2, 3, 70, 90, generator=rng, dtype=torch.float64)
    target = torch.rand(2, 3, 70, 90, generator=rng, dtype=torch.float64)
    q1, q2 = p.clone().requires_grad_(True), p.clone().requires_grad_(True)
    c1, c2 = canvas.clone().requires_grad_(True), canvas.clone().requires_grad_(True)
    ref = composite_sequential(c1, q1[..., 10:13], bezier13_alpha(q1, 70, 90))
    got = render_bezier13(q2, c2, max_entries=3000, layers=layers)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=0)
    ((ref - target) ** 2).sum().backward()
    ((got - target) ** 2).sum().backward()
    torch.testing.assert_close(q2.grad, q1.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(c2.grad, c1.grad, atol=1e-4, rtol=1e-4)


def test_large_canvas_memory_is_bounded():
    gen = torch.Generator().manual_seed(0)
    n = 2000
    p = torch.rand(1, n, 13, generator=gen)
    mid = torch.rand(1, n, 1, 2, generator=gen)
    p[..., :6] = (mid + 0.02 * torch.randn(1, n, 3, 2, generator=gen)).reshape(1, n, 6)
    p[..., 6:8] *= 0.05
    with torch.no_grad():
        out = render_bezier13(p, torch.ones(1, 3, 1024, 1024))  # N*H*W = 2e9 would be 8 GB as one tensor
    assert out.shape == (1, 3, 1024, 1024) and out.min() >= 0 and out.max() <= 1
    assert (out < 0.999).float().mean() > 0.05


def test_recovery(photo):
    """Render a target, perturb the strokes, optimise them back (diffvg single_circle style)."""
    gen = torch.Generator().manual_seed(3)
    target_p = _strokes(5, gen=gen, max_r=0.4)
    target_p[..., :6] = 0.2 + 0.6 * target_p[..., :6]
    target_p[..., 8:10] = 1.0
    canvas = torch.full((1, 3, 64, 64), 0.5)
    target = render_bezier13(target_p, canvas)
    p = (target_p + 0.05 * torch.randn(target_p.shape, generator=gen)).clamp(0, 1).requires_grad_(True)
    start = (render_bezier13(p, canvas) - target).abs().mean().item()
    opt = torch.optim.Adam([p], lr=0.01)
    for _ in range(150):
        opt.zero_grad()
        loss = (render_bezier13(p.clamp(0, 1), canvas) - target).abs().mean()
        loss.backward()
        opt.step()
    end = (render_bezier13(p.clamp(0, 1), canvas) - target).abs().mean().item()
    assert end < 0.3 * start and end < 0.01


def test_module_wrapper(rng):
    p = _strokes(3, gen=rng)
    c = torch.rand(1, 3, 20, 20, generator=rng)
    torch.testing.assert_close(Bezier13Renderer()(p, c), render_bezier13(p, c))


def test_svg_matches_tensor_render(rng):
    p = _strokes(12, gen=rng, max_r=0.2)
    p[..., 9] = p[..., 8]  # constant opacity per stroke: the SVG's uniform-opacity form
    h, w = 96, 128
    ref = render_bezier13(p, torch.ones(1, 3, h, w))
    svg = strokes_to_svg("bezier13", p[0], h, w, background=(1.0, 1.0, 1.0))
    img = rasterize_svg(svg, w, h)
    assert (img - ref).abs().mean() < 0.02


def test_strokes_off_the_canvas_leave_it_and_backpropagate_zero():
    p = torch.rand(2, 5, 13)
    p[..., :6] += 3.0  # every control point far right and below the canvas
    p.requires_grad_(True)
    canvas = torch.rand(2, 3, 20, 24)
    out = render_bezier13(p, canvas)
    assert torch.equal(out, canvas)
    out.sum().backward()  # still connected to the strokes
    assert p.grad is not None and p.grad.abs().sum() == 0
