"""Speed under load: the renderer workload and every test.py, with 0, 1 and 2 busy processes beside them.

    python scripts/bench_load.py                                  # everything (reduced test.py runs)
    python scripts/bench_load.py --workloads renderer --busy 0 1  # the renderer workload only
    python scripts/bench_load.py --full --threads policy          # the test.py default runs in full
    python scripts/bench_load.py --startup                        # --help time of every entry script

Side by side in one run: each workload, with each thread setting (``--threads 1``, ``--threads 2`` and the
policy of ``common/threads.py``, i.e. no flag and no ``OMP_NUM_THREADS``), runs in a fresh process once per
busy level (0, 1, 2 busy-loop processes that this script starts just before and stops just after, at this
script's own priority), the busy levels back to back:

- ``renderer``: bezier13 forward + backward (L1 to a target, gradients to the strokes) on 16 windows of
  128 px x 64 strokes, 5 times (issue 16's workload);
- ``segpaint``, ``cnp``, ``stipple``, ``linerefiner``, ``sketching``: that test.py on skimage's astronaut at
  512 x 512 px. By default a reduced but representative run (the default flags, with fewer iterations where
  the default run takes minutes: segpaint ``--iter_steps 5`` (all 4 passes, about 1/10 of the default's
  Adam steps), sketching ``--num_iter 30`` (1/10)); ``--full`` runs the defaults unchanged.

Printed per run: wall seconds, CPU seconds of the process, the thread count the process used (for the
policy: what it chose), the seconds from the command to its first output line (startup: imports, model
loading), and the 1-minute load average before it started (the background load of the machine, the busy
loops included). The table at the end gives each busy level's wall time divided by the quiet (0 busy) wall
time of the same workload and setting: the target is at most 1.5x with one busy process. On a shared
machine the "quiet" level is only as quiet as the other users allow: compare the load averages.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ("renderer", "segpaint", "cnp", "stipple", "linerefiner", "sketching")
ENTRY_SCRIPTS = (
    "segpaint/test.py",
    "segpaint/train.py",
    "compositor/test.py",
    "compositor/train.py",
    "compositor/DT.py",
    "compositor/stylize.py",
    "compositor/train_renderer_FCN.py",
    "painter/train.py",
    "stipple/test.py",
    "stipple/train.py",
    "stipple/make_dataset.py",
    "stipple/visualize.py",
    "linerefiner/test.py",
    "linerefiner/train.py",
    "sketching/test.py",
    "scripts/demo.py",
)


def test_command(name: str, photo: Path, out: Path, full: bool) -> list[str]:
    """The command line of test.py workload ``name`` on ``photo``, writing into ``out``."""
    if name == "segpaint":
        return ["segpaint/test.py", "--image_path", str(photo), "--save_dir", str(out)] + (
            [] if full else ["--iter_steps", "5"]
        )
    if name == "cnp":
        return ["compositor/test.py", "--img_path", str(photo), "--output_dir", str(out)]
    if name == "stipple":
        return ["stipple/test.py", str(photo), "--output_dir", str(out)]
    if name == "linerefiner":
        return ["linerefiner/test.py", "--input", str(photo), "--output_dir", str(out)]
    if name == "sketching":
        return ["sketching/test.py", "--target", str(photo), "--output_dir", str(out)] + (
            [] if full else ["--num_iter", "30"]
        )
    raise ValueError(name)


def renderer_worker(reps: int = 5) -> dict:
    """The renderer workload in this process; returns seconds and the thread choice."""
    import torch

    from common.renderers.bezier13 import render_bezier13
    from common.threads import last_thread_choice

    g = torch.Generator().manual_seed(0)
    params = torch.rand(16, 64, 13, generator=g)
    params[..., 6:8] *= 0.3  # radii up to ~10 px
    canvas = torch.zeros(16, 3, 128, 128)
    target = torch.rand(16, 3, 128, 128, generator=g)
    t0 = time.perf_counter()
    for _ in range(reps):
        p = params.clone().requires_grad_(True)
        (render_bezier13(p, canvas) - target).abs().mean().backward()
    seconds = time.perf_counter() - t0
    choice = last_thread_choice()
    return {"seconds": seconds, "threads": torch.get_num_threads(), "choice": choice and choice.to_dict()}


def script_worker(script: str, argv: list[str], report: str) -> None:
    """Run an entry script in this process (as ``python script ...`` would) and write the thread count
    it used to ``report`` (JSON) at exit."""
    import atexit
    import runpy

    def dump() -> None:
        torch = sys.modules.get("torch")
        from common.threads import last_thread_choice

        choice = last_thread_choice()
        Path(report).write_text(
            json.dumps(
                {
                    "threads": torch.get_num_threads() if torch else None,
                    "choice": choice and choice.to_dict(),
                }
            )
        )

    atexit.register(dump)
    sys.argv = [script, *argv]
    sys.path[0] = str(ROOT / Path(script).parent)
    runpy.run_path(str(ROOT / script), run_name="__main__")


def child_env(threads: str) -> dict:
    """Environment of a measured process: no OMP/MKL thread variables (the policy decides) for "policy"."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "STROKELAB_POLICY_THREADS"):
        env.pop(name, None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def load1() -> float:
    from common.threads import load_average

    return load_average() or 0.0


def timed_run(cmd: list[str], env: dict, timeout: float) -> dict:
    """Run ``cmd``; wall and CPU seconds (this child only), seconds to its first output, exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    first, chunks = None, []
    deadline = t0 + timeout
    while True:
        chunk = proc.stdout.read1(65536) if proc.stdout else b""
        if not chunk:
            break
        if first is None and chunk.strip():
            first = time.perf_counter() - t0
        chunks.append(chunk)
        if time.perf_counter() > deadline:
            proc.kill()
            break
    rc = proc.wait()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    text = b"".join(chunks).decode(errors="replace")
    return {"rc": rc, "wall": wall, "cpu": cpu, "first_output": first, "tail": text[-600:]}


# a pure-Python busy loop that ends by itself once this script is gone (checked every ~50 ms)
BUSY_LOOP = """
import os
parent = os.getppid()
while os.getppid() == parent:
    for _ in range(1_000_000):
        pass
"""


class BusyLoops:
    """``n`` busy-loop processes, started on enter, killed on exit (and ending by themselves if this script
    is killed)."""

    def __init__(self, n: int) -> None:
        self.n, self.procs = n, []

    def __enter__(self) -> BusyLoops:
        for _ in range(self.n):
            self.procs.append(subprocess.Popen([sys.executable, "-c", BUSY_LOOP]))
        time.sleep(1.0 if self.n else 0.0)
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()


def measure(args) -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix="bench_load_"))
    photo = tmp / "astronaut.png"
    import skimage.data
    from PIL import Image

    Image.fromarray(skimage.data.astronaut()).save(photo)  # 512 x 512
    rows = []
    # busy level innermost: the quiet run and the busy runs of one workload are measured back to back
    for work in args.workloads:
        for setting in args.threads:
            for busy in args.busy:
                flag = [] if setting == "policy" else ["--threads", setting]
                report = tmp / "report.json"
                report.unlink(missing_ok=True)
                if work == "renderer":
                    cmd = [sys.executable, __file__, "--worker", "renderer", "--report", str(report), *flag]
                else:
                    out = tmp / f"{work}_{busy}_{setting}"
                    cmd = [sys.executable, __file__, "--worker", "script", "--report", str(report), "--"]
                    cmd += test_command(work, photo, out, args.full) + flag
                with BusyLoops(busy):
                    la = load1()
                    res = timed_run(cmd, child_env(setting), args.timeout)
                info = json.loads(report.read_text()) if report.exists() else {}
                row = {
                    "workload": work,
                    "busy": busy,
                    "setting": setting,
                    "load1_before": la,
                    **{k: res[k] for k in ("rc", "wall", "cpu", "first_output")},
                    "threads_used": info.get("threads"),
                    "choice": info.get("choice"),
                }
                if work == "renderer" and "seconds" in info:
                    row["wall"] = info["seconds"]  # the workload itself, without torch's import
                rows.append(row)
                first = f"{row['first_output']:.1f}" if row["first_output"] is not None else "-"
                print(
                    f"{work:11s} threads {setting:6s} busy {busy} -> used {row['threads_used']}  "
                    f"wall {row['wall']:7.1f} s  cpu {row['cpu']:7.1f} s  first output {first:>5s} s  "
                    f"load1 before {la:.2f}  rc {res['rc']}",
                    flush=True,
                )
                if res["rc"] != 0:
                    print("  " + res["tail"].replace("\n", "\n  "), flush=True)
    return rows


def summary(rows: list[dict]) -> str:
    """Markdown table: wall seconds per busy level (ratio to quiet) per workload and thread setting."""
    busy_levels = sorted({r["busy"] for r in rows})
    head = "| workload | threads | " + " | ".join(f"{b} busy: s (x quiet), load" for b in busy_levels) + " |"
    lines = [head, "|" + "---|" * (2 + len(busy_levels))]
    keys = []
    for r in rows:
        if (r["workload"], r["setting"]) not in keys:
            keys.append((r["workload"], r["setting"]))
    for work, setting in keys:
        cells = []
        by_busy = {r["busy"]: r for r in rows if r["workload"] == work and r["setting"] == setting}
        quiet = by_busy.get(0)
        for b in busy_levels:
            r = by_busy.get(b)
            if r is None or r["rc"] != 0:
                cells.append("failed" if r else "-")
                continue
            ratio = f" ({r['wall'] / quiet['wall']:.2f}x)" if quiet and quiet["rc"] == 0 and b else ""
            used = f", {r['threads_used']} thr" if setting == "policy" else ""
            cells.append(f"{r['wall']:.1f}{ratio}, {r['load1_before']:.1f}{used}")
        lines.append(f"| {work} | {setting} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def startup(repeats: int) -> list[dict]:
    """Wall seconds of ``python SCRIPT --help`` (best of ``repeats``) for every entry script."""
    rows = []
    for script in ENTRY_SCRIPTS:
        best = None
        for _ in range(repeats):
            res = timed_run([sys.executable, script, "--help"], child_env("policy"), 120)
            best = res if best is None or res["wall"] < best["wall"] else best
        la = load1()
        rows.append({"script": script, "help_seconds": best["wall"], "rc": best["rc"], "load1": la})
        print(f"{script:34s} --help {best['wall']:.2f} s  rc {best['rc']}  load1 {la:.2f}", flush=True)
    return rows


def main(argv=None) -> None:
    from common.cli import ArgumentParser, positive_float, positive_int

    parser = ArgumentParser(description=__doc__, thread_policy=False)
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--busy", nargs="+", type=int, choices=(0, 1, 2, 3, 4), default=[0, 1, 2])
    parser.add_argument(
        "--threads", nargs="+", choices=("1", "2", "4", "policy"), default=["1", "2", "policy"]
    )
    parser.add_argument("--full", action="store_true", help="the test.py default runs unchanged")
    parser.add_argument("--timeout", type=positive_float, default=1800.0, help="seconds per run")
    parser.add_argument("--startup", action="store_true", help="time --help of every entry script instead")
    parser.add_argument("--repeats", type=positive_int, default=3, help="--help timings per script (best)")
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill stops the busy loops too
    print(
        f"bench_load: {os.cpu_count()} CPUs, affinity {len(os.sched_getaffinity(0))}, "
        f"load average {os.getloadavg()}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        flush=True,
    )
    if args.startup:
        rows = startup(args.repeats)
    else:
        rows = measure(args)
        print("\n" + summary(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def worker_main(argv: list[str]) -> None:
    """``--worker renderer|script --report FILE [--threads N] [-- SCRIPT ARGS...]`` (internal)."""
    kind, report = argv[1], argv[3]
    rest = argv[4:]
    if kind == "renderer":
        from common.threads import configure_threads

        configure_threads(int(rest[1]) if rest[:1] == ["--threads"] else None)
        Path(report).write_text(json.dumps(renderer_worker()))
    else:
        script_worker(rest[1], rest[2:], report)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker_main(sys.argv[1:])
    else:
        from common.cli import run_main

        run_main(main)
