"""common.threads (CPU thread policy) and its use by common.cli.ArgumentParser: affinity, load, override."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

import common.threads as threads
from common.cli import ArgumentParser
from common.threads import (
    POLICY_ENV,
    choose_threads,
    configure_threads,
    last_thread_choice,
    other_runnable_tasks,
    recheck_threads,
    usable_cpus,
)

SPIN_ENV = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")


@pytest.fixture
def clean_env(monkeypatch):
    """No user OMP_NUM_THREADS; torch's thread count and the env restored afterwards."""
    before = torch.get_num_threads()
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", POLICY_ENV, "LOCAL_WORLD_SIZE", *SPIN_ENV):
        monkeypatch.setenv(name, "x")  # registers the old value for restoring
        monkeypatch.delenv(name)
    yield monkeypatch
    torch.set_num_threads(before)


def fake_machine(monkeypatch, cpus: int, others: float) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    monkeypatch.setattr(threads, "other_runnable_tasks", lambda *a, **k: others)


@pytest.mark.parametrize(
    ("cpus", "others", "local", "expected"),
    [
        (2, 0.0, 1, 2),  # quiet 2-core machine: both cores
        (2, 0.2, 1, 2),  # a little background noise is not a busy core
        (2, 1.0, 1, 1),  # one busy process on 2 cores: 1 thread (4.4x slower with 2, issue 16)
        (2, 2.0, 1, 1),  # never below 1
        (2, 7.0, 1, 1),
        (16, 3.0, 1, 13),
        (16, 3.3, 1, 12),  # 0.3 of a fourth CPU is more than a quarter of it
        (16, 0.0, 4, 4),  # torchrun with 4 local processes shares the CPUs
        (1, 0.0, 1, 1),
        (8, None, 1, 8),  # not measurable (not Linux): all CPUs
    ],
)
def test_choose_threads(cpus, others, local, expected):
    assert choose_threads(cpus, others, local) == expected


