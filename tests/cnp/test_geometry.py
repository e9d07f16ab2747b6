"""Boxes, patch <-> canvas stroke mapping, region schedule and rewards of the CNP compositor."""

import torch

from common.renderers.oil import render_oil
from compositor.env import phasic_reward, schedule, teacher_box
from compositor.model import action_to_box, crop_boxes, patch_to_canvas, sub_box


def test_action_to_box_sorts_and_keeps_minimum_size():
    box = action_to_box(torch.tensor([[0.9, 0.2, 0.1, 0.8], [0.5, 0.5, 0.5, 0.5], [1.0, 1.0, 1.0, 1.0]]), 0.1)
    assert (box[:, 2:] - box[:, :2] >= 0.1 - 1e-6).all()
    assert torch.allclose(box[0], torch.tensor([0.1, 0.2, 0.9, 0.8]))
    assert box.min() >= 0 and box.max() <= 1
    assert torch.allclose(box[2], torch.tensor([0.9, 0.9, 1.0, 1.0]))


def test_sub_box_is_absolute():
    outer = torch.tensor([[0.2, 0.4, 0.6, 0.8]])
    inner = torch.tensor([[0.5, 0.0, 1.0, 0.5]])
    assert torch.allclose(sub_box(outer, inner), torch.tensor([[0.4, 0.4, 0.6, 0.6]]))


def test_patch_strokes_land_where_the_patch_was_cropped():
    # a square box in pixels: the mapping is exact, so the crop of the canvas render equals the patch render
    g = torch.Generator().manual_seed(0)
    strokes = torch.rand(1, 5, 8, generator=g)
    strokes[..., 2:4] = strokes[..., 2:4] * 0.4 + 0.1
    strokes[..., :2] = strokes[..., :2] * 0.6 + 0.2
    box = torch.tensor([[0.25, 0.125, 0.75, 0.625]])  # 128 x 128 px on a 256 x 256 canvas
    on_canvas = render_oil(patch_to_canvas(strokes, box, 256, 256), torch.zeros(1, 3, 256, 256))
    on_patch = render_oil(strokes, torch.zeros(1, 3, 128, 128))
    crop = crop_boxes(on_canvas, box, 128)
    assert (crop - on_patch).abs().mean() < 0.01


def test_schedule_covers_budget():
    for n in (5, 200, 1000, 5000):
        steps, k = schedule(n)
        assert steps * k * 20 >= n and steps <= 50
    assert schedule(5000) == (42, 6)


def test_rewards():
    d0, d1, norm = torch.tensor([0.1, 0.002]), torch.tensor([0.05, 0.001]), torch.tensor([0.5, 0.5])
    plain = phasic_reward(d0, d1, norm, "plain")
    assert torch.allclose(plain, (d0 - d1) / norm)
    assert torch.allclose(phasic_reward(d0, d1, norm, "piecewise"), torch.tensor([0.25 * 0.05, 125 * 0.001]))
    assert phasic_reward(d0, d1, norm, "paper")[0] == plain[0]  # beta = 1 while d > 0.005


def test_teacher_candidates_sit_on_the_error():
    from compositor.env import _candidate_boxes

    target = torch.zeros(1, 3, 64, 64)
    target[..., 40:56, 8:24] = 1.0
    full, half, quarter, eighth = _candidate_boxes(target, torch.zeros_like(target), 0.08)
    assert torch.allclose(full, torch.tensor([[0.0, 0.0, 1.0, 1.0]]))
    assert torch.allclose(quarter, torch.tensor([[8, 40, 24, 56]]) / 64)  # exactly on the square
    x0, y0, x1, y1 = eighth[0].tolist()
    assert 8 / 64 <= x0 and x1 <= 24 / 64 and 40 / 64 <= y0 and y1 <= 56 / 64  # inside it
    x0, y0, x1, y1 = half[0].tolist()
    assert x0 <= 8 / 64 and x1 >= 24 / 64 and y0 <= 40 / 64 and y1 >= 56 / 64  # around it
    assert torch.allclose(teacher_box(target, torch.zeros_like(target)), full)  # no painter: largest error


def test_teacher_lookahead_uses_the_painter():
    class TinyPainter(torch.nn.Module):  # paints one small white stroke in the middle of its patch
        config = type("C", (), {"patch": 32})()

        def forward(self, target, canvas):
            s = torch.tensor([0.5, 0.5, 0.9, 0.9, 0.0, 1.0, 1.0, 1.0])
            return s.expand(target.shape[0], 1, 8)

    target = torch.zeros(1, 3, 64, 64)
    target[..., 40:56, 8:24] = 1.0
    box = teacher_box(target, torch.zeros_like(target), 0.08, TinyPainter())
    assert box[0, 2] - box[0, 0] <= 0.26  # the quarter box on the white square gains most
