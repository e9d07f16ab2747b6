"""common.training.TrainLoop on 2 gloo ranks (DDP): same weights, rank-0 files, agreed stops, resume."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import torch

from tests.multiproc import run_ranks


def _train(ctx, out: Path, max_steps: int, *, max_minutes=0.0, sigterm_at=None, sleep=0.0):
    """A DDP Linear regression on per-rank data; returns (summary, start step, flat weights, saves)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    import common.training as training

    saves = []
    real_save = training.save_checkpoint

    def counting_save(path, **kw):
        saves.append(Path(path).name)
        return real_save(path, **kw)

    training.save_checkpoint = counting_save
    torch.manual_seed(0)
    net = DDP(torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(100 + ctx.rank)  # each rank draws its own data
    loop = training.TrainLoop(
        out,
        config={"max_steps": max_steps},
        state={"model": net, "opt": opt, "data": gen},
        max_steps=max_steps,
        max_minutes=max_minutes,
        save_every=2,
        best_metric="val",
        best_mode="min",
        ctx=ctx,
    )
    start = loop.resume()
    for step in loop.steps():
        x = torch.rand(16, 4, generator=gen)
        loss = (net(x) - x @ torch.tensor([[1.0], [-2.0], [3.0], [0.5]])).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if loop.due(step, every=2):  # validation figure computed on rank 0 only
            loop.report(step, **({"val": 1.0 / (step + 1)} if ctx.is_main else {}))
        if sigterm_at is not None and step == sigterm_at:
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(sleep)
    summary = loop.close()
    training.save_checkpoint = real_save
    weights = torch.cat([p.detach().flatten() for p in net.parameters()]).tolist()
    return {"summary": summary, "start": start, "weights": weights, "saves": saves}


def _resume_worker(ctx, tmp: str):
    tmp = Path(tmp)
    results = {
        "straight": _train(ctx, tmp / "straight", 8),
        "first": _train(ctx, tmp / "resumed", 4),
        "second": _train(ctx, tmp / "resumed", 8),
    }
    (tmp / f"rank{ctx.rank}.json").write_text(json.dumps(results))


def _stop_worker(ctx, tmp: str, kind: str):
    tmp = Path(tmp)
    if kind == "time":  # only rank 0 has a limit: without agreement rank 1 would wait in DDP's all-reduce
        result = _train(ctx, tmp / "run", 100_000, max_minutes=(0.5 / 60 if ctx.is_main else 0.0), sleep=0.01)
    else:  # only rank 1 is signalled
        result = _train(ctx, tmp / "run", 100_000, sigterm_at=(3 if ctx.rank == 1 else None))
    (tmp / f"rank{ctx.rank}.json").write_text(json.dumps(result))


def _results(tmp: Path):
    return [json.loads((tmp / f"rank{r}.json").read_text()) for r in range(2)]


def test_two_ranks_same_weights_rank0_files_and_resume(tmp_path):
    run_ranks(_resume_worker, (str(tmp_path),), timeout=120)
    r0, r1 = _results(tmp_path)
    for run in ("straight", "first", "second"):
        assert r0[run]["weights"] == r1[run]["weights"], f"{run}: ranks differ"
        assert {**r0[run]["summary"], "wall_s": 0} == {**r1[run]["summary"], "wall_s": 0}  # own clocks
        assert r1[run]["saves"] == []  # rank 1 never writes a checkpoint
    # rank 0: last.pt at steps 2, 4 (6, 8) and best.pt at every report (val falls each time)
    assert r0["first"]["saves"] == ["best.pt", "last.pt", "best.pt", "last.pt"]
    assert r0["second"]["saves"] == ["best.pt", "last.pt", "best.pt", "last.pt"]
    assert (r0["first"]["start"], r0["second"]["start"], r1["second"]["start"]) == (0, 4, 4)
    assert r0["second"]["summary"]["step"] == 8 and r0["second"]["summary"]["best_step"] == 8
    assert r0["second"]["weights"] == r0["straight"]["weights"]  # resuming changed nothing
    names = sorted(p.name for p in (tmp_path / "resumed").iterdir())
    assert names == ["best.pt", "config.json", "last.pt", "log.txt"]


def test_two_ranks_wall_time_limit_on_one_rank_stops_both(tmp_path):
    t0 = time.monotonic()
    run_ranks(_stop_worker, (str(tmp_path), "time"), timeout=90)
    r0, r1 = _results(tmp_path)
    assert r0["summary"]["stopped"] == r1["summary"]["stopped"] == "max_minutes"
    assert r0["summary"]["step"] == r1["summary"]["step"] > 1
    assert r0["weights"] == r1["weights"]
    assert time.monotonic() - t0 < 60


def test_two_ranks_sigterm_on_one_rank_stops_both(tmp_path):
    run_ranks(_stop_worker, (str(tmp_path), "term"), timeout=90)
    r0, r1 = _results(tmp_path)
    assert r0["summary"]["stopped"] == r1["summary"]["stopped"] == "SIGTERM"
    assert r0["summary"]["step"] == r1["summary"]["step"] == 4
    assert r0["weights"] == r1["weights"]
    assert r1["saves"] == [] and r0["saves"].count("last.pt") == 2  # step 2 and the final save at 4
