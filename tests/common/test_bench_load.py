"""scripts/bench_load.py: the --quick plan covers what issue 16 asks for, and each thread setting reaches the
measured process's environment (a setting that silently measured the same thing twice misled once)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bench():
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "scripts" / "bench_load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_plan_covers_every_test_py_and_the_renderer():
    b = bench()
    plan = b.plan(argparse.Namespace(quick=True))
    for work in ("segpaint", "cnp", "stipple", "linerefiner", "sketching"):
        assert (work, "policy", 0) in plan and (work, "policy", 1) in plan
    for setting in ("1", "2", "2d", "policy"):
        assert all(("renderer", setting, busy) in plan for busy in (0, 1, 2))
    assert ("renderer_torch", "2p", 1) in plan
    # busy level innermost: quiet and busy runs of one setting back to back
    first = [p for p in plan if p[:2] == ("renderer", "1")]
    assert plan.index(first[0]) + 2 == plan.index(first[-1])


def test_thread_settings_reach_the_environment(monkeypatch):
    b = bench()
    for name in ("OMP_NUM_THREADS", "GOMP_SPINCOUNT", "OMP_WAIT_POLICY"):
        monkeypatch.setenv(name, "7")  # the bench's own environment must not leak into a measured run
    got = {t: b.child_env(t) for t in ("2", "2d", "2s", "2p", "policy")}
    assert all("OMP_NUM_THREADS" not in env for env in got.values())
    assert got["2d"]["GOMP_SPINCOUNT"] == "300000" and got["2s"]["GOMP_SPINCOUNT"] == str(b.SHORT_SPIN)
    assert got["2p"]["OMP_WAIT_POLICY"] == "PASSIVE" and "GOMP_SPINCOUNT" not in got["2p"]
    assert "GOMP_SPINCOUNT" not in got["2"] and "OMP_WAIT_POLICY" not in got["policy"]


def test_short_spin_is_the_policys():
    from common.threads import SPIN_COUNT

    assert bench().SHORT_SPIN == SPIN_COUNT


def test_summary_marks_cut_runs_and_ratios():
    b = bench()
    base = {"workload": "renderer", "setting": "1", "load1_before": 1.0, "threads_used": 1, "cpu": 4.0}
    rows = [
        {**base, "busy": 0, "rc": 0, "wall": 4.0},
        {**base, "busy": 1, "rc": 0, "wall": 6.0},
        {**base, "busy": 2, "rc": -9, "wall": 300.2},
    ]
    line = b.summary(rows).splitlines()[2]
    assert "6.0 (1.50x)" in line and "> 300 (cut)" in line
