"""Speed under load: the renderer workload and every test.py, with 0, 1 and 2 busy processes beside them.

    python scripts/bench_load.py --quick --json runs/bench_load_quick.json   # the whole table, ~12 min quiet
    python scripts/bench_load.py                                  # everything (reduced test.py runs)
    python scripts/bench_load.py --workloads renderer --busy 0 1  # the renderer workload only
    python scripts/bench_load.py --full --threads policy --busy 0 # the test.py default runs in full
    python scripts/bench_load.py --startup                        # --help time of every entry script

Side by side in one run: each workload, with each thread setting (``1``, ``2``: ``--threads N``, as shipped,
i.e. with the policy's short OpenMP spin ``GOMP_SPINCOUNT=1000``; ``2d``: 2 threads with libgomp's default
spin, ``GOMP_SPINCOUNT=300000``, what torch did before; ``2s``: the short spin set explicitly; ``2p``: 2
threads with passive waits, ``OMP_WAIT_POLICY=PASSIVE``; ``policy``: no flag and no ``OMP_NUM_THREADS``, what
``common/threads.py`` decides), runs in a fresh process once per busy level (0, 1, 2 busy-loop processes that
this script starts just before and stops just after, each in a session of its own, as another user's
program), the busy levels back to back:

- ``renderer``: bezier13 forward + backward (L1 to a target, gradients to the strokes) on 16 windows of
  128 px x 64 strokes, 5 times (issue 16's workload), with the default backend (the native C kernels on a
  CPU, single-threaded); ``renderer_torch`` the same on the pure PyTorch path (``STROKELAB_NATIVE=0``: many
  small parallel regions, the case the thread policy was made for); ``fine`` / ``coarse``: the same
  element-wise work in small or large parallel regions (a synthetic check of the barrier cost);
- ``segpaint``, ``cnp``, ``stipple``, ``linerefiner``, ``sketching``: that test.py on skimage's astronaut at
  512 x 512 px. By default a reduced but representative run (the default flags, with fewer iterations where
  the default run takes minutes: segpaint ``--iter_steps 5`` (all 4 passes, 1/10 of the default's 50 Adam
  steps per pass), sketching ``--num_iter 30`` (1/10)); ``--full`` runs the defaults unchanged.

``--quick``: the complete table in about 12 minutes on the quiet 2-core machine: the --help time of every
entry script (once each), ``renderer`` with 1, 2, 2d and policy at 0, 1, 2 busy; ``renderer_torch`` with 1,
2, 2d, 2p at 0 and 1 busy (2 busy: minutes of spinning, left out); every test.py (reduced as above) with the
policy at 0 and 1 busy; each run cut at ``--timeout`` (default 300 s with --quick).

Printed per run: wall seconds, CPU seconds of the process (of the workload alone for the kernel workloads),
the thread count the process used (for the policy: what it chose), the wall and CPU seconds from the command
to its first progress line (a line with ``k/n``: startup, imports, model loading), and the 1-minute load
average before it started (the background load of the machine, the busy loops included). The table at the
end gives each busy level's wall time divided by the quiet (0 busy) wall time of the same workload and
setting: the target is at most 1.5x with one busy process. On a shared machine the "quiet" level is only as
quiet as the other users allow: compare the load averages, and the CPU seconds (less sensitive to load).
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ("renderer", "segpaint", "cnp", "stipple", "linerefiner", "sketching")
KERNEL_WORKLOADS = (
    "renderer",
    "renderer_torch",
    "fine",
    "coarse",
)  # measured in a worker, torch's import excluded
SHORT_SPIN = 1000  # GOMP_SPINCOUNT of the "s" settings (common.threads.SPIN_COUNT, the policy's)
LIBGOMP_SPIN = 300000  # libgomp's own default (OMP_WAIT_POLICY unset), the "d" settings


def entry_scripts() -> list[str]:
    """Every entry script: ``<method>/*.py`` (folders with ``__init__.py`` but common/ and tests/) and
    ``scripts/*.py`` with a ``__main__`` block (the same list as ``tests/common/test_startup.py``)."""
    found = []
    for path in sorted(ROOT.glob("*/*.py")):
        folder = path.parent
        if folder.name in ("common", "tests") or not (
            folder.name == "scripts" or (folder / "__init__.py").is_file()
        ):
            continue
        if '__name__ == "__main__"' in path.read_text(encoding="utf-8"):
            found.append(path.relative_to(ROOT).as_posix())
    return found


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


