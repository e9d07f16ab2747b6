"""The painter's warm-start pieces: synthetic stroke samples, the matching loss, the pyramid loss, and
checkpoints from before the CoordConv planes."""

import pytest
import torch

from common.renderers.oil import render_oil


def _photos():
    g = torch.Generator().manual_seed(0)
    return [torch.rand(3, 80, 96, generator=g)]


def test_synthetic_target_is_canvas_plus_the_labelled_strokes():
    from painter.data import SyntheticStrokes

    target, canvas, labels = SyntheticStrokes(_photos(), size=32, max_old=6, seed=1).sample(3)
    assert target.shape == canvas.shape == (3, 3, 32, 32) and labels.shape == (3, 5, 8)
    assert 0 <= labels.min() and labels.max() <= 1
    assert (labels[..., 2] >= labels[..., 3]).all()  # canonical form: length >= thickness
    torch.testing.assert_close(render_oil(labels, canvas), target)
    assert (target - canvas).abs().amax() > 0.05  # the labelled strokes are visible


def test_matching_loss_ignores_order_and_angle_wrap():
    from painter.training import stroke_matching_l1

    labels = torch.rand(2, 5, 8)
    shuffled = labels[:, torch.randperm(5)]
    assert stroke_matching_l1(shuffled, labels).item() < 1e-7
    wrapped = labels.clone()
    wrapped[..., 4] = (labels[..., 4] + 0.999) % 1.0  # the same angle, about 0.2 degrees off
    assert stroke_matching_l1(wrapped, labels).item() < 1e-3
    moved = labels.clone()
    moved[:, 0, 0] = (labels[:, 0, 0] + 0.5) % 1.0
    assert stroke_matching_l1(moved, labels).item() > 0.005
    pred = torch.rand(2, 5, 8, requires_grad=True)
    stroke_matching_l1(pred, labels).backward()
    assert pred.grad.abs().sum() > 0


def test_pyramid_loss_sees_a_shift_the_pixel_loss_barely_sees():
    from painter.training import pyramid_mse

    target = torch.zeros(1, 3, 32, 32)
    target[..., 8:16, 8:16] = 1
    near = target.roll(1, -1)
    assert pyramid_mse(target, target, 3).item() == 0
    torch.testing.assert_close(pyramid_mse(near, target, 0), torch.nn.functional.mse_loss(near, target))
    assert pyramid_mse(near, target, 3) > 0


def test_painter_without_coord_planes_still_loads(tmp_path):
    from common.checkpoint import save_checkpoint
    from painter.model import Painter, PainterConfig, load_painter

    old = Painter(PainterConfig(coord=False, patch=32))
    cfg = {"strokes_per_call": 5, "patch": 32}  # a config written before the ``coord`` field existed
    save_checkpoint(
        tmp_path / "p.pt",
        model_state=old.state_dict(),
        config={"model": cfg},
        step=1,
        metrics={},
        provenance={},
    )
    loaded = load_painter(tmp_path / "p.pt")
    assert not loaded.config.coord
    x = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(loaded(x, x), old.eval()(x, x))


def test_anchor_matching_gives_each_slot_the_stroke_nearest_its_anchor():
    from painter.model import STROKE_ANCHORS
    from painter.training import stroke_matching_l1

    labels = torch.rand(1, 5, 8)
    order = torch.tensor([3, 0, 4, 1, 2])
    labels[0, order, :2] = torch.tensor(STROKE_ANCHORS) + 0.01  # label order[k] sits on anchor k
    in_slot_order = labels[:, order]
    assert stroke_matching_l1(in_slot_order, labels, STROKE_ANCHORS).item() < 1e-7
    other_order = labels[:, order.roll(1)]  # a perfect set, but each stroke in the wrong slot
    assert stroke_matching_l1(other_order, labels).item() < 1e-7  # the free matching accepts it
    assert stroke_matching_l1(other_order, labels, STROKE_ANCHORS).item() > 0.05


def test_patch_renderer_fcn_branch_composites_in_order():
    """Through an FCN, the maps are composited with the "over" operator, stroke 0 first."""
    from painter.model import PatchRenderer

    class FakeFCN(torch.nn.Module):
        out_channels = 3

        def forward(self, shape):  # (M, 5) -> (M, 3, 8, 8): alpha, intensity, edge
            m = shape.shape[0]
            alpha = shape[:, 0, None, None].expand(m, 8, 8)
            return torch.stack([alpha, torch.full_like(alpha, 0.9), torch.zeros_like(alpha)], 1)

    strokes = torch.rand(2, 3, 8)
    canvas = torch.rand(2, 3, 8, 8)
    out = PatchRenderer(FakeFCN())(strokes, canvas)
    expect = canvas.clone()
    for i in range(3):
        a = strokes[:, i, 0, None, None, None]
        expect = expect * (1 - a) + a * 0.9 * strokes[:, i, 5:8, None, None]
    assert torch.allclose(out, expect, atol=1e-6)


def test_stroke_gains_equal_the_mse_drop_of_each_stroke_alone():
    import torch.nn.functional as F

    from painter.training import stroke_gains

    torch.manual_seed(0)
    strokes = torch.rand(2, 4, 8)
    strokes[..., 2:4] = 0.2 + 0.3 * strokes[..., 2:4]
    target, canvas = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    gains = stroke_gains(strokes, target, canvas)
    for b in range(2):
        before = F.mse_loss(canvas[b : b + 1], target[b : b + 1])
        for k in range(4):
            after = render_oil(strokes[b : b + 1, k : k + 1], canvas[b : b + 1], use_boxes=False)
            expect = before - F.mse_loss(after, target[b : b + 1])
            assert torch.allclose(gains[b, k], expect, atol=1e-6)


def test_anchor_painter_picks_five_separated_strokes_coarse_to_fine():
    from painter.anchor_model import anchor_cells
    from painter.model import PainterConfig, build_painter

    torch.manual_seed(0)
    net = build_painter(PainterConfig(patch=64, arch="anchors")).eval()
    target, canvas = torch.rand(3, 3, 64, 64), torch.rand(3, 3, 64, 64)
    strokes, scores = net.proposals(target, canvas)
    assert strokes.shape == (3, 341, 8) and scores.shape == (3, 341)
    assert 0 <= strokes.min() and strokes.max() <= 1
    idx = net.select(scores + torch.randn_like(scores))
    cells = anchor_cells()
    for row in idx:
        assert row.tolist() == sorted(row.tolist())  # anchors are stored coarse to fine
        c = cells[row]
        for i in range(5):
            for j in range(i + 1, 5):
                same_fine_grid = c[i, 2] == c[j, 2] and c[i, 2] >= 4
                assert not same_fine_grid or (c[i, :2] - c[j, :2]).abs().max() > 1
                assert not (c[i] == c[j]).all()
    assert net(target, canvas).shape == (3, 5, 8)
    with pytest.raises(ValueError, match="target and canvas"):
        net.proposals(target, canvas[:, :2])
