"""Tests of the ``oil`` stroke renderer (common/renderers/oil.py)."""

import importlib
import math

import pytest
import torch

from common.renderers.oil import (
    FORMAT,
    PARAM_NAMES,
    OilRenderer,
    brush_texture,
    oil_alpha,
    oil_maps,
    oil_svg_elements,
    render_oil,
    stroke_boxes,
)


def _strokes(n, seed=0, dtype=torch.float32, max_len=0.5, max_thk=0.2):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(1, n, 8, generator=g, dtype=dtype)
    p[..., 2] = 0.1 + max_len * p[..., 2]
    p[..., 3] = 0.05 + max_thk * p[..., 3]
    return p


def test_format_names():
    assert FORMAT == "oil"
    assert PARAM_NAMES == ("x", "y", "w", "h", "theta", "R", "G", "B")


def test_texture_range_and_zero_border():
    tex = brush_texture()
    assert tex.shape == (1, 2, 256, 256)
    assert tex.min() >= 0 and tex.max() <= 1
    assert tex[0, 1, 0].abs().max() == 0 and tex[0, 1, :, 0].abs().max() == 0
    assert tex[0, 1, 128, 128] == 1  # solid inside
    inside = tex[0, 0][tex[0, 1] > 0.99]
    assert 0.8 < inside.mean() < 1.0 and inside.std() > 0.01  # visible bristles


def test_shape_range_and_position():
    p = torch.tensor([[[0.25, 0.75, 0.2, 0.1, 0.0, 1.0, 0.0, 0.0]]])
    canvas = torch.zeros(1, 3, 64, 96)
    out = render_oil(p, canvas)
    assert out.shape == (1, 3, 64, 96) and out.min() >= 0 and out.max() <= 1
    # centre at column 24, row 48: red there, nothing far away
    assert out[0, 0, 48, 24] > 0.7 and out[0, 1:, 48, 24].max() == 0
    assert out[0, :, 10, 80].abs().max() == 0
    a = oil_alpha(p, 64, 96)
    assert a.shape == (1, 1, 64, 96)
    # length along x: 0.2 * 64 = 12.8 px long, 6.4 px thick
    cols = (a[0, 0, 48] > 0.5).sum().item()
    rows = (a[0, 0, :, 24] > 0.5).sum().item()
    assert 9 <= cols <= 14 and 4 <= rows <= 7


def test_theta_rotates_clockwise_on_screen():
    # theta = 0.25 -> 45 degrees: length axis points to +x and +y (down-right).
    p = torch.tensor([[[0.5, 0.5, 0.8, 0.05, 0.25, 1.0, 1.0, 1.0]]])
    a = oil_alpha(p, 64, 64)[0, 0]
    assert a[40, 40] > 0.5 and a[16, 48] < 0.01


def test_bad_shape_message():
    with pytest.raises(ValueError, match=r"\(B, N, 8\)"):
        render_oil(torch.rand(1, 3, 5), torch.zeros(1, 3, 8, 8))


def test_gradcheck_float64_small_canvas():
    p = _strokes(2, dtype=torch.float64, max_len=0.3).requires_grad_(True)
    canvas = torch.rand(1, 3, 12, 10, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda q: render_oil(q, canvas, use_boxes=False), (p,), eps=1e-6, atol=1e-4
    )
    assert torch.autograd.gradcheck(
        lambda q: render_oil(q, canvas, use_boxes=True), (p,), eps=1e-6, atol=1e-4
    )


def test_box_path_equals_full_path():
    p = _strokes(40, seed=1)
    p[0, :5, 0] = torch.tensor([0.0, 1.0, 0.02, 0.98, 0.5])  # strokes leaving the canvas
    canvas = torch.rand(1, 3, 70, 90)
    full = render_oil(p, canvas, use_boxes=False)
    boxed = render_oil(p, canvas, use_boxes=True, pixel_budget=3000)  # forces many segments
    assert (full - boxed).abs().max() < 1e-5


def test_boxes_cover_alpha():
    p = _strokes(20, seed=2)
    a = oil_alpha(p, 50, 60)[0]
    for k, (x0, y0, x1, y1) in enumerate(stroke_boxes(p[0], 50, 60).tolist()):
        outside = a[k].clone()
        outside[y0:y1, x0:x1] = 0
        assert outside.max() == 0


def test_parallel_vs_sequential_compositing():
    comp = importlib.import_module("common.compositing")
    p = _strokes(12, seed=3)
    canvas = torch.rand(1, 3, 32, 32)
    intensity, alpha = oil_maps(p, 32, 32)
    colors = intensity[:, :, None] * p[..., 5:8, None, None]  # (B, N, 3, H, W)
    seq = comp.composite_sequential(canvas, colors, alpha[:, :, None])
    par = comp.composite_parallel(canvas, colors, alpha[:, :, None])
    ours = render_oil(p, canvas)
    assert (seq - par).abs().max() < 1e-5
    assert (seq - ours).abs().max() < 1e-5