def test_usable_cpus_follows_affinity(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert usable_cpus() == 3
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert usable_cpus() == 6


def test_other_runnable_tasks_subtracts_our_running_threads(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  1 2 3\nctxt 99\nprocs_running 5\nprocs_blocked 0\n")
    tasks = tmp_path / "task"
    for tid, state in [(100, "R"), (101, "S"), (102, "R")]:
        (tasks / str(tid)).mkdir(parents=True)
        # a comm with spaces and parentheses, as the kernel allows
        (tasks / str(tid) / "stat").write_text(f"{tid} (py (w) x) {state} 1 2 3\n")
    assert other_runnable_tasks(3, 0.0, str(stat), str(tasks)) == 3.0  # 5 runnable, 2 of them ours
    assert other_runnable_tasks(1, 0.0, str(tmp_path / "missing"), str(tasks)) is None


def test_other_runnable_tasks_on_this_machine():
    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat")
    value = other_runnable_tasks(samples=3, interval=0.001)
    assert value is not None and 0.0 <= value < 10_000


def test_policy_uses_free_cpus(clean_env):
    fake_machine(clean_env, cpus=4, others=1.0)
    choice = configure_threads()
    assert (choice.threads, choice.source, choice.cpus, choice.others) == (3, "policy", 4, 1.0)
    assert torch.get_num_threads() == 3
    assert os.environ["OMP_NUM_THREADS"] == "3" == os.environ[POLICY_ENV]  # children start with it
    assert last_thread_choice() == choice
    assert "3 of 4 CPUs" in choice.describe()


def test_policy_on_a_busy_machine_takes_one_thread(clean_env):
    fake_machine(clean_env, cpus=2, others=1.4)
    assert configure_threads().threads == 1 and torch.get_num_threads() == 1


def test_override_wins_over_load(clean_env):
    fake_machine(clean_env, cpus=2, others=5.0)
    choice = configure_threads(2)
    assert (choice.threads, choice.source) == (2, "--threads") and torch.get_num_threads() == 2
    assert POLICY_ENV not in os.environ
    with pytest.raises(ValueError, match="positive integer"):
        configure_threads(0)


def test_user_omp_num_threads_is_respected_but_not_the_policys_own(clean_env):
    fake_machine(clean_env, cpus=4, others=0.0)
    clean_env.setenv("OMP_NUM_THREADS", "2")
    assert configure_threads().source == "OMP_NUM_THREADS" and torch.get_num_threads() == 2
    clean_env.setenv(POLICY_ENV, "2")  # written by a parent's policy: decide afresh
    assert configure_threads().threads == 4


def test_recheck_follows_the_load_only_under_the_policy(clean_env):
    fake_machine(clean_env, cpus=2, others=0.0)
    configure_threads()
    assert torch.get_num_threads() == 2
    fake_machine(clean_env, cpus=2, others=1.0)  # another job started
    said = []
    assert recheck_threads(log=said.append).threads == 1
    assert torch.get_num_threads() == 1 and "was 2" in said[0]
    configure_threads(2)
    assert recheck_threads() is None and torch.get_num_threads() == 2  # the user's choice stays


def test_parser_applies_policy_and_threads_flag(clean_env):
    fake_machine(clean_env, cpus=4, others=2.0)
    parser = ArgumentParser()
    parser.add_argument("--n", type=int, default=1)
    parser.parse_args([])
    assert torch.get_num_threads() == 2 and last_thread_choice().source == "policy"
    parser.parse_args(["--threads", "3"])
    assert torch.get_num_threads() == 3 and last_thread_choice().source == "--threads"


def test_script_defining_its_own_threads_flag(clean_env):
    fake_machine(clean_env, cpus=4, others=0.0)
    parser = ArgumentParser()
    parser.add_argument("--threads", type=int, default=1, help="the script's own")  # no conflict error
    assert parser.parse_args([]).threads == 1 and torch.get_num_threads() == 1
    text = parser.format_help()
    assert "the script's own" in text and "OMP_NUM_THREADS" not in text  # the shared flag is gone


def test_parser_without_policy_leaves_threads_alone(clean_env):
    fake_machine(clean_env, cpus=4, others=0.0)
    torch.set_num_threads(1)
    parser = ArgumentParser(thread_policy=False)
    assert "--threads" not in parser.format_help()
    parser.parse_args([])
    assert torch.get_num_threads() == 1


def test_policy_decided_before_torch_import_reaches_torch(tmp_path):
    """In a fresh process the choice is made before torch is imported: torch starts with it."""
    code = textwrap.dedent(
        """
        import sys
        from common.cli import ArgumentParser
        ArgumentParser().parse_args(["--threads", "1"])
        assert "torch" not in sys.modules
        import torch
        print(torch.get_num_threads())
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"


@pytest.mark.parametrize(
    ("user_env", "expected"),
    [
        ({}, {"GOMP_SPINCOUNT": str(threads.SPIN_COUNT), "OMP_WAIT_POLICY": None}),  # the short spin
        ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": None, "OMP_WAIT_POLICY": "ACTIVE"}),  # the user's
        ({"GOMP_SPINCOUNT": "50000"}, {"GOMP_SPINCOUNT": "50000", "OMP_WAIT_POLICY": None}),
    ],
)
def test_short_openmp_spin_before_torch_loads_unless_the_user_chose(user_env, expected):
    """The policy's short spin (issue 16: a thread waiting at a barrier sleeps after ~1000 spins instead of
    libgomp's 300000) is in the environment before torch (and with it libgomp) is imported."""
    code = textwrap.dedent(
        """
        import json, os, sys
        from common.cli import ArgumentParser
        ArgumentParser().parse_args([])
        assert "torch" not in sys.modules
        print(json.dumps({k: os.environ.get(k) for k in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", *SPIN_ENV)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**env, **user_env}, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected
