"""common.checkpoint: one self-describing file, weights_only loading, strict keys, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from common.checkpoint import default_checkpoint, load_checkpoint, load_model_state, save_checkpoint
from common.errors import CheckpointError


def _net(hidden: int = 8) -> nn.Module:
    return nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 2), nn.BatchNorm1d(2))


def _save(path: Path, model: nn.Module, **kw) -> Path:
    return save_checkpoint(
        path,
        model_state=model.state_dict(),
        config={"hidden": 8, "path": path.parent},
        step=12,
        metrics={"l2": 0.5},
        provenance={"command": "python train.py", "hardware": "2-core CPU, shared"},
        **kw,
    )


def test_round_trip(tmp_path):
    model = _net()
    opt = torch.optim.Adam(model.parameters())
    model(torch.rand(3, 4)).sum().backward()
    opt.step()
    path = _save(
        tmp_path / "c.pt", model, optimizer_state=opt.state_dict(), extra={"rng": torch.get_rng_state()}
    )
    ckpt = load_checkpoint(path)
    assert set(ckpt) >= {"model", "config", "step", "metrics", "provenance", "optimizer", "extra"}
    assert ckpt["step"] == 12 and ckpt["metrics"] == {"l2": 0.5}
    assert ckpt["config"]["path"] == str(tmp_path)  # Paths stored as strings
    assert ckpt["provenance"]["hardware"] == "2-core CPU, shared"
    other = _net()
    load_model_state(other, ckpt)
    for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    opt2 = torch.optim.Adam(other.parameters())
    opt2.load_state_dict(ckpt["optimizer"])
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_half_storage_is_cast_back(tmp_path):
    model = _net()
    ckpt = load_checkpoint(_save(tmp_path / "h.pt", model, half=True))
    assert ckpt["half"] and ckpt["model"]["0.weight"].dtype == torch.float16
    assert ckpt["model"]["3.num_batches_tracked"].dtype == torch.long  # integer buffers untouched
    other = _net()
    load_model_state(other, ckpt["model"])
    assert other[0].weight.dtype == torch.float32
    assert torch.allclose(other[0].weight, model[0].weight, atol=1e-3)


def test_strict_mismatch_is_clear(tmp_path):
    ckpt = load_checkpoint(_save(tmp_path / "c.pt", _net()))
    with pytest.raises(CheckpointError, match=r"0.weight is \(8, 4\), model expects \(16, 4\)"):
        load_model_state(_net(16), ckpt)
    with pytest.raises(CheckpointError, match="missing 2 key.*4.weight"):
        load_model_state(
            nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2), nn.BatchNorm1d(2), nn.Linear(2, 2)),
            ckpt,
        )
    with pytest.raises(CheckpointError, match="unexpected"):
        load_model_state(nn.Sequential(nn.Linear(4, 8)), ckpt)


def test_prefixes_from_ddp_or_compile_are_removed(tmp_path):
    model = _net()
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    load_model_state(_net(), state)


def test_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found: .*nope.pt .*expected.*train it"):
        load_checkpoint(tmp_path / "nope.pt", hint="train it with python x/train.py")
    (tmp_path / "bad.pt").write_bytes(b"garbage bytes")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "bad.pt")
    torch.save(_net().state_dict(), tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a StrokeLab checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    torch.save({"module": _net()}, tmp_path / "pickled.pt")  # arbitrary objects: refused by weights_only
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "pickled.pt")


def test_unstorable_config_is_refused_and_nothing_written(tmp_path):
    with pytest.raises(TypeError, match="cannot store"):
        save_checkpoint(
            tmp_path / "c.pt", model_state={}, config={"f": object()}, step=0, metrics={}, provenance={}
        )
    assert list(tmp_path.iterdir()) == []


def test_crash_while_saving_leaves_nothing(tmp_path, monkeypatch):
    def broken(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError):
        _save(tmp_path / "c.pt", _net())
    assert list(tmp_path.iterdir()) == []


def test_default_checkpoint_is_relative_to_the_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = default_checkpoint("x.pt")
    assert path.parent.name == "checkpoints" and (path.parent.parent / "common").is_dir()
