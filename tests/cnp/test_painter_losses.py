"""The painter's warm-start pieces: synthetic stroke samples, the matching loss, the pyramid loss, and
checkpoints from before the CoordConv planes."""

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
