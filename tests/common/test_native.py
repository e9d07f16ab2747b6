"""The optional native kernels (common/native) against the pure PyTorch reference they replace on the CPU:
bezier13 coverage and box-over compositing, values within 1e-5 and gradients within 1e-4, float32 and
float64, with gradcheck of both paths."""

from __future__ import annotations

import contextlib

import pytest
import torch

from common import native
from common.compositing import composite_entries, composite_patches
from common.renderers.bezier13 import bezier13_alpha, render_bezier13

needs_native = pytest.mark.skipif(
    native.kernels() is None, reason=f"no native kernels: {native.unavailable_reason()}"
)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _strokes(gen, b, n, dtype, spread=0.4, max_r=0.3):
    """Random bezier13 strokes, some partly off the canvas, radii and opacities varying along t."""
    centre = torch.rand(b, n, 1, 2, generator=gen, dtype=dtype) * 1.2 - 0.1
    pts = (centre + spread * (torch.rand(b, n, 3, 2, generator=gen, dtype=dtype) - 0.5)).reshape(b, n, 6)
    r = max_r * torch.rand(b, n, 2, generator=gen, dtype=dtype)
    o = 0.3 + 0.7 * torch.rand(b, n, 2, generator=gen, dtype=dtype)
    return torch.cat([pts, r, o, torch.rand(b, n, 3, generator=gen, dtype=dtype)], -1)


def _render_grads(params, canvas, target, **kw):
    p, c = params.clone().requires_grad_(True), canvas.clone().requires_grad_(True)
    out = render_bezier13(p, c, **kw)
    ((out - target) ** 2).sum().backward()
    return out.detach(), p.grad, c.grad


@needs_native
@pytest.mark.parametrize("real", [torch.float32, torch.float64])
@pytest.mark.parametrize("b, n, h, w, layers", [(3, 40, 64, 48, "index"), (1, 300, 80, 96, "boxes")])
def test_bezier13_native_equals_torch(real, b, n, h, w, layers):
    dtype = real
    gen = torch.Generator().manual_seed(3)
    params = _strokes(gen, b, n, dtype)
    canvas = torch.rand(b, 3, h, w, generator=gen, dtype=dtype)
    target = torch.rand(b, 3, h, w, generator=gen, dtype=dtype)
    ref = _render_grads(params, canvas, target, backend="torch", layers=layers)
    got = _render_grads(params, canvas, target, backend="auto", layers=layers, max_entries=20_000)
    assert (got[0] - ref[0]).abs().max().item() < 1e-5
    for g, r in zip(got[1:], ref[1:], strict=True):
        assert (g - r).abs().max().item() < 1e-4 * max(1.0, r.abs().max().item())
    alpha_ref = bezier13_alpha(params, h, w, backend="torch")
    assert (bezier13_alpha(params, h, w) - alpha_ref).abs().max().item() < 1e-5
    assert alpha_ref.amax().item() > 0.5  # the strokes do cover pixels


@needs_native
@pytest.mark.parametrize("backend", ["torch", "auto"])
def test_bezier13_gradcheck_float64_both_paths(backend):
    gen = torch.Generator().manual_seed(1)
    p = _strokes(gen, 1, 3, torch.float64, spread=0.6)
    p[..., 6:8] = 0.15 + 0.2 * torch.rand(1, 3, 2, generator=gen, dtype=torch.float64)
    p.requires_grad_(True)
    canvas = torch.rand(1, 3, 12, 16, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda q: bezier13_alpha(q, 12, 16, backend=backend), (p,), eps=1e-6, atol=1e-4
    )
    assert torch.autograd.gradcheck(
        lambda q, c: render_bezier13(q, c, backend=backend), (p, canvas), eps=1e-6, atol=1e-4
    )


