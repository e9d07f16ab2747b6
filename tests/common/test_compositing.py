"""common.compositing: "over" compositing, sequential == parallel, gradients, bounding-box pasting."""

from __future__ import annotations

import pytest
import torch

from common.compositing import (
    box_layers,
    composite_entries,
    composite_in_segments,
    composite_over,
    composite_over_region,
    composite_parallel,
    composite_patches,
    composite_sequential,
)


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


# ----------------------------------------------------------------------------------------------------------
# box-over compositing (composite_entries / composite_patches / box_layers / composite_in_segments)

_B, _H, _W = 2, 9, 11


def _random_patches(gen, m=14, sizes=((3, 4), (5, 2), (6, 6)), dtype=torch.float64, maps=False):
    """Strokes of three patch sizes, placed at random (partly off the canvas), random painting order."""
    order = torch.randperm(m, generator=gen)
    alphas, colors, origins, strokes = [], [], [], []
    for k, (hp, wp) in enumerate(sizes):
        s = order[k :: len(sizes)]
        a = torch.rand(len(s), hp, wp, generator=gen, dtype=dtype)
        a[a < 0.2] = 0.0
        a[a > 0.9] = 1.0  # opaque pixels hide everything below
        alphas.append(a)
        shape = (len(s), 3, hp, wp) if maps else (len(s), 3)
        colors.append(torch.rand(*shape, generator=gen, dtype=dtype))
        o = torch.stack(
            [
                torch.randint(0, _B, (len(s),), generator=gen),
                torch.randint(-2, _H, (len(s),), generator=gen),
                torch.randint(-2, _W, (len(s),), generator=gen),
            ],
            1,
        )
        origins.append(o)
        strokes.append(s)
    return alphas, colors, origins, strokes


def _sequential_reference(canvas, alphas, colors, origins, strokes, m):
    """Every stroke as a full-canvas alpha (and colour map), then one "over" per stroke in stroke order."""
    b, _, h, w = canvas.shape
    full_a = canvas.new_zeros(b, m, 1, h + 20, w + 20)
    full_c = canvas.new_zeros(b, m, 3, h + 20, w + 20)
    for a, c, o, s in zip(alphas, colors, origins, strokes, strict=True):
        hp, wp = a.shape[-2:]
        for j in range(len(s)):
            bi, y, x = o[j].tolist()
            full_a[bi, s[j], 0, y + 10 : y + 10 + hp, x + 10 : x + 10 + wp] = a[j]
            cj = c[j] if c.dim() == 4 else c[j][:, None, None].expand(3, hp, wp)
            full_c[bi, s[j], :, y + 10 : y + 10 + hp, x + 10 : x + 10 + wp] = cj
    crop = (slice(None),) * 3 + (slice(10, 10 + h), slice(10, 10 + w))
    return composite_sequential(canvas, full_c[crop], full_a[crop])


@pytest.mark.parametrize("layer", ["boxes", None])
@pytest.mark.parametrize("maps", [False, True])
def test_box_over_equals_sequential_reference(rng, layer, maps):
    m = 14
    alphas, colors, origins, strokes = _random_patches(rng, m, maps=maps, dtype=torch.float32)
    canvas = torch.rand(_B, 3, _H, _W, generator=rng)
    target = torch.rand(_B, 3, _H, _W, generator=rng)
    leaves = [canvas, *alphas, *colors]
    ref_in = [t.clone().requires_grad_(True) for t in leaves]
    new_in = [t.clone().requires_grad_(True) for t in leaves]
    ref = _sequential_reference(ref_in[0], ref_in[1:4], ref_in[4:7], origins, strokes, m)
    got = composite_patches(new_in[0], new_in[1:4], new_in[4:7], origins, strokes, m, layer=layer)
    assert got.shape == canvas.shape
    assert (got - ref).abs().max().item() < 1e-5
    ((ref - target) ** 2).sum().backward()
    ((got - target) ** 2).sum().backward()
    for k, (r, g) in enumerate(zip(ref_in, new_in, strict=True)):
        # entries of zero alpha are skipped: their alpha gradient is reported as 0 (documented)
        expected = r.grad
        if 1 <= k <= 3:
            expected = torch.where(r.detach() == 0, torch.zeros_like(expected), expected)
        assert (g.grad - expected).abs().max().item() < 1e-4


def test_box_over_gradcheck_float64(rng):
    m = 9
    alphas, colors, origins, strokes = _random_patches(rng, m, sizes=((2, 3), (3, 2)))
    alphas = [a.clamp(0.05, 0.95) for a in alphas]  # finite differences need alpha away from 0 and 1
    inputs = [torch.rand(_B, 3, _H, _W, generator=rng, dtype=torch.float64), *alphas, *colors]
    inputs = [t.requires_grad_(True) for t in inputs]

    def paint(canvas, a0, a1, c0, c1):
        return composite_patches(canvas, [a0, a1], [c0, c1], origins, strokes, m, skip_zero=False)

    assert torch.autograd.gradcheck(paint, tuple(inputs))


def test_entries_known_value_and_layers():
    canvas = torch.zeros(1, 3, 1, 3)
    # stroke 0 red on pixels 0, 1; stroke 1 blue on pixels 1, 2 (a different run order on purpose)
    pix = torch.tensor([2, 1, 0, 1])
    stroke = torch.tensor([1, 1, 0, 0])
    alpha = torch.full((4,), 0.5)
    color = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    out = composite_entries(canvas, pix, alpha, color, stroke, layer=torch.tensor([0, 1]))
    expected = torch.tensor([[0.5, 0.25, 0.0], [0.0, 0.0, 0.0], [0.0, 0.5, 0.5]])  # (C, W)
    torch.testing.assert_close(out[0, :, 0], expected)
    boxes = torch.tensor(
        [[0, 0, 0, 1, 2], [0, 0, 1, 1, 3], [0, 0, 3, 1, 4], [0, 0, 2, 1, 3], [0, 0, 0, 0, 5]]
    )
    # stroke 1 meets 0; stroke 2 meets none; stroke 3 meets 1 (pixel 2); stroke 4 is empty
    assert box_layers(boxes, 1, 1, 4).tolist() == [0, 1, 0, 2, 0]


def test_entries_bad_shapes():
    canvas = torch.zeros(1, 3, 2, 2)
    with pytest.raises(ValueError, match="pix, alpha and stroke"):
        composite_entries(canvas, torch.tensor([0, 1]), torch.rand(3), torch.rand(1, 3), torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="color"):
        composite_entries(canvas, torch.tensor([0]), torch.rand(1), torch.rand(1, 4), torch.tensor([0]))


def test_segments_respect_budget_and_order(rng):
    canvas = torch.rand(1, 3, 4, 4, generator=rng, dtype=torch.float64).requires_grad_(True)
    colors = torch.rand(1, 7, 3, generator=rng, dtype=torch.float64).requires_grad_(True)
    alphas = torch.rand(1, 7, 1, 4, 4, generator=rng, dtype=torch.float64)
    seen = []

    def paint(out, lo, hi):
        seen.append((lo, hi))
        return composite_sequential(out, colors[:, lo:hi], alphas[:, lo:hi])

    cost = [3, 3, 3, 10, 1, 1, 1]
    out = composite_in_segments(canvas, cost, 6, paint)
    assert seen[:4] == [(0, 2), (2, 3), (3, 4), (4, 7)]  # forward; backward recomputes each segment
    torch.testing.assert_close(out, composite_sequential(canvas, colors, alphas))
    assert torch.autograd.gradcheck(lambda c, k: composite_in_segments(c, cost, 6, paint), (canvas, colors))
