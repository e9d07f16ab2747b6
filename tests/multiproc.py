"""Run code on 2 CPU ranks (gloo) for the multi-process tests, with a hard time limit.

``run_ranks(fn, args)`` forks ``world_size`` processes, each with the environment torchrun would
give it (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), one torch thread, and
calls ``fn(rank, *args)`` between ``common.device.init_distributed("cpu")`` and ``cleanup_distributed()``.
A rank that raises, or a run that outlives ``timeout`` seconds (a hang in a collective), fails the test
and every process is killed. ``run_torchrun(argv)`` runs a script under ``torch.distributed.run`` in a
subprocess, the way a user launches a trainer.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch.multiprocessing as mp

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, fn, args, errors) -> None:
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        OMP_NUM_THREADS="1",
    )
    import torch

    from common.device import cleanup_distributed, init_distributed

    torch.set_num_threads(1)
    try:
        ctx = init_distributed("cpu")
        fn(ctx, *args)
    except BaseException:
        errors.put((rank, traceback.format_exc()))
        raise
    finally:
        cleanup_distributed()


def run_ranks(fn, args=(), world_size: int = 2, timeout: float = 90.0) -> None:
    """Call ``fn(ctx, *args)`` on ``world_size`` gloo ranks (``ctx``: the rank's DistributedContext).

    ``fn`` is called in forked children (Linux; no pickling). Raises AssertionError naming the rank
    and its traceback when a rank fails, or when the ranks are not all done within ``timeout`` seconds.
    """
    import torch._dynamo  # noqa: F401  # DDP() imports it: once here, not once per rank (20+ s without .pyc)
    import torch.nn.parallel.distributed  # noqa: F401

    spawn = mp.get_context("fork")  # children inherit the imported torch: no 10-20 s import per rank
    errors = spawn.SimpleQueue()
    port = free_port()
    procs = [
        spawn.Process(target=_worker, args=(r, world_size, port, fn, args, errors), daemon=True)
        for r in range(world_size)
    ]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    hung = [r for r, p in enumerate(procs) if p.is_alive()]
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(5)
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    if failures:
        rank, text = failures[0]
        raise AssertionError(f"rank {rank} failed:\n{text}")
    if hung:
        raise AssertionError(f"rank(s) {hung} still running after {timeout:.0f} s (hang in a collective?)")
    codes = [p.exitcode for p in procs]
    assert codes == [0] * world_size, f"exit codes {codes}"


def torchrun_command(script: str, argv: list[str], nproc: int = 2) -> tuple[list[str], dict[str, str]]:
    """``(cmd, env)`` for ``python -m torch.distributed.run --nproc_per_node=nproc script *argv``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        str(REPO / script),
        *argv,
    ]
    return cmd, env


def run_torchrun(script: str, argv: list[str], timeout: float = 120.0, nproc: int = 2):
    """Run :func:`torchrun_command` to the end from the repository root.

    Returns the ``CompletedProcess`` (text stdout/stderr); raises ``subprocess.TimeoutExpired`` on a hang.
    """
    cmd, env = torchrun_command(script, argv, nproc)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _digest(module) -> str:
    """sha256 of a module's parameters (not buffers: BatchNorm statistics are per rank between syncs)."""
    import hashlib

    from common.device import unwrap_model

    h = hashlib.sha256()
    for name, p in unwrap_model(module).named_parameters():
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _trainer_worker(ctx, module: str, argv, record: str) -> None:
    """Run ``module.main(argv)`` on this rank; append what its TrainLoop saw to ``record/rank<r>.json``."""
    import importlib
    import json

    import torch

    import common.training as training

    loops, saves = [], []
    real_resume, real_close, real_save = (
        training.TrainLoop.resume,
        training.TrainLoop.close,
        training.save_checkpoint,
    )

    def resume(self):
        self._test_start = real_resume(self)
        return self._test_start

    def close(self):
        summary = real_close(self)
        digests = {k: _digest(v) for k, v in self.objects.items() if isinstance(v, torch.nn.Module)}
        loops.append({"start": getattr(self, "_test_start", None), "summary": summary, "digests": digests})
        return summary

    def save(path, **kw):
        saves.append(str(path))
        return real_save(path, **kw)

    training.TrainLoop.resume, training.TrainLoop.close, training.save_checkpoint = resume, close, save
    assert importlib.import_module(module).main(list(argv)) in (0, None)
    for loop in loops:
        loop["saves"] = saves
    path = Path(record, f"rank{ctx.rank}.json")
    earlier = json.loads(path.read_text()) if path.exists() else []
    path.write_text(json.dumps(earlier + loops))