@needs_native
@pytest.mark.parametrize("per_entry", [False, True])
@pytest.mark.parametrize("real", [torch.float32, torch.float64])
def test_composite_entries_native_equals_torch(per_entry, real):
    """Random overlapping entries given out of stroke order (several runs per stroke): same image and
    gradients (canvas, alpha, colour) from the C loop and from the layered reference."""
    gen, dtype = torch.Generator().manual_seed(5), real
    b, h, w, m, e_per = 2, 9, 11, 30, 25
    pix = torch.stack([torch.randperm(b * h * w, generator=gen)[:e_per] for _ in range(m)])  # (M, e) unique
    stroke = torch.arange(m)[:, None].expand(m, e_per)
    split = torch.randperm(m * e_per // 5, generator=gen)  # runs of 5 entries, shuffled
    order = (split[:, None] * 5 + torch.arange(5)).reshape(-1)
    pix, stroke = pix.reshape(-1)[order], stroke.reshape(-1)[order]
    alpha = torch.rand(pix.numel(), generator=gen, dtype=dtype)
    alpha[alpha > 0.9] = 1.0
    color = torch.rand(pix.numel() if per_entry else m, 3, generator=gen, dtype=dtype)
    canvas = torch.rand(b, 3, h, w, generator=gen, dtype=dtype)
    target = torch.rand(b, 3, h, w, generator=gen, dtype=dtype)
    results = []
    for backend in ("torch", "auto"):
        leaves = [t.clone().requires_grad_(True) for t in (canvas, alpha, color)]
        out = composite_entries(
            leaves[0], pix, leaves[1], leaves[2], stroke, per_entry_color=per_entry, backend=backend
        )
        ((out - target) ** 2).sum().backward()
        results.append((out.detach(), *(t.grad for t in leaves)))
    for got, ref in zip(results[1], results[0], strict=True):
        assert (got - ref).abs().max().item() < 1e-5


@needs_native
def test_composite_patches_native_gradcheck():
    gen = torch.Generator().manual_seed(2)
    alphas = [0.05 + 0.9 * torch.rand(3, 2, 3, generator=gen, dtype=torch.float64) for _ in range(2)]
    colors = [
        torch.rand(3, 3, generator=gen, dtype=torch.float64),
        torch.rand(3, 3, 2, 3, generator=gen, dtype=torch.float64),
    ]
    origins = [
        torch.tensor([[0, 0, 0], [0, 1, 1], [1, -1, 2]]),
        torch.tensor([[0, 1, 0], [1, 0, 0], [0, 2, 2]]),
    ]
    strokes = [torch.tensor([0, 2, 4]), torch.tensor([1, 3, 5])]
    canvas = torch.rand(2, 3, 4, 5, generator=gen, dtype=torch.float64)
    inputs = tuple(t.requires_grad_(True) for t in (canvas, *alphas, *colors))

    def paint(c, a0, a1, c0, c1):
        return composite_patches(c, [a0, a1], [c0, c1], origins, strokes, 6, skip_zero=False)

    assert torch.autograd.gradcheck(paint, inputs)


def test_disabled_by_environment(monkeypatch):
    """STROKELAB_NATIVE=0: no library, a reason, and the renderers still work (pure path)."""
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("STROKELAB_NATIVE", "0")
    assert native.kernels() is None
    assert "STROKELAB_NATIVE" in native.unavailable_reason()
    gen = torch.Generator().manual_seed(0)
    params = _strokes(gen, 1, 5, torch.float32)
    out = render_bezier13(params, torch.ones(1, 3, 16, 16))
    torch.testing.assert_close(out, render_bezier13(params, torch.ones(1, 3, 16, 16), backend="torch"))
    assert (out < 1).any()


def test_usable_only_for_cpu_float32_float64():
    assert not native.usable(torch.zeros(2, dtype=torch.float16))
    assert not native.usable(torch.zeros(2, dtype=torch.float32), torch.zeros(2, dtype=torch.float64))
    assert native.usable(torch.zeros(2)) == (native.kernels() is not None)


@needs_native
@pytest.mark.parametrize("real", [torch.float32, torch.float64])
@pytest.mark.parametrize("tapered", [False, True])
def test_curve_native_equals_torch(real, tapered):
    """curve: the chord selection in C gives the image and gradients of the PyTorch selection."""
    from common.renderers.curve import render_curves

    gen = torch.Generator().manual_seed(4)
    b, n, size = 2, 40, 64
    cp = (torch.rand(b, n, 1, 2, generator=gen) + 0.4 * (torch.rand(b, n, 4, 2, generator=gen) - 0.5)).to(
        real
    )
    widths = (0.02 + 0.08 * torch.rand(b, n, *((5,) if tapered else ()), generator=gen)).to(real)
    colors = torch.rand(b, n, 4, generator=gen).to(real)
    canvas = torch.rand(b, 3, size, size, generator=gen).to(real)
    target = torch.rand(b, 3, size, size, generator=gen).to(real)
    results = []
    for pure in (True, False):
        leaves = [t.clone().requires_grad_(True) for t in (cp, widths, colors, canvas)]
        with native.disabled() if pure else contextlib.nullcontext():
            out = render_curves(*leaves[:3], leaves[3], chunk_size=16)
        ((out - target) ** 2).sum().backward()
        results.append((out.detach(), *(t.grad for t in leaves)))
    assert results[0][0].sub(canvas).abs().amax().item() > 0.1  # the strokes paint something
    for got, ref in zip(results[1], results[0], strict=True):
        assert (got - ref).abs().max().item() < 1e-4 * max(1.0, ref.abs().max().item())


@needs_native
def test_composite_entries_native_rejects_out_of_range_indices():
    """The C loop reads and writes at these indices: out-of-range ones raise instead."""
    canvas, alpha, color = torch.zeros(1, 3, 2, 2), torch.full((2,), 0.5), torch.rand(2, 3)
    with pytest.raises(ValueError, match="pix must be in"):
        composite_entries(canvas, torch.tensor([0, 4]), alpha, color, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="stroke in"):
        composite_entries(canvas, torch.tensor([0, 1]), alpha, color, torch.tensor([0, 2]))
