"""common.training.TrainLoop in one process: resume, keep-best, stopping, config.json, fresh."""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict, dataclass

import pytest
import torch

from common.checkpoint import load_checkpoint
from common.errors import CheckpointError
from common.training import TrainLoop, export_best


@dataclass
class TinyConfig:
    width: int = 4
    lr: float = 0.1
    steps: int = 6


def _objects(width=4, seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Linear(width, 1)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    return net, opt


def _train_step(net, opt):
    x = torch.rand(8, net.in_features)  # global RNG: resuming must continue its stream
    loss = (net(x) - x.sum(1, keepdim=True)).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def _run(out, max_steps, save_every=2, **kw):
    net, opt = _objects()
    loop = TrainLoop(
        out,
        config=TinyConfig(),
        state={"model": net, "opt": opt},
        max_steps=max_steps,
        save_every=save_every,
        **kw,
    )
    start = loop.resume()
    seen = []
    for step in loop.steps():
        seen.append(step)
        loop.log(step, loss=_train_step(net, opt))
    return net, opt, start, seen, loop.close()


def test_resume_continues_step_count_and_training(tmp_path):
    torch.manual_seed(123)
    straight, _, _, seen, summary = _run(tmp_path / "a", 6)
    assert seen == list(range(6)) and summary["step"] == 6 and summary["stopped"] == "max_steps"

    torch.manual_seed(123)
    _, _, start, seen1, _ = _run(tmp_path / "b", 3)
    assert start == 0 and seen1 == [0, 1, 2]
    assert load_checkpoint(tmp_path / "b" / "last.pt")["step"] == 3
    torch.manual_seed(999)  # the resumed run must take the RNG state from last.pt, not from here
    resumed, opt, start, seen2, summary = _run(tmp_path / "b", 6)
    assert start == 3 and seen2 == [3, 4, 5] and summary["step"] == 6
    # model, Adam moments and the data stream all continued: same weights as the uninterrupted run
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert int(opt.state_dict()["state"][0]["step"]) == 6
    assert load_checkpoint(tmp_path / "b" / "last.pt")["step"] == 6


def test_resume_at_max_steps_runs_nothing_and_keeps_file(tmp_path):
    _run(tmp_path, 4)
    before = (tmp_path / "last.pt").stat().st_mtime_ns
    _, _, start, seen, summary = _run(tmp_path, 4)
    assert start == 4 and seen == [] and summary["step"] == 4
    assert (tmp_path / "last.pt").stat().st_mtime_ns == before


def test_resume_with_other_model_shape_fails_clearly(tmp_path):
    _run(tmp_path, 2)
    net, opt = _objects(width=5)
    loop = TrainLoop(tmp_path, config={"width": 5}, state={"model": net, "opt": opt})
    with pytest.raises(CheckpointError, match="does not match Linear"):
        loop.resume()


def test_generator_state_is_resumed(tmp_path):
    def run(max_steps):
        net, opt = _objects()
        gen = torch.Generator().manual_seed(7)
        loop = TrainLoop(tmp_path, state={"model": net, "gen": gen}, max_steps=max_steps, save_every=0)
        draws = [float(torch.rand(1, generator=gen)) for _ in loop.steps()]
        loop.close()
        return draws

    assert len(run(3) + run(5)) == 5
    expected = torch.rand(5, generator=torch.Generator().manual_seed(7)).tolist()
    (tmp_path / "last.pt").unlink()
    assert run(5) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("mode", "values", "writes"),
    [("min", [3.0, 2.0, 4.0, 1.0, 1.0], [1, 2, 4]), ("max", [1.0, 3.0, 2.0, float("nan"), 3.5], [1, 2, 5])],
)
def test_keep_best_writes_only_on_improvement(tmp_path, mode, values, writes):
    net, opt = _objects()
    exported = []
    loop = TrainLoop(
        tmp_path,
        state={"model": net, "opt": opt},
        max_steps=len(values),
        save_every=0,
        best_metric="val",
        best_mode=mode,
        export=lambda path, tag, metrics: exported.append((path.name, tag, metrics["val"])),
    )
    best_steps = []
    for step in loop.steps():
        _train_step(net, opt)
        if loop.report(step, val=values[step], other=1.0):
            best_steps.append(step + 1)
            ckpt = load_checkpoint(tmp_path / "best.pt")
            assert ckpt["step"] == step + 1 and ckpt["metrics"]["val"] == values[step]
            torch.testing.assert_close(ckpt["model"]["weight"], net.weight.detach())
            assert "opt" not in ckpt["extra"]["state"]  # weights only: best.pt is not for resuming
        else:  # best.pt still holds the earlier, better step
            assert load_checkpoint(tmp_path / "best.pt")["step"] == best_steps[-1]
    summary = loop.close()
    assert best_steps == writes
    assert summary["best"] == values[writes[-1] - 1] and summary["best_step"] == writes[-1]
    assert [e for e in exported if e[1] == "best"] == [
        ("model_best.pt", "best", values[s - 1]) for s in writes
    ]
    assert exported[-1][:2] == ("model_last.pt", "last")


