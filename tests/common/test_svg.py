"""common.svg: document layout, rasterisation of known shapes, each stroke format, SVG vs tensor render."""

from __future__ import annotations

import importlib
import math

import pytest
import torch

from common.errors import StrokeFormatError
from common.svg import (
    bezier13_to_svg_elements,
    dots_to_svg,
    rasterize_svg,
    strokes_to_svg,
    svg_color,
    svg_document,
    write_svg,
)

WHITE = (1.0, 1.0, 1.0)


def test_known_circle():
    svg = svg_document(64, 48, ['<circle cx="32" cy="20" r="10" fill="#000000"/>'], background=WHITE)
    img = rasterize_svg(svg, 64, 48)
    assert img.shape == (1, 3, 48, 64) and img.dtype == torch.float32
    ink = (1 - img[0, 0]).sum().item()
    assert ink == pytest.approx(math.pi * 100, rel=0.01)
    assert img[0, :, 20, 32].max() < 0.01 and img[0, :, 0, 0].min() > 0.99
    assert torch.allclose(img[0, 0], img[0, 0].flip(1), atol=0.08)  # symmetric about x = 32


def test_transparent_background_is_white_and_scaling():
    img = rasterize_svg(
        svg_document(10, 10, ['<rect x="0" y="0" width="5" height="10" fill="#ff0000"/>']), 20, 20
    )
    assert torch.allclose(img[0, :, 10, 2], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(img[0, :, 10, 17], torch.ones(3))


def test_colors_and_document_attributes(tmp_path):
    assert svg_color((1, 0.5, 0)) == "#ff8000" and svg_color((2, -1, 0)) == "#ff0000"
    rows = torch.tensor([[0.5, 0.5, 0.1, 0.0, 0.0, 0.0]])
    text = dots_to_svg(rows, 150, 200, size_mm=100)
    assert 'width="100mm"' in text and 'height="75mm"' in text and 'viewBox="0 0 200 150"' in text
    path = write_svg(tmp_path / "d.svg", text)
    assert path.read_text() == text and [p.name for p in tmp_path.iterdir()] == ["d.svg"]


def test_format_errors():
    with pytest.raises(StrokeFormatError, match="unknown stroke format"):
        strokes_to_svg("pastel", torch.rand(2, 5), 10, 10)
    for fmt, width in [("oil", 7), ("bezier13", 12), ("curve", 8), ("dots", 5)]:
        with pytest.raises(StrokeFormatError, match=fmt):
            strokes_to_svg(fmt, torch.rand(2, width), 10, 10)


def _b13(x0, y0, x1, y1, x2, y2, r0, r2, t0, t2, rgb=(0.0, 0.0, 0.0)):
    return torch.tensor([[x0, y0, x1, y1, x2, y2, r0, r2, t0, t2, *rgb]])


def test_bezier13_constant_opacity_is_uniform():
    # horizontal stroke on a 128 canvas, r = 0.25 -> radius (0.5 + 8) / 128 * 128 = 8.5 px, opacity 0.5
    params = _b13(0.2, 0.5, 0.5, 0.5, 0.8, 0.5, 0.25, 0.25, 0.5, 0.5)
    img = rasterize_svg(strokes_to_svg("bezier13", params, 128, 128, background=WHITE), 128, 128)[0, 0]
    centre_row = img[64, 30:98]
    assert (centre_row - 0.5).abs().max() < 0.01  # overlapping segment caps are not painted twice
    column = img[:, 64]
    assert ((column < 0.75).sum().item()) == pytest.approx(17, abs=1)  # 2 * 8.5 px wide


def test_bezier13_varying_radius_and_opacity():
    params = _b13(0.2, 0.5, 0.5, 0.5, 0.8, 0.5, 0.1, 0.4, 1.0, 0.2)
    img = rasterize_svg(strokes_to_svg("bezier13", params, 128, 128, background=WHITE), 128, 128)[0, 0]
    for col in (30, 64, 98):  # opacity 1 -> 0.2 along t = (x - x0) / (x2 - x0), black on white
        t = (col + 0.5 - 0.2 * 128) / (0.6 * 128)
        assert img[64, col].item() == pytest.approx(1.0 - (1.0 - 0.8 * t), abs=0.02)
    width_start = (img[:, 30] < 0.5).sum().item()
    width_end = (img[:, 98] < 0.9).sum().item()
    assert width_end > width_start
    assert len(bezier13_to_svg_elements(params, 128, 128, segments=5)) == 1


def test_curve_rows_and_tapered_widths():
    rows = torch.tensor([[0.1, 0.5, 0.4, 0.2, 0.6, 0.8, 0.9, 0.5, 0.05, 0.0, 0.0, 0.0, 1.0]])
    text = strokes_to_svg("curve", rows, 100, 100)
    assert 'stroke-linecap="round"' in text and " C" in text
    plain = rasterize_svg(text, 100, 100)
    tapered = rasterize_svg(
        strokes_to_svg("curve", rows, 100, 100, widths=torch.tensor([[0.1, 0.0]])), 100, 100
    )
    assert (1 - plain).sum() > 0 and (1 - tapered).sum() > 0
    with pytest.raises(StrokeFormatError, match="widths"):
        strokes_to_svg("curve", rows, 100, 100, widths=torch.rand(3, 2))


def _renderer(name: str):
    return importlib.import_module(f"common.renderers.{name}")  # an import error fails the test


def _mean_diff(svg_text: str, ref: torch.Tensor) -> float:
    h, w = ref.shape[-2:]
    return (rasterize_svg(svg_text, w, h) - ref).abs().mean().item()


H, W = 72, 96


def test_svg_matches_tensor_render_dots(rng):
    dots = _renderer("dots")
    centers, radii, colors = (
        torch.rand(1, 15, 2, generator=rng),
        0.01 + 0.05 * torch.rand(1, 15, generator=rng),
        torch.rand(1, 15, 3, generator=rng),
    )
    ref = dots.render_dots(centers, radii, colors, torch.ones(1, 3, H, W))
    rows = torch.cat([centers[0], radii[0, :, None], colors[0]], 1)
    assert _mean_diff(strokes_to_svg("dots", rows, H, W, background=WHITE), ref) < 0.005


def test_svg_matches_tensor_render_bezier13(rng):
    b13 = _renderer("bezier13")
    params = torch.rand(1, 6, 13, generator=rng)
    params[..., 6:8] *= 0.3
    ref = b13.render_bezier13(params, torch.ones(1, 3, H, W))
    assert _mean_diff(strokes_to_svg("bezier13", params[0], H, W, background=WHITE), ref) < 0.01


def test_svg_matches_tensor_render_curve(rng):
    curve = _renderer("curve")
    cp = torch.rand(1, 5, 4, 2, generator=rng)
    widths = 0.01 + 0.03 * torch.rand(1, 5, generator=rng)
    colors = torch.rand(1, 5, 4, generator=rng)
    ref = curve.render_curves(cp, widths, colors, torch.ones(1, 3, H, W))
    rows = torch.cat([cp[0].reshape(5, 8), widths[0, :, None], colors[0]], 1)
    assert _mean_diff(strokes_to_svg("curve", rows, H, W, background=WHITE), ref) < 0.005


def test_svg_matches_tensor_render_oil(rng):
    oil = _renderer("oil")
    params = torch.rand(1, 6, 8, generator=rng)
    params[..., 2:4] = 0.05 + 0.3 * params[..., 2:4]
    ref = oil.render_oil(params, torch.ones(1, 3, H, W))
    assert _mean_diff(strokes_to_svg("oil", params[0], H, W, background=WHITE), ref) < 0.01