def _timed(t0: float, c0: float) -> dict:
    """Wall and CPU seconds since ``t0`` (perf_counter) and ``c0`` (process_time), with the torch thread
    count and the thread policy's choice of this process."""
    import torch

    from common.threads import last_thread_choice

    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    choice = last_thread_choice()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "threads": torch.get_num_threads(),
        "choice": choice and choice.to_dict(),
    }


def renderer_worker(reps: int = 5) -> dict:
    """The renderer workload in this process; returns seconds and the thread choice."""
    import torch

    from common.renderers.bezier13 import render_bezier13

    g = torch.Generator().manual_seed(0)
    params = torch.rand(16, 64, 13, generator=g)
    params[..., 6:8] *= 0.3  # radii up to ~10 px
    canvas = torch.zeros(16, 3, 128, 128)
    target = torch.rand(16, 3, 128, 128, generator=g)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps):
        p = params.clone().requires_grad_(True)
        (render_bezier13(p, canvas) - target).abs().mean().backward()
    return _timed(t0, c0)


def regions_worker(chunk: int) -> dict:
    """The same element-wise work (sin + mul-add on 2**22 floats, 2000 rounds) in parallel regions of
    ``chunk`` elements: ``fine`` (2**17 elements, ~0.1 ms per region with 1 thread, like the renderers'
    small ops; 3 x 32 regions per round) or ``coarse`` (the whole 2**22 in one region per op)."""
    import torch

    x = torch.rand(2**22, generator=torch.Generator().manual_seed(0))
    out = torch.empty_like(x)
    parts = list(zip(x.split(chunk), out.split(chunk), strict=True))
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(2000):
        for src, dst in parts:
            torch.sin(src, out=dst)
            dst.mul_(0.5).add_(src)
    return _timed(t0, c0)


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
    """Environment of a measured process: no OMP/MKL thread variables (the policy decides) for "policy";
    a setting ending in "d" (``2d``) runs libgomp's default wait (``GOMP_SPINCOUNT=300000``, milliseconds of
    spinning before a waiting thread sleeps; what torch did before the policy set a short spin), one ending
    in "s" (``2s``) the short spin explicitly (``GOMP_SPINCOUNT`` = :data:`SHORT_SPIN`, what the policy sets
    for every setting without a suffix), one ending in "p" (``2p``) passive waits
    (``OMP_WAIT_POLICY=PASSIVE``: a waiting thread sleeps at once)."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "STROKELAB_POLICY_THREADS"):
        env.pop(name, None)
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        env.pop(name, None)
    if threads.endswith("d"):
        env["GOMP_SPINCOUNT"] = str(LIBGOMP_SPIN)
    if threads.endswith("s"):
        env["GOMP_SPINCOUNT"] = str(SHORT_SPIN)
    if threads.endswith("p"):
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def load1() -> float:
    from common.threads import load_average

    return load_average() or 0.0


PROGRESS = re.compile(rb"\d+/\d+")  # a progress line: tqdm's "3/50" or "pass 1/4"


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) used so far by the running process ``pid``."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def timed_run(cmd: list[str], env: dict, timeout: float) -> dict:
    """Run ``cmd`` (killed after ``timeout`` s: rc -9); wall and CPU seconds (this child only), and the
    wall and CPU seconds to its first output and to its first progress line (:data:`PROGRESS`)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    first = first_cpu = progress = progress_cpu = None
    chunks = []
    try:
        while True:
            chunk = proc.stdout.read1(65536) if proc.stdout else b""
            if not chunk:
                break
            if first is None and chunk.strip():
                first, first_cpu = time.perf_counter() - t0, process_cpu(proc.pid)
            if progress is None and PROGRESS.search(chunk):
                progress, progress_cpu = time.perf_counter() - t0, process_cpu(proc.pid)
            chunks.append(chunk)
        rc = proc.wait()
    finally:
        watchdog.cancel()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    text = b"".join(chunks).decode(errors="replace")
    return {
        "rc": rc,
        "wall": wall,
        "cpu": cpu,
        "first_output": first,
        "first_output_cpu": first_cpu,
        "first_progress": progress,
        "first_progress_cpu": progress_cpu,
        "tail": text[-600:],
    }


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
            # a session of its own, as another user's program: with the kernel's autogroup scheduling
            # (sched_autogroup_enabled = 1, the default) CPU time is shared fairly between sessions first,
            # so a busy loop inside this script's session would take time from the measured run's share
            # only, not from the machine's other users.
            self.procs.append(subprocess.Popen([sys.executable, "-c", BUSY_LOOP], start_new_session=True))
        time.sleep(1.0 if self.n else 0.0)
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()


