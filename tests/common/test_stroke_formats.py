"""The stroke-format registry (common.strokes): same JSON and SVG bytes as the code before it, one source
of parameter names for the renderers, the JSON writer and the SVG writer.

tests/data/stroke_formats/ holds five strokes per format (inputs.json) and the strokes.json / SVG that
main at 359d920 wrote for them (``save_strokes(path, fmt, rows, 48, 64, background=[1, 1, 1],
extra={"k": 1})`` and ``strokes_to_svg(fmt, rows, 48, 64, background=[1, 1, 1])``)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import torch

from common.errors import StrokeFormatError
from common.image_io import STROKE_PARAM_NAMES, load_strokes, save_strokes
from common.strokes import STROKE_FORMATS, stroke_format
from common.svg import strokes_to_svg

DATA = Path(__file__).resolve().parents[1] / "data" / "stroke_formats"
INPUTS = json.loads((DATA / "inputs.json").read_text())


@pytest.mark.parametrize("fmt", sorted(INPUTS))
def test_json_and_svg_bytes_unchanged(fmt, tmp_path):
    rows = torch.tensor(INPUTS[fmt])
    save_strokes(tmp_path / "s.json", fmt, rows, 48, 64, background=[1.0, 1.0, 1.0], extra={"k": 1})
    assert (tmp_path / "s.json").read_text() == (DATA / f"{fmt}.json").read_text()
    assert strokes_to_svg(fmt, rows, 48, 64, background=[1.0, 1.0, 1.0]) == (DATA / f"{fmt}.svg").read_text()
    back = load_strokes(tmp_path / "s.json")
    assert back.fmt == fmt and tuple(back.param_names) == stroke_format(fmt).param_names


def test_registry_has_the_four_formats_and_is_the_one_table():
    assert sorted(STROKE_FORMATS) == ["bezier13", "curve", "dots", "oil"]
    for name, f in STROKE_FORMATS.items():
        module = importlib.import_module(f.renderer)
        assert module.FORMAT == name
        assert module.PARAM_NAMES is f.param_names  # the renderer's table is the registry's
        assert STROKE_PARAM_NAMES[name] == f.param_names  # image_io's old name is an alias
        assert len(f.ranges) == f.num_params


@pytest.mark.parametrize("fmt", sorted(INPUTS))
def test_registry_render_matches_the_renderer(fmt):
    rows = torch.tensor(INPUTS[fmt])[None]  # (1, 5, P)
    canvas = torch.ones(1, 3, 48, 64)
    got = stroke_format(fmt).render(rows, canvas)
    if fmt == "oil":
        from common.renderers.oil import render_oil as direct
    elif fmt == "bezier13":
        from common.renderers.bezier13 import render_bezier13 as direct
    elif fmt == "curve":
        from common.renderers.curve import curves_from_rows, render_curves

        def direct(r, c):
            cp, w, col = curves_from_rows(r[0])
            return render_curves(cp[None], w[None], col[None], c)
    else:
        from common.renderers.dots import render_dots

        def direct(r, c):
            return render_dots(r[..., :2], r[..., 2], r[..., 3:6], c)

    want = direct(rows, canvas)
    assert got.shape == (1, 3, 48, 64) and torch.allclose(got, want)
    assert (got - canvas).abs().mean() > 1e-3  # the strokes left paint


def test_unknown_format_and_wrong_width_name_the_format():
    with pytest.raises(StrokeFormatError, match="known: oil, bezier13, curve, dots"):
        stroke_format("brush")
    with pytest.raises(StrokeFormatError, match=r"oil strokes must be \(N, 8\) = \(x, y, w, h, theta"):
        stroke_format("oil").check_rows(torch.rand(3, 7))