def run_trainer(module: str, runs: list[list[str]], record: Path, timeout: float = 60.0) -> list[list[dict]]:
    """Run a trainer's ``main`` (``module``, e.g. ``"segpaint.train"``) on 2 gloo ranks, once per argv in
    ``runs`` (in order; a fresh pair of processes each, as ``torchrun --nproc_per_node=2`` would start).

    Returns, per rank, one record per TrainLoop: ``{"start": step resume() returned, "summary":
    TrainLoop.close()'s summary, "digests": {state name: sha256 of the module's parameters at close},
    "saves": [checkpoint paths this rank wrote]}``. A trainer not on :class:`common.training.TrainLoop`
    records nothing.
    """
    import importlib
    import json

    importlib.import_module(module)  # imported once here, inherited by every forked rank (no .pyc: 5-10 s)
    record.mkdir(parents=True, exist_ok=True)
    for argv in runs:
        run_ranks(_trainer_worker, (module, argv, str(record)), timeout=timeout)
    return [json.loads((record / f"rank{r}.json").read_text()) for r in range(2)]


def three_runs(
    base: list[str], flag: str = "--steps", counts: tuple[str, str] = ("2", "3")
) -> list[list[str]]:
    """The argv of the three runs :func:`check_two_rank_runs` expects: ``counts[0]`` steps, then ``counts[1]``
    (a resume), then a huge count with ``--max_minutes 0.02`` (a resume stopped by the wall-time limit)."""
    return [
        [*base, flag, counts[0]],
        [*base, flag, counts[1]],
        [*base, flag, "100000", "--max_minutes", "0.02"],
    ]


def check_two_rank_runs(ranks: list[list[dict]], out_dir: Path, steps: list[int]) -> None:
    """The properties every trainer's 2-rank run must have (asserts):

    ``ranks`` from :func:`run_trainer` for runs ``[first, resumed, wall-time-stopped]`` into ``out_dir``;
    ``steps``: the step counts the first two runs must reach. Per run: same parameters on both ranks, same
    summary; rank 1 writes no file; rank 0 writes only into ``out_dir`` and one ``last.pt`` there. The second
    run resumes at ``steps[0]``; the third (a huge step limit, a short ``--max_minutes``) stops on
    ``max_minutes`` on both ranks after the same step, having resumed at ``steps[1]``.
    """
    r0, r1 = ranks
    assert len(r0) == len(r1) == 3, f"TrainLoop closes per rank: {len(r0)}, {len(r1)} (expected 3)"
    for i, (a, b) in enumerate(zip(r0, r1, strict=True)):
        assert a["digests"] == b["digests"], f"run {i}: parameters differ between ranks"
        assert {**a["summary"], "wall_s": 0} == {**b["summary"], "wall_s": 0}, f"run {i}"
        assert b["saves"] == [], f"run {i}: rank 1 wrote {b['saves']}"
        assert all(Path(p).parent == out_dir for p in a["saves"]), a["saves"]
    starts = ([r["start"] for r in r0], [r["start"] for r in r1])
    assert starts[0] == [0, steps[0], steps[1]] == starts[1], starts
    assert [r["summary"]["step"] for r in r0[:2]] == steps
    assert r0[2]["summary"]["stopped"] == "max_minutes" and r0[2]["summary"]["step"] >= steps[1]
    assert sorted(p.name for p in out_dir.glob("*.pt")).count("last.pt") == 1
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".")], "temporary files left"
