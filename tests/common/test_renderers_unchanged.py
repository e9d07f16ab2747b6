"""Every renderer gives the images and gradients of the code before the box-over compositing (issue 11
item 4, issue 12): today's renderers against the same modules at ``scripts.baseline.BASELINE_COMMIT``,
loaded from git history, on random overlapping strokes in float64."""

from __future__ import annotations

import subprocess

import pytest
import torch

from scripts.baseline import BASELINE_COMMIT, load_baseline
from scripts.bench_renderers import make_strokes


def _have_baseline() -> bool:
    try:
        subprocess.run(["git", "cat-file", "-e", BASELINE_COMMIT], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


pytestmark = pytest.mark.skipif(not _have_baseline(), reason="needs a git checkout with the baseline commit")

_CALLS = {
    "oil": lambda m, s, c: m.render_oil(s["params"], c),
    "bezier13": lambda m, s, c: m.render_bezier13(s["params"], c),
    "curve": lambda m, s, c: m.render_curves(s["control_points"], s["widths"], s["colors"], c),
    "dots": lambda m, s, c: m.render_dots(s["centers"], s["radii"], s["colors"], c),
}


def _render_and_grads(module, fmt: str, b: int, n: int, size: int):
    gen = torch.Generator().manual_seed(7)
    strokes = {k: v.double().requires_grad_(True) for k, v in make_strokes(fmt, b, n, size, gen).items()}
    canvas = torch.rand(b, 3, size, size, generator=gen, dtype=torch.float64).requires_grad_(True)
    target = torch.rand(b, 3, size, size, generator=gen, dtype=torch.float64)
    out = _CALLS[fmt](module, strokes, canvas)
    ((out - target) ** 2).sum().backward()
    return out.detach(), [v.grad for v in strokes.values()] + [canvas.grad]


@pytest.mark.parametrize("fmt", ["oil", "bezier13", "curve", "dots"])
@pytest.mark.parametrize("b, n, size", [(2, 12, 32), (1, 150, 96)])
def test_same_images_and_gradients_as_before(fmt, b, n, size):
    torch.set_num_threads(1)
    import importlib

    new = importlib.import_module(f"common.renderers.{fmt}")
    old = load_baseline(f"common.renderers.{fmt}", redirect=("common.compositing",))
    out_new, grads_new = _render_and_grads(new, fmt, b, n, size)
    out_old, grads_old = _render_and_grads(old, fmt, b, n, size)
    assert (out_new - out_old).abs().max().item() < 1e-5
    for g_new, g_old in zip(grads_new, grads_old, strict=True):
        scale = max(1.0, g_old.abs().max().item())
        assert (g_new - g_old).abs().max().item() < 1e-4 * scale
