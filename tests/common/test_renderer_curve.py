"""Tests of the ``curve`` renderer (cubic Beziers, signed-distance anti-aliasing)."""

import importlib

import pytest
import torch

from common.errors import StrokeFormatError
from common.renderers.curve import (
    PARAM_NAMES,
    CurveRenderer,
    curve_alpha,
    curves_from_rows,
    curves_to_rows,
    diffvg_available,
    render_curves,
)


def _strokes(b=1, n=6, seed=0, width_px=2.0, size=64, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    start = torch.rand(b, n, 1, 2, generator=g, dtype=dtype) * 0.6 + 0.2
    walk = (torch.rand(b, n, 4, 2, generator=g, dtype=dtype) - 0.5) * 0.15
    walk[:, :, 0] = 0
    cp = start + walk.cumsum(2)  # (B, N, 4, 2)
    widths = torch.full((b, n), width_px / size, dtype=dtype)
    colors = torch.rand(b, n, 4, generator=g, dtype=dtype)
    colors[..., 3] = 1.0
    return cp, widths, colors


def test_shapes_range_and_dark_line():
    cp, w, col = _strokes(b=2, n=5)
    col[..., :3] = 0.0
    canvas = torch.ones(2, 3, 64, 48)
    out = render_curves(cp, w, col, canvas)
    assert out.shape == (2, 3, 64, 48) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert (out < 0.5).any(), "black strokes must darken the white canvas"
    alpha = curve_alpha(cp, w, 64, 48)
    assert alpha.shape == (2, 5, 64, 48) and alpha.min() >= 0 and alpha.max() <= 1


def test_zero_strokes_leave_the_canvas_unchanged():
    cp, widths, colors = _strokes(b=2, n=0)
    canvas = torch.rand(2, 3, 16, 20)
    out = render_curves(cp, widths, colors, canvas)
    assert out.shape == canvas.shape and torch.equal(out, canvas) and out.data_ptr() != canvas.data_ptr()


def test_straight_line_width_and_coverage():
    # A horizontal line along y = 16.5 px (row 16's centre) with width 3 px covers exactly rows 15..17.
    size = 32
    cp = torch.tensor([[[[4, 16.5], [12, 16.5], [20, 16.5], [28, 16.5]]]], dtype=torch.float64) / size
    alpha = curve_alpha(cp, torch.tensor([[3.0 / size]], dtype=torch.float64), size, size)[0, 0]
    col = alpha[:, 16]
    assert torch.allclose(col[15:18], torch.ones(3, dtype=torch.float64))
    assert col[14] == 0 and col[18] == 0
    # Sum of coverage along a column = width in pixels (box-filtered edges).
    off_grid = torch.tensor([[[[4, 16.3], [12, 16.3], [20, 16.3], [28, 16.3]]]], dtype=torch.float64) / size
    a2 = curve_alpha(off_grid, torch.tensor([[2.4 / size]], dtype=torch.float64), size, size)[0, 0]
    assert abs(a2[:, 16].sum().item() - 2.4) < 1e-6


def test_tapered_width_profile():
    size = 64
    cp = torch.tensor([[[[8, 32], [24, 32], [40, 32], [56, 32]]]], dtype=torch.float32) / size
    taper = torch.tensor([[[1.0, 9.0, 1.0]]]) / size  # (B, N, T): thin - thick - thin
    a = curve_alpha(cp, taper, size, size)[0, 0]
    thick_mid = a[:, 32].sum()
    thick_end = a[:, 12].sum()
    assert thick_mid > 7.5 and thick_end < 4.0


def test_bad_shapes_raise_format_error():
    cp, w, col = _strokes()
    with pytest.raises(StrokeFormatError, match="curve format"):
        render_curves(cp[..., :3, :], w, col, torch.ones(1, 3, 16, 16))
    with pytest.raises(StrokeFormatError, match="widths"):
        render_curves(cp, w[:, :2], col, torch.ones(1, 3, 16, 16))
    with pytest.raises(StrokeFormatError, match="colors"):
        render_curves(cp, w, col[..., :3], torch.ones(1, 3, 16, 16))
    with pytest.raises(StrokeFormatError, match="canvas"):
        render_curves(cp, w, col, torch.ones(2, 3, 16, 16))


def test_gradcheck_float64_small_canvas():
    cp, w, col = _strokes(n=2, width_px=3.0, size=12, dtype=torch.float64, seed=3)
    w = torch.stack([w, w * 1.5, w * 0.7], -1)  # tapered, (B, N, 3)
    col[..., 3] = 0.8
    canvas = torch.rand(1, 3, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    cp.requires_grad_(True)
    w.requires_grad_(True)
    col.requires_grad_(True)

    def f(cp_, w_, col_):
        return render_curves(cp_, w_, col_, canvas)

    assert torch.autograd.gradcheck(f, (cp, w, col), eps=1e-6, atol=1e-5)

    def one_stroke_segments(cp_, w_, col_):  # every stroke its own checkpointed segment
        return render_curves(cp_, w_, col_, canvas, chunk_size=1, max_entries=1)

    assert torch.autograd.gradcheck(one_stroke_segments, (cp, w, col), eps=1e-6, atol=1e-5)


def test_chunked_equals_dense_sequential_and_parallel():
    cp, w, col = _strokes(b=2, n=9, seed=5, size=40)
    col[..., 3] = 0.7
    canvas = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    out_chunk1 = render_curves(cp, w, col, canvas, chunk_size=1)
    out_chunk4 = render_curves(cp, w, col, canvas, chunk_size=4)
    alpha = curve_alpha(cp, w, 40, 40) * col[..., 3, None, None]  # (B, N, H, W)
    ref = canvas.clone()
    for i in range(9):  # sequential "over", written out
        a = alpha[:, i : i + 1]
        ref = ref * (1 - a) + col[:, i, :3, None, None] * a
    assert torch.allclose(out_chunk1, ref, atol=1e-5)
    assert torch.allclose(out_chunk4, ref, atol=1e-5)
    compositing = importlib.import_module("common.compositing")
    seq = compositing.composite_sequential(canvas, col[..., :3], alpha.unsqueeze(2))  # core, (B, N, 1, H, W)
    par = compositing.composite_parallel(canvas, col[..., :3], alpha.unsqueeze(2))
    assert torch.allclose(seq, out_chunk4, atol=1e-5)
    assert torch.allclose(par, out_chunk4, atol=1e-5)


def test_large_canvas_is_memory_bounded():
    cp, w, col = _strokes(n=300, seed=2, size=1024, width_px=3.0)
    out = render_curves(cp, w, col, torch.ones(1, 3, 1024, 1024), chunk_size=32)
    assert out.shape == (1, 3, 1024, 1024) and (out < 1).any()


def test_recovery_of_perturbed_strokes():
    torch.manual_seed(0)
    size = 48
    cp_t, w, col = _strokes(n=3, seed=7, size=size, width_px=4.0)
    col[..., :3] = 0.0
    canvas = torch.ones(1, 3, size, size)
    target = render_curves(cp_t, w, col, canvas)
    cp = (cp_t + (torch.rand_like(cp_t) - 0.5) * 3.0 / size).requires_grad_(True)
    opt = torch.optim.Adam([cp], lr=0.3 / size)
    loss0 = None
    for _ in range(150):
        opt.zero_grad()
        loss = ((render_curves(cp, w, col, canvas) - target) ** 2).mean()
        loss0 = loss0 if loss0 is not None else loss.item()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * loss0
    assert (cp.detach() - cp_t).abs().mul(size).mean() < 1.0  # within a pixel on average


def test_rows_round_trip_and_module():
    cp, w, col = _strokes(n=4)
    rows = curves_to_rows(cp[0], w[0], col[0])
    assert rows.shape == (4, len(PARAM_NAMES)) == (4, 13)
    cp2, w2, col2 = curves_from_rows(rows)
    assert torch.equal(cp2, cp[0]) and torch.equal(w2, w[0]) and torch.equal(col2, col[0])
    with pytest.raises(StrokeFormatError):
        curves_from_rows(rows[:, :12])
    out = CurveRenderer()(cp, w, col, torch.ones(1, 3, 32, 32))
    assert torch.allclose(out, render_curves(cp, w, col, torch.ones(1, 3, 32, 32)))


def test_svg_rasterization_matches_tensor_render():
    svg = importlib.import_module("common.svg")
    size = 96
    cp, w, col = _strokes(n=12, seed=11, size=size, width_px=2.5)
    col[..., :3] = 0.0
    ref = render_curves(cp, w, col, torch.ones(1, 3, size, size))
    text = svg.strokes_to_svg("curve", curves_to_rows(cp[0], w[0], col[0]), size, size, background=[1, 1, 1])
    raster = svg.rasterize_svg(text, size, size)
    assert raster.shape == ref.shape
    assert (raster - ref).abs().mean() < 0.01
    # The dark ink mass agrees within 10 %.
    ink_ref, ink_svg = (1 - ref).sum(), (1 - raster).sum()
    assert abs(ink_ref - ink_svg) < 0.1 * ink_ref


def test_tapered_svg_matches_tensor_render():
    svg = importlib.import_module("common.svg")
    size = 96
    cp, w, col = _strokes(n=5, seed=4, size=size, width_px=3.0)
    col[..., :3] = 0.0
    profile = torch.stack([w * 0.3, w * 2.0, w * 0.3], -1)  # (B, N, 3) thin - thick - thin
    ref = render_curves(cp, profile, col, torch.ones(1, 3, size, size))
    rows = curves_to_rows(cp[0], profile[0], col[0])
    text = svg.strokes_to_svg("curve", rows, size, size, background=[1, 1, 1], widths=profile[0])
    raster = svg.rasterize_svg(text, size, size)
    assert (raster - ref).abs().mean() < 0.01


@pytest.mark.skipif(not diffvg_available(), reason="pydiffvg is not installed (cannot be installed here)")
def test_diffvg_backend_agrees_with_torch():
    size = 64
    cp, w, col = _strokes(n=6, size=size, width_px=2.0)
    canvas = torch.ones(1, 3, size, size)
    a = render_curves(cp, w, col, canvas, backend="diffvg")
    b = render_curves(cp, w, col, canvas, backend="torch")
    assert (a - b).abs().mean() < 0.02
