"""Differentiable stroke renderers; each format is documented once in its own module (oil, bezier13, curve,
dots) plus the neural FCN renderer. Each owner adds one import line below."""

from common.renderers.bezier13 import Bezier13Renderer, bezier13_alpha, render_bezier13  # noqa: F401
from common.renderers.curve import CurveRenderer, curve_alpha, render_curves  # noqa: F401
from common.renderers.dots import DotsRenderer, dots_alpha, render_dots  # noqa: F401
from common.renderers.neural import FCN_SIZE, FCNRenderer  # noqa: F401
from common.renderers.oil import OilRenderer, oil_alpha, oil_maps, render_oil  # noqa: F401
