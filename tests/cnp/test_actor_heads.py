"""The compositor actor's two heads: anchor boxes (default) and the paper's corners."""

import pytest
import torch

from compositor.model import ANCHOR_SIDES, Actor, CompositorConfig, anchor_boxes, nearest_anchor


def test_anchor_boxes_tile_every_side_at_half_stride():
    boxes = anchor_boxes()
    assert boxes.shape == (1 + 9 + 49 + 225, 4)
    assert boxes.min() >= 0 and boxes.max() <= 1
    sides = (boxes[:, 2] - boxes[:, 0]).unique()
    torch.testing.assert_close(sides.sort().values, torch.tensor(sorted(ANCHOR_SIDES)))
    torch.testing.assert_close(boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0])  # squares
    smallest = boxes[boxes[:, 2] - boxes[:, 0] == 0.125]
    assert smallest[:, 2].max() == 1 and smallest[:, 3].max() == 1  # reaches the far border
    assert (nearest_anchor(boxes[[5, 100, 283]], boxes) == torch.tensor([5, 100, 283])).all()


def test_teacher_boxes_are_anchors():
    from compositor.env import _candidate_boxes

    target = torch.rand(2, 3, 64, 64)
    anchors = anchor_boxes()
    for cand in _candidate_boxes(target, torch.zeros_like(target), 0.08):
        torch.testing.assert_close(anchors[nearest_anchor(cand, anchors)], cand)


def test_anchor_actor_learns_a_box_by_imitation():
    torch.manual_seed(0)
    actor = Actor(CompositorConfig(patch=32))
    target, canvas = torch.rand(4, 3, 32, 32), torch.zeros(4, 3, 32, 32)
    label = torch.full((4,), 200)  # one of the smallest boxes
    opt = torch.optim.Adam(actor.parameters(), lr=1e-3)
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(actor.scores(target, canvas), label)
        opt.zero_grad()
        loss.backward()
        opt.step()
    actor.eval()
    with torch.no_grad():
        torch.testing.assert_close(actor(target, canvas), actor.anchors[label])
        soft = actor.soft_action(target, canvas)  # differentiable mean box, close to the chosen one
    assert (soft - actor.anchors[label]).abs().max() < 0.05


def test_corner_head_and_old_checkpoints(tmp_path):
    from common.checkpoint import save_checkpoint
    from compositor.model import load_actor

    old = Actor(CompositorConfig(patch=32, coord=False, head="corners")).eval()
    save_checkpoint(
        tmp_path / "a.pt",
        model_state=old.state_dict(),
        config={"model": {"min_box": 0.08, "patch": 32}},  # written before "coord" and "head" existed
        step=1,
        metrics={},
        provenance={},
    )
    actor = load_actor(tmp_path / "a.pt")
    assert actor.config.head == "corners" and not actor.config.coord
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(actor(x, x), old(x, x))
    with pytest.raises(ValueError, match="head"):
        Actor(CompositorConfig(head="gaussian"))
