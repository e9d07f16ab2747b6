"""common.renderers.neural.FCNRenderer: shapes, range, config round trip, and that it can learn."""

from __future__ import annotations

import pytest
import torch

from common.checkpoint import load_checkpoint, load_model_state, save_checkpoint
from common.losses import l2_loss
from common.renderers.neural import FCN_SIZE, FCNRenderer


@pytest.mark.parametrize("out_channels", [1, 2])
def test_shape_and_range(device, out_channels):
    net = FCNRenderer(10, out_channels).to(device)
    out = net(torch.rand(3, 10, device=device))
    assert out.shape == (3, out_channels, FCN_SIZE, FCN_SIZE) and out.device.type == device.type
    assert out.min() >= 0 and out.max() <= 1


def test_bad_input_shape():
    with pytest.raises(ValueError, match=r"\(M, 10\)"):
        FCNRenderer(10)(torch.rand(3, 13))


def test_config_and_checkpoint_round_trip(tmp_path):
    net = FCNRenderer(5, 2)
    save_checkpoint(
        tmp_path / "fcn.pt",
        model_state=net.state_dict(),
        config=net.config(),
        step=0,
        metrics={},
        provenance={},
    )
    ckpt = load_checkpoint(tmp_path / "fcn.pt")
    again = load_model_state(FCNRenderer.from_config(ckpt["config"]), ckpt)
    x = torch.rand(2, 5)
    assert torch.allclose(net(x), again(x))


def _disc_targets(params: torch.Tensor) -> torch.Tensor:
    """Soft discs at (x, y) with radius 0.1 + 0.2 r on a 128 patch: (M, 3) -> (M, 1, 128, 128)."""
    grid = (torch.arange(FCN_SIZE, dtype=params.dtype, device=params.device) + 0.5) / FCN_SIZE
    dx = grid[None, None, :] - params[:, 0, None, None]
    dy = grid[None, :, None] - params[:, 1, None, None]
    radius = (0.1 + 0.2 * params[:, 2])[:, None, None]
    return ((radius - (dx * dx + dy * dy).sqrt()) * FCN_SIZE + 0.5).clamp(0, 1)[:, None]


def _train(device, steps: int, batch: int) -> list[float]:
    torch.manual_seed(0)
    net = FCNRenderer(3).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    params = torch.rand(batch, 3, device=device)
    target = _disc_targets(params)
    losses = []
    for _ in range(steps):
        loss = l2_loss(net(params), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_a_few_training_steps_lower_the_imitation_loss(device):
    losses = _train(device, steps=8, batch=4)
    assert losses[-1] < 0.7 * losses[0], losses