QUICK_PLAN = (
    ("renderer", ("1", "2", "2d", "policy"), (0, 1, 2)),
    ("renderer_torch", ("1", "2", "2d", "2p"), (0, 1)),
    *((work, ("policy",), (0, 1)) for work in ("segpaint", "cnp", "stipple", "linerefiner", "sketching")),
)


def plan(args) -> list[tuple[str, str, int]]:
    """(workload, thread setting, busy level) in measuring order: busy level innermost, so that the quiet
    run and the busy runs of one workload and setting are measured back to back."""
    if args.quick:
        return [(w, t, b) for w, settings, levels in QUICK_PLAN for t in settings for b in levels]
    return [(w, t, b) for w in args.workloads for t in args.threads for b in args.busy]


def measure(args) -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix="bench_load_"))
    photo = tmp / "astronaut.png"
    import skimage.data
    from PIL import Image

    Image.fromarray(skimage.data.astronaut()).save(photo)  # 512 x 512
    rows = []
    for work, setting, busy in plan(args):
        flag = [] if setting == "policy" else ["--threads", setting.rstrip("dps")]
        report = tmp / "report.json"
        report.unlink(missing_ok=True)
        if work in KERNEL_WORKLOADS:
            cmd = [sys.executable, __file__, "--worker", work, "--report", str(report), *flag]
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
            **{k: v for k, v in res.items() if k != "tail"},
            "threads_used": info.get("threads"),
            "choice": info.get("choice"),
        }
        if work in KERNEL_WORKLOADS and "seconds" in info:
            row["wall"] = info["seconds"]  # the workload itself, without torch's import
            row["cpu"] = info["cpu_seconds"]
        rows.append(row)
        first = "-"
        if row["first_progress"] is not None:
            first = f"{row['first_progress']:5.1f} s (cpu {row['first_progress_cpu'] or 0:4.1f} s)"
        print(
            f"{work:11s} threads {setting:6s} busy {busy} -> used {row['threads_used']}  "
            f"wall {row['wall']:7.1f} s  cpu {row['cpu']:7.1f} s  first progress line {first}  "
            f"load1 before {la:.2f}  rc {res['rc']}",
            flush=True,
        )
        if res["rc"] != 0:
            print("  " + res["tail"].replace("\n", "\n  "), flush=True)
    return rows