def test_export_model_writes_the_fp16_shipped_file_and_export_best_copies_the_best(tmp_path):
    """export_model: the loop writes <name>_best.pt / _last.pt itself (fp16 weights, config, step, figures,
    tag); export_best: the --export copy of best.pt (else last.pt), no optimizer state."""
    net, opt = _objects()
    values = [3.0, 1.0, 2.0]
    loop = TrainLoop(
        tmp_path,
        config=TinyConfig(),
        state={"model": net, "opt": opt},
        max_steps=3,
        save_every=0,
        best_metric="val",
        export_model=net,
        export_name="tiny",
        provenance={"data": "random"},
    )
    for step in loop.steps():
        _train_step(net, opt)
        if loop.report(step, val=values[step]):
            best_weight = net.weight.detach().clone()
    loop.close()
    best, last = load_checkpoint(tmp_path / "tiny_best.pt"), load_checkpoint(tmp_path / "tiny_last.pt")
    assert (best["step"], best["metrics"]["val"], best["provenance"]["tag"]) == (2, 1.0, "best")
    assert (last["step"], last["provenance"]["tag"], last["provenance"]["data"]) == (3, "last", "random")
    assert best["model"]["weight"].dtype == torch.float16 and best["config"] == asdict(TinyConfig())
    torch.testing.assert_close(best["model"]["weight"].float(), best_weight, atol=1e-3, rtol=1e-3)
    assert export_best(tmp_path, tmp_path / "ship.pt") == tmp_path / "best.pt"
    ship = load_checkpoint(tmp_path / "ship.pt")
    assert ship["step"] == 2 and ship["model"]["weight"].dtype == torch.float16
    assert "opt" not in (ship["extra"] or {}).get("state", {}) and ship["extra"]["loop"]["best"] == 1.0
    (tmp_path / "best.pt").unlink()
    assert export_best(tmp_path, tmp_path / "ship.pt") == tmp_path / "last.pt"
    with pytest.raises(ValueError, match="not both"):
        TrainLoop(tmp_path / "x", state={"model": net}, export=print, export_model=net)


def test_best_figure_survives_resume(tmp_path):
    def run(values):
        net, opt = _objects()
        loop = TrainLoop(
            tmp_path,
            state={"model": net, "opt": opt},
            max_steps=len(values),
            best_metric="val",
            best_mode="min",
        )
        improved = [loop.report(s, val=values[s]) for s in loop.steps()]
        loop.close()
        return improved

    assert run([2.0, 1.0]) == [True, True]
    assert run([2.0, 1.0, 1.5, 0.5]) == [False, True]  # steps 2, 3: 1.5 is worse than the stored 1.0


def test_report_without_best_metric_raises(tmp_path):
    net, _ = _objects()
    loop = TrainLoop(tmp_path, state={"model": net}, max_steps=1, best_metric="val_psnr")
    with pytest.raises(KeyError, match="val_psnr"):
        loop.report(0, loss=1.0)


def test_wall_time_stop_saves_reached_step(tmp_path):
    net, opt = _objects()
    t0 = time.monotonic()  # the limit counts from the loop's construction
    loop = TrainLoop(tmp_path, state={"model": net, "opt": opt}, max_minutes=0.2 / 60, save_every=0)
    for _ in loop.steps():
        _train_step(net, opt)
        time.sleep(0.02)
    summary = loop.close()
    assert summary["stopped"] == "max_minutes"
    assert 0.2 <= time.monotonic() - t0 < 10.0  # the limit, plus one step and the save on a loaded machine
    assert 1 <= summary["step"] <= 11  # each step sleeps 0.02 s
    assert load_checkpoint(tmp_path / "last.pt")["step"] == summary["step"]


def test_sigterm_stops_after_the_step_and_restores_handler(tmp_path):
    net, opt = _objects()
    before = signal.getsignal(signal.SIGTERM)
    loop = TrainLoop(tmp_path, state={"model": net, "opt": opt}, max_steps=100, save_every=0)
    for step in loop.steps():
        _train_step(net, opt)
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
    summary = loop.close()
    assert summary == {**summary, "stopped": "SIGTERM", "step": 4}
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 4
    assert signal.getsignal(signal.SIGTERM) == before
    assert "SIGTERM received" in (tmp_path / "log.txt").read_text()


def test_config_json_is_written_atomically_and_valid(tmp_path, monkeypatch):
    net, _ = _objects()
    cfg = TinyConfig(width=4, lr=0.5)
    TrainLoop(tmp_path, config=cfg, state={"model": net}).close()
    assert json.loads((tmp_path / "config.json").read_text()) == asdict(cfg)
    assert load_checkpoint(tmp_path / "last.pt")["config"] == asdict(cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json",
        "last.pt",
        "log.txt",
    ]  # no temp files

    def no_rename(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("common.image_io.os.replace", no_rename)
    with pytest.raises(OSError):  # a write that fails at the end leaves the previous config.json whole
        TrainLoop(tmp_path, config={"width": 9}, state={"model": net})
    assert json.loads((tmp_path / "config.json").read_text()) == asdict(cfg)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_fresh_moves_old_run_aside(tmp_path):
    _run(tmp_path, 3)
    _, _, start, seen, _ = _run(tmp_path, 2, fresh=True)
    assert start == 0 and seen == [0, 1]
    (aside,) = tmp_path.glob("previous_*")
    assert load_checkpoint(aside / "last.pt")["step"] == 3
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 2


def test_due_and_log_lines(tmp_path):
    net, opt = _objects()
    loop = TrainLoop(tmp_path, state={"model": net, "opt": opt}, max_steps=5, log_every=2)
    assert [s for s in range(5) if loop.due(s, every=2)] == [1, 3, 4]  # every 2nd and the last step
    assert not loop.due(3, every=0)
    for step in loop.steps():
        loop.log(step, loss=float(step))
    loop.close()
    lines = [x for x in (tmp_path / "log.txt").read_text().splitlines() if x.startswith("step ")]
    assert lines[0].startswith("step 2  loss 0.5") and lines[1].startswith("step 4  loss 2.5")


def test_bad_arguments():
    net, _ = _objects()
    with pytest.raises(ValueError, match="best_mode"):
        TrainLoop("unused", state={"model": net}, best_mode="up")
    with pytest.raises(ValueError, match="state"):
        TrainLoop("unused", state={})
