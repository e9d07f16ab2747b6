"""A few GAN steps lower the generator loss; training resumes from its checkpoint; train.py CLI."""

from __future__ import annotations

import json

import pytest
import torch

from common.checkpoint import load_checkpoint
from common.errors import UserError
from linerefiner import train as train_script
from linerefiner.model import RefinerConfig
from linerefiner.synth import heldout_samples, training_batch
from linerefiner.training import Trainer, validate

TINY = dict(channels=16, blocks=2, crop_size=32, batch_size=4, lr=2e-3, steps=30, save_every=1000)


def test_few_steps_lower_generator_loss():
    torch.set_num_threads(1)
    tr = Trainer(RefinerConfig(**TINY))
    x, y = training_batch(10**6, 8, 32, "taper")
    before = tr.eval_mse(x, y)
    losses = [tr.step(i)["g_mse"] for i in range(30)]
    after = tr.eval_mse(x, y)
    assert after < 0.7 * before
    assert sum(losses[-5:]) < sum(losses[:5])
    assert "d_loss" in tr.last


def test_diff_weight_changes_the_loss_not_the_mse_log():
    torch.manual_seed(0)
    a = Trainer(RefinerConfig(**TINY))
    b = Trainer(RefinerConfig(**{**TINY, "diff_weight": 8.0}))
    la, lb = a.step(0), b.step(0)
    assert la["g_mse"] == pytest.approx(lb["g_mse"], rel=1e-5)  # same init, same batch
    assert lb["g_total"] > la["g_total"]


def test_validate_reports_the_keep_best_figures():
    tr = Trainer(RefinerConfig(**TINY))
    m = validate(tr.G, heldout_samples("taper", 3, 64))
    assert {"val_score", "val_gaps_closed_short", "val_precision", "val_recall", "val_paper_white"} <= set(m)
    assert tr.G.training  # train mode restored


def _cli_args(tmp_path, steps):
    return [
        *("--steps", str(steps), "--crop_size", "32", "--batch_size", "2", "--channels", "8"),
        *("--blocks", "1", "--device", "cpu", "--val_every", "2", "--val_pairs", "2"),
        *("--output_dir", str(tmp_path), "--export", str(tmp_path / "ship.pt")),
    ]


def test_train_cli_runs_resumes_and_keeps_best(tmp_path, capsys):
    assert train_script.main(_cli_args(tmp_path, 2)) == 0
    for name in ("last.pt", "best.pt", "config.json", "log.txt", "ship.pt"):
        assert (tmp_path / name).is_file()
    assert json.loads((tmp_path / "config.json").read_text())["crop_size"] == 32
    shipped = load_checkpoint(tmp_path / "ship.pt")
    assert "val_score" in shipped["metrics"] and shipped["provenance"]["data"].startswith("synthetic")
    assert all(v.dtype == torch.float16 for v in shipped["model"].values() if v.is_floating_point())
    assert train_script.main(_cli_args(tmp_path, 3)) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and load_checkpoint(tmp_path / "last.pt")["step"] == 3
    with pytest.raises(UserError, match="multiple of 32"):
        train_script.main(["--crop_size", "33", "--output_dir", str(tmp_path / "x")])


def test_init_starts_from_another_generator(tmp_path):
    src = Trainer(RefinerConfig(**TINY))
    src.export(tmp_path / "src.pt", {"data": "test"})
    tr = Trainer(RefinerConfig(**{**TINY, "seed": 5}))
    tr.init_generator(tmp_path / "src.pt")
    for a, b in zip(src.G.state_dict().values(), tr.G.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float(), atol=1e-3)