def summary(rows: list[dict]) -> str:
    """Markdown table: per workload and thread setting, for each busy level: wall seconds (ratio to the
    quiet run), CPU seconds, load average before; a run cut at ``--timeout`` shows as ``> N s (cut)``."""
    busy_levels = sorted({r["busy"] for r in rows})
    head = "| workload | threads | " + " | ".join(f"{b} busy: s (x quiet), CPU s, load" for b in busy_levels)
    lines = [head + " |", "|" + "---|" * (2 + len(busy_levels))]
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
            if r is None:
                cells.append("-")
                continue
            if r["rc"] == -signal.SIGKILL:
                cells.append(f"> {r['wall']:.0f} (cut), {r['cpu']:.1f}, {r['load1_before']:.1f}")
                continue
            if r["rc"] != 0:
                cells.append("failed")
                continue
            ratio = f" ({r['wall'] / quiet['wall']:.2f}x)" if quiet and quiet["rc"] == 0 and b else ""
            used = f", {r['threads_used']} thr" if setting == "policy" else ""
            cells.append(f"{r['wall']:.1f}{ratio}, {r['cpu']:.1f}, {r['load1_before']:.1f}{used}")
        lines.append(f"| {work} | {setting} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def first_line_summary(rows: list[dict]) -> str:
    """Markdown table: seconds (CPU seconds) from the command to the first progress line of each test.py."""
    lines = ["| test.py | threads | busy | first progress line: s (CPU s) | load |", "|---|---|---|---|---|"]
    for r in rows:
        if r["workload"] in KERNEL_WORKLOADS:
            continue
        first = "none"
        if r["first_progress"] is not None:
            first = f"{r['first_progress']:.1f} ({r['first_progress_cpu'] or 0:.1f})"
        lines.append(
            f"| {r['workload']} | {r['setting']} | {r['busy']} | {first} | {r['load1_before']:.1f} |"
        )
    return "\n".join(lines)


def startup(repeats: int) -> list[dict]:
    """Wall seconds of ``python SCRIPT --help`` (best of ``repeats``) for every entry script."""
    rows = []
    for script in entry_scripts():
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
    parser.add_argument(
        "--workloads", nargs="+", choices=WORKLOADS + KERNEL_WORKLOADS[1:], default=list(WORKLOADS)
    )
    parser.add_argument("--busy", nargs="+", type=int, choices=(0, 1, 2, 3, 4), default=[0, 1, 2])
    parser.add_argument(
        "--threads",
        nargs="+",
        choices=("1", "2", "4", "2d", "4d", "2s", "4s", "2p", "4p", "policy"),
        default=["1", "2", "policy"],
    )
    parser.add_argument("--full", action="store_true", help="the test.py default runs unchanged")
    parser.add_argument(
        "--timeout", type=positive_float, default=None, help="seconds per run (default 1800, --quick 300)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="the complete short table (--help times + the plan above)"
    )
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
    args.timeout = args.timeout or (300.0 if args.quick else 1800.0)
    if args.startup:
        rows = startup(args.repeats)
    elif args.quick:
        help_rows = startup(1)
        rows = measure(args)
        print("\n" + summary(rows) + "\n\n" + first_line_summary(rows))
        rows = {"help": help_rows, "runs": rows}
    else:
        rows = measure(args)
        print("\n" + summary(rows) + "\n\n" + first_line_summary(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def worker_main(argv: list[str]) -> None:
    """``--worker renderer|script --report FILE [--threads N] [-- SCRIPT ARGS...]`` (internal)."""
    kind, report = argv[1], argv[3]
    rest = argv[4:]
    if kind in KERNEL_WORKLOADS:
        from common.threads import configure_threads

        configure_threads(int(rest[1]) if rest[:1] == ["--threads"] else None)
        if kind.startswith("renderer"):
            if kind == "renderer_torch":  # the pure PyTorch path: many small parallel regions
                os.environ["STROKELAB_NATIVE"] = "0"
            result = renderer_worker()
        else:
            result = regions_worker(2**17 if kind == "fine" else 2**22)
        Path(report).write_text(json.dumps(result))
    else:
        script_worker(rest[1], rest[2:], report)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker_main(sys.argv[1:])
    else:
        from common.cli import run_main

        run_main(main)