def test_recovery_by_optimisation():
    torch.manual_seed(0)
    target_p = torch.tensor([[[0.45, 0.55, 0.5, 0.2, 0.3, 0.9, 0.2, 0.1]]])
    canvas = torch.zeros(1, 3, 48, 48)
    target = render_oil(target_p, canvas)
    p = (target_p + torch.tensor([0.06, -0.05, -0.1, 0.05, 0.05, -0.3, 0.3, 0.2])).requires_grad_(True)
    opt = torch.optim.Adam([p], lr=0.01)
    # Decaying step size: with a constant one Adam keeps oscillating around the optimum, and the loss
    # after a fixed number of steps depends on where the oscillation is (it varied across machines).
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 200)
    for _ in range(200):
        opt.zero_grad()
        loss = (render_oil(p.clamp(0, 1), canvas) - target).pow(2).mean()
        loss.backward()
        opt.step()
        schedule.step()
    err = (p.detach() - target_p).abs()[0, 0]
    assert loss.item() < 1e-4
    assert err[:2].max() < 0.01 and err.max() < 0.02  # position, then every parameter


def test_large_canvas_memory_bounded():
    # 300 strokes on 1024 x 1536 would need 300 * 1.5M * 2 floats = 3.8 GB as full maps.
    p = _strokes(300, seed=4, max_len=0.05, max_thk=0.02)
    out = OilRenderer()(p, torch.zeros(1, 3, 1024, 1536))
    assert out.shape == (1, 3, 1024, 1536) and out.max() > 0.1


def test_batch_matches_single():
    p = torch.cat([_strokes(8, seed=5), _strokes(8, seed=6)])
    canvas = torch.rand(2, 3, 40, 40)
    both = render_oil(p, canvas, use_boxes=True)
    for i in range(2):
        assert (both[i] - render_oil(p[i : i + 1], canvas[i : i + 1], use_boxes=False)[0]).abs().max() < 1e-5


def test_svg_matches_tensor_render():
    svg = importlib.import_module("common.svg")
    p = _strokes(6, seed=7, max_len=0.4, max_thk=0.2)
    h, w = 64, 80
    elements = oil_svg_elements(p[0], h, w)
    assert len(elements) == 6 and all(e.startswith("<path") for e in elements)
    doc = svg.svg_document(w, h, elements, background=(1.0, 1.0, 1.0))
    raster = svg.rasterize_svg(doc, w, h)
    ours = render_oil(p, torch.ones(1, 3, h, w))
    assert raster.shape == ours.shape
    assert (raster - ours).abs().mean() < 0.03


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
def test_cuda_matches_cpu():
    p = _strokes(10, seed=8)
    c = torch.rand(1, 3, 32, 32)
    assert (render_oil(p.cuda(), c.cuda()).cpu() - render_oil(p, c)).abs().max() < 1e-4


def test_angle_period():
    p = _strokes(3, seed=9)
    q = p.clone()
    q[..., 4] = q[..., 4] + 1.0  # pi rotation: same stroke up to texture symmetry of the outline
    a, b = oil_alpha(p, 32, 32), oil_alpha(q, 32, 32)
    assert (a - b).abs().mean() < 0.02 * max(1.0, math.pi)


def test_box_path_gradients_match_full_path():
    # Checkpointed segments (small budget) and the in-place box backward give the full path's gradients,
    # for strokes and canvas, and leave the caller's output gradient untouched.
    f64 = torch.float64
    p0 = torch.cat([_strokes(30, seed=10, dtype=f64), _strokes(30, seed=11, dtype=f64)])
    p0[0, :4, 0] = torch.tensor([0.0, 1.0, 0.02, 0.98], dtype=f64)  # strokes leaving the canvas
    c0 = torch.rand(2, 3, 40, 52, dtype=f64)
    g_out = torch.rand(2, 3, 40, 52, dtype=f64)
    grads = []
    for use_boxes, budget in ((False, 1 << 22), (True, 2000)):
        p, c = p0.clone().requires_grad_(True), c0.clone().requires_grad_(True)
        out = render_oil(p, c, use_boxes=use_boxes, pixel_budget=budget)
        kept = g_out.clone()
        out.backward(g_out)
        assert torch.equal(g_out, kept)
        grads.append((out.detach(), p.grad, c.grad))
    for full, boxed in zip(*grads, strict=True):
        assert (full - boxed).abs().max() < 1e-10
