"""The stroke-format registry: one record per format (name, parameter names, ranges, render, SVG, JSON rows).

Shape letters: B batch, N strokes, P parameters per stroke, H, W canvas size in pixels.

Every stroke file (``strokes.json``), SVG export and renderer dispatch reads its format from
:data:`STROKE_FORMATS`; the formats themselves are documented once, in their renderer modules:

=========  ==  ============================================================  ==========================
format     P   row (one stroke, normalised: x = column / W, y = row / H)     renderer
=========  ==  ============================================================  ==========================
oil        8   x, y, w, h, theta, R, G, B (sizes: fraction of min(H, W))     ``common.renderers.oil``
bezier13   13  x0, y0, x1, y1, x2, y2, r0, r2, t0, t2, R, G, B               ``common.renderers.bezier13``
curve      13  x0, y0, x1, y1, x2, y2, x3, y3, width, R, G, B, A             ``common.renderers.curve``
dots       6   x, y, radius, R, G, B (radius: fraction of min(H, W))         ``common.renderers.dots``
=========  ==  ============================================================  ==========================

Importing this module imports no renderer: each record names its render and SVG functions, which are
imported when first called.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from common.errors import StrokeFormatError

__all__ = ["StrokeFormat", "STROKE_FORMATS", "stroke_format", "param_names", "rows_to_json"]


def rows_to_json(rows: torch.Tensor) -> list[list[float]]:
    """``(N, P)`` rows -> lists of floats rounded to 6 decimals, in painting order (``strokes.json``)."""
    return [[round(float(v), 6) for v in row] for row in rows.tolist()]


def _resolve(ref: str) -> Callable:
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


def _curve_render(rows: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
    from common.renderers.curve import curves_from_rows, render_curves

    b, n, _ = rows.shape
    cp, widths, colors = curves_from_rows(rows.reshape(b * n, -1))  # (B*N, 4, 2), (B*N,), (B*N, 4)
    return render_curves(cp.view(b, n, 4, 2), widths.view(b, n), colors.view(b, n, 4), canvas)


def _dots_render(rows: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
    from common.renderers.dots import render_dots

    return render_dots(rows[..., 0:2], rows[..., 2], rows[..., 3:6], canvas)


@dataclass(frozen=True)
class StrokeFormat:
    """One stroke format.

    Attributes:
        name: format name written in every stroke JSON (``"oil"``, ``"bezier13"``, ``"curve"``, ``"dots"``).
        param_names: the P column names of a stroke row, in order.
        ranges: per parameter the documented ``(low, high)`` range (None: unbounded, e.g. off-canvas control
            points); the renderers' inputs, not enforced here.
        renderer: module that documents the format and renders it.
        render_ref, svg_ref: ``"module:function"`` of the tensor renderer and of the SVG element writer.
        extra_widths: further accepted row widths (``dots`` with an opacity column: 7).
    """

    name: str
    param_names: tuple[str, ...]
    ranges: tuple[tuple[float | None, float | None], ...]
    renderer: str
    render_ref: str | Callable
    svg_ref: str
    extra_widths: tuple[int, ...] = ()

    @property
    def num_params(self) -> int:
        """P, the values per stroke row."""
        return len(self.param_names)

    def check_rows(
        self, params: torch.Tensor | np.ndarray, names: Sequence[str] | None = None
    ) -> torch.Tensor:
        """``(N, P)`` (or ``(1, N, P)``) rows as a float32 CPU tensor ``(N, P)``.

        Raises:
            StrokeFormatError: wrong shape; the message names the format's columns.
        """
        t = torch.as_tensor(params).detach().float().cpu()
        if t.dim() == 3 and t.shape[0] == 1:
            t = t[0]
        cols = list(names) if names is not None else list(self.param_names)
        if t.dim() != 2 or t.shape[1] != len(cols):
            shape = tuple(t.shape)
            raise StrokeFormatError(
                f"{self.name} strokes must be (N, {len(cols)}) = ({', '.join(cols)}), got {shape}"
            )
        return t

    def json_rows(self, params: torch.Tensor | np.ndarray, names: Sequence[str] | None = None) -> list:
        """Rows for ``strokes.json`` (:func:`rows_to_json` of the checked rows)."""
        return rows_to_json(self.check_rows(params, names))

    def render(self, params: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
        """Composite ``(B, N, P)`` strokes over ``canvas (B, 3, H, W)`` in [0, 1] with the format's renderer
        (differentiable); returns ``(B, 3, H, W)``."""
        fn = _resolve(self.render_ref) if isinstance(self.render_ref, str) else self.render_ref
        return fn(params, canvas)

    def svg_elements(self, params, height: int, width: int, **options) -> list[str]:
        """SVG element strings of ``(N, P)`` rows on an ``H x W`` canvas (``common.svg``'s writer)."""
        return _resolve(self.svg_ref)(params, height, width, **options)


_UNIT = (0.0, 1.0)
_FREE = (None, None)

#: Every stroke format by name.
STROKE_FORMATS: dict[str, StrokeFormat] = {
    f.name: f
    for f in (
        StrokeFormat(
            "oil",
            ("x", "y", "w", "h", "theta", "R", "G", "B"),
            (_UNIT,) * 8,
            "common.renderers.oil",
            "common.renderers.oil:render_oil",
            "common.svg:oil_to_svg_elements",
        ),
        StrokeFormat(
            "bezier13",
            ("x0", "y0", "x1", "y1", "x2", "y2", "r0", "r2", "t0", "t2", "R", "G", "B"),
            (_UNIT,) * 13,
            "common.renderers.bezier13",
            "common.renderers.bezier13:render_bezier13",
            "common.svg:bezier13_to_svg_elements",
        ),
        StrokeFormat(
            "curve",
            ("x0", "y0", "x1", "y1", "x2", "y2", "x3", "y3", "width", "R", "G", "B", "A"),
            (_FREE,) * 8 + ((0.0, 1.0),) * 5,
            "common.renderers.curve",
            _curve_render,
            "common.svg:curves_to_svg_elements",
        ),
        StrokeFormat(
            "dots",
            ("x", "y", "radius", "R", "G", "B"),
            (_UNIT,) * 6,
            "common.renderers.dots",
            _dots_render,
            "common.svg:dots_to_svg_elements",
            extra_widths=(7,),
        ),
    )
}


def stroke_format(name: str) -> StrokeFormat:
    """The registry record of ``name``.

    Raises:
        StrokeFormatError: unknown format (the message lists the known ones).
    """
    if not isinstance(name, str) or name not in STROKE_FORMATS:
        raise StrokeFormatError(f"unknown stroke format {name!r} (known: {', '.join(STROKE_FORMATS)})")
    return STROKE_FORMATS[name]


def param_names(name: str) -> tuple[str, ...]:
    """The parameter names of format ``name`` (raises :class:`StrokeFormatError` when unknown)."""
    return stroke_format(name).param_names
