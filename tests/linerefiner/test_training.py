"""A few GAN steps lower the generator loss; training resumes from its checkpoint; train.py CLI."""

from __future__ import annotations

import json

import pytest
import torch

from common.errors import CheckpointError, UserError
from linerefiner import train as train_script
from linerefiner.model import RefinerConfig
from linerefiner.synth import training_batch
from linerefiner.training import Trainer

TINY = dict(channels=16, blocks=2, crop_size=32, batch_size=4, lr=2e-3, steps=30, save_every=1000)


def test_few_steps_lower_generator_loss():
    torch.set_num_threads(1)
    tr = Trainer(RefinerConfig(**TINY))
    x, y = training_batch(10**6, 8, 32, "taper")
    before = tr.eval_mse(x, y)
    losses = [tr.step()["g_mse"] for _ in range(30)]
    after = tr.eval_mse(x, y)
    assert after < 0.7 * before
    assert sum(losses[-5:]) < sum(losses[:5])
    assert "d_loss" in tr.last and tr.step_count == 30


def test_resume_restores_state(tmp_path):
    tr = Trainer(RefinerConfig(**TINY))
    for _ in range(3):
        tr.step()
    path = tr.save(tmp_path / "last.pt", {"data": "test"})
    assert json.loads((tmp_path / "config.json").read_text())["crop_size"] == 32
    back = Trainer.resume(path, steps=50)
    assert back.step_count == 3 and back.cfg.steps == 50 and back.cfg.channels == 16
    for a, b in zip(tr.G.state_dict().values(), back.G.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(tr.D.state_dict().values(), back.D.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert back.opt_g.state_dict()["state"].keys() == tr.opt_g.state_dict()["state"].keys()
    back.step()
    assert back.step_count == 4
    shipped = tr.export(tmp_path / "ship.pt", {"data": "test"})
    with pytest.raises(CheckpointError, match="cannot resume"):
        Trainer.resume(shipped)


def test_train_cli_runs_and_resumes(tmp_path, capsys):
    args = [
        "--steps",
        "2",
        "--crop_size",
        "32",
        "--batch_size",
        "2",
        "--channels",
        "8",
        "--blocks",
        "1",
        "--device",
        "cpu",
        "--output_dir",
        str(tmp_path),
        "--export",
        str(tmp_path / "ship.pt"),
    ]
    assert train_script.main(args) == 0
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "ship.pt").is_file()
    assert train_script.main([*args[:1], "3", *args[2:]]) == 0
    assert "resuming" in capsys.readouterr().out
    with pytest.raises(UserError, match="multiple of 32"):
        train_script.main(["--crop_size", "33", "--output_dir", str(tmp_path / "x")])
