"""The compositor trainer's pieces beyond the paper: the look-ahead imitation teacher, the critic
warm-up step, and the held-out validation table of compositor/validation.py."""

import json

import pytest
import torch


@pytest.fixture(scope="module")
def painter():
    from common.checkpoint import default_checkpoint
    from painter.model import load_painter

    return load_painter(default_checkpoint("cnp_painter.pt"))


def _photo(size=64):
    import skimage.data

    from common.image_io import image_to_tensor

    return torch.nn.functional.interpolate(
        image_to_tensor(skimage.data.chelsea()), size=(size, size), mode="area"
    )


def test_lookahead_teacher_follows_the_scale_schedule_and_finds_the_unpainted_cell(painter):
    from compositor.env import lookahead_box
    from compositor.paint import scale_schedule

    target = _photo().repeat(4, 1, 1, 1)
    # each canvas: the target itself except one quadrant left black
    canvas = target.clone()
    quadrants = [(0, 0), (0, 1), (1, 0), (1, 1)]  # (row, column)
    for i, (r, c) in enumerate(quadrants):
        canvas[i, :, r * 32 : (r + 1) * 32, c * 32 : (c + 1) * 32] = 0
    whole_calls = scale_schedule(200)[0][1]  # 40 regions: the whole image first, then 2 x 2 cells
    assert scale_schedule(200)[0][0] == 1 and scale_schedule(200)[1][0] == 2
    first = lookahead_box(target, canvas, painter, 0, 40)
    torch.testing.assert_close(first, torch.tensor([[0.0, 0.0, 1.0, 1.0]]).expand(4, -1))
    later = lookahead_box(target, canvas, painter, whole_calls, 40)
    expected = torch.tensor([[c / 2, r / 2, c / 2 + 0.5, r / 2 + 0.5] for r, c in quadrants])
    torch.testing.assert_close(later, expected)
    with pytest.raises(ValueError, match="step"):
        lookahead_box(target, canvas, painter, 40, 40)


def test_critic_warmup_step_moves_the_critic_only():
    """Critic-only steps fit Q to the reward of terminal transitions and leave the actor (and its target
    network) untouched; the critic's target network follows softly."""
    from compositor.ddpg import DDPG
    from compositor.model import Actor, CompositorConfig

    torch.manual_seed(0)
    agent = DDPG(Actor(CompositorConfig(patch=32)), "cpu", lr_critic=1e-4, tau=0.1)
    frozen = [p.clone() for p in (*agent.actor.parameters(), *agent.actor_target.parameters())]
    target_before = [p.clone() for p in agent.critic_target.parameters()]
    batch = (
        torch.rand(4, 3, 32, 32),
        torch.rand(4, 3, 32, 32),
        torch.rand(4, 4),
        torch.full((4,), 0.5),
        torch.rand(4, 3, 32, 32),
        torch.ones(4),  # done: the critic's target is the reward itself
        torch.rand(4, 4),
    )
    with torch.no_grad():
        err_before = (agent.critic(*batch[:3]) - 0.5).abs().max().item()
    for _ in range(8):
        agent.update_critic(batch)
    with torch.no_grad():
        err_after = (agent.critic(*batch[:3]) - 0.5).abs().max().item()
    assert err_after < 0.5 * err_before, (err_before, err_after)
    after = (*agent.actor.parameters(), *agent.actor_target.parameters())
    assert all(torch.equal(a, b) for a, b in zip(frozen, after, strict=True))
    moved = [
        not torch.equal(a, b) for a, b in zip(target_before, agent.critic_target.parameters(), strict=True)
    ]
    assert all(moved)


def test_validation_table_of_the_shipped_actor(tmp_path, capsys):
    from common.cli import run_main
    from compositor.validation import main

    try:
        from compositor.validation import val_crops

        val_crops(64, 2)
    except Exception as err:  # noqa: BLE001 - the held-out photos come from Debian's opencv-doc package
        pytest.skip(f"held-out opencv-doc photos unavailable: {err}")
    args = ["--actor", "shipped=checkpoints/cnp_compositor.pt", "--crops", "2", "--stroke_num", "40"]
    assert main(args + ["--output_dir", str(tmp_path), "--threads", "1"]) == 0
    table = json.loads((tmp_path / "validation.json").read_text())
    assert list(table["rows"]) == ["shipped", "grid (mode 3)", "lookahead", "multiscale"]
    assert table["stroke_num"] == 40 and table["images"].startswith("2 held-out crops")
    for row in table["rows"].values():
        assert 0 < row["mse"] < 0.2 and 7 < row["psnr"] < 60
        assert row["psnr"] >= 10 * torch.log10(torch.tensor(1 / row["mse"])).item() - 1e-6  # mean of logs
    assert "lookahead" in capsys.readouterr().out
    # with a handful of strokes, the toned ground (test.py's) is closer to the photo than the black one
    from common.checkpoint import default_checkpoint
    from compositor.validation import paint_mse, val_crops
    from painter.model import load_painter

    crops, painter = val_crops(64, 2), load_painter(default_checkpoint("cnp_painter.pt"))
    black = paint_mse(crops, painter, None, 5, mode=3)["mse"]
    assert paint_mse(crops, painter, None, 5, mode=3, ground="mean")["mse"] < 0.8 * black
    with pytest.raises(SystemExit) as exit_info:
        run_main(main, ["--actor", "no_equals_sign", "--output_dir", str(tmp_path)])
    assert exit_info.value.code == 2 and "NAME=CHECKPOINT" in capsys.readouterr().err
