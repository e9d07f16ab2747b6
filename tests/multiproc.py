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


def run_torchrun(script: str, argv: list[str], timeout: float = 120.0, nproc: int = 2):
    """``python -m torch.distributed.run --nproc_per_node=nproc script *argv`` from the repository root.

    Returns the ``CompletedProcess`` (text stdout/stderr); raises ``subprocess.TimeoutExpired`` on a hang.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        script,
        *argv,
    ]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
