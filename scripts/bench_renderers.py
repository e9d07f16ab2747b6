"""Benchmark of the differentiable stroke renderers (forward + backward) and their peak memory.

    python scripts/bench_renderers.py --compare --threads 1   # issue 12: old path vs box-over, side by side
    python scripts/bench_renderers.py --compare --workloads segpaint,sketch --timeout 120

``--compare`` (issue 12) runs every workload below once per version (``--versions``, default ``old,new``),
each in a fresh subprocess: ``old`` = the renderers as they were at ``scripts.baseline.BASELINE_COMMIT``
(loaded from git history, the compositing of every renderer before the box-over operation), ``new`` = this
tree, and ``pure`` = this tree with ``STROKELAB_NATIVE=0`` (the pure PyTorch path, no C kernels, as on a GPU
or without a compiler). Per run: seconds per pass (median of
``--reps`` after a warm-up; the two large ones run once, no warm-up), strokes per second, peak resident set
size and its growth during the run (CUDA: ``max_memory_allocated``), and the fraction of the machine's
arithmetic peak: element operations of the pass (every non-view aten op counts one operation per output
element, forward and backward, counted in an extra pass with a dispatch mode; a lower bound of the FLOPs)
per second, over the float32 matrix-multiply rate measured at the start of the same run (2 n^3 / t,
n = 2048). The counter sees aten ops only, not the arithmetic inside the native C kernels
(``common.native``), so the ``new`` rows print no fraction (their JSON keeps the count of the aten ops
around the kernels). Workloads (the issue's):

- ``segpaint``: bezier13 as segpaint paints, ``segpaint.painter.render_windows`` forward + L1 backward on 25
  windows of 128 px (a 512-px image) for each of its four passes (16 / 36 / 49 / 64 strokes per window,
  brushes 0.8 / 0.4 / 0.2 / 0.1, strokes from ``init_strokes``): one pass = all four, 4125 strokes;
- ``sketch``: curve, 64 strokes at 224 x 224, forward + backward (one sketch iteration's rendering);
- ``curve10k``: curve, 10,000 strokes at 1024 x 1024, forward + backward;
- ``dots50k``: dots, 50,000 dots at 2048 x 2048, forward only;
- ``oil``: oil, 1000 strokes at 512 x 512, forward + backward.

A run that exceeds ``--timeout`` seconds or ``--memory_kill_gb`` is killed and reported as such.

The other modes (below) compare the analytic renderers with the neural FCN:

    python scripts/bench_renderers.py                       # full run, 2 threads, CPU (about 10-20 min)
    python scripts/bench_renderers.py --skip_memory --min_seconds 1
    python scripts/bench_renderers.py --skip_speed --renderers oil,bezier13,curve,dots   # memory only
    python scripts/bench_renderers.py --renderers bezier13,fcn --device cuda

What it measures, in one run:
1. Throughput, strokes per second of forward + backward (render, L1 to a fixed target, ``backward()`` to the
   stroke parameters), for each analytic renderer (oil, bezier13, curve, dots) and the neural FCN renderer:
   a) on 128 x 128 patches (``--patch_batch`` patches of ``--patch_strokes`` strokes, the segpaint set-up);
   b) on one 512 x 512 canvas with ``--canvas_strokes`` (1000) strokes.
   The FCN (Learning-to-Paint's, ``common.renderers.neural.FCNRenderer(10)``, random weights: speed does not
   depend on them) sees the 10 geometry values of a bezier13 stroke, renders a 128 x 128 alpha, which is
   bilinearly resized to the canvas and composited with the stroke colour (``composite_parallel``, in
   checkpointed chunks on large canvases); its weights are frozen, gradients flow to the strokes.
2. Peak memory of forward + backward for ``--memory_strokes`` (10,000) strokes on a ``--memory_size`` (1024)
   square canvas per analytic renderer, each in a fresh subprocess: peak resident set size (``ru_maxrss``) and
   its growth over the process's resident size just before rendering (CPU), or ``max_memory_allocated``
   (CUDA). Target: "a few GB" (flagged above ``--memory_limit_gb``, default 4).

Stroke sizes shrink with the stroke count (scale ``sqrt(8 / N)`` of the canvas side) so that every set-up
covers the canvas a few times over, as a painting does. Prints a table and the ratio of bezier13 to FCN
throughput (target >= 5x on the 128-px patches). Also prints coverage-only throughput (``bezier13_alpha``
vs the FCN's output, no compositing) on the 128-px patches, since compositing costs the same for both.
The machine may be shared: say so when quoting numbers.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported by the functions that use it (--help stays fast)
    import torch

ANALYTIC = ("oil", "bezier13", "curve", "dots")
ALL = (*ANALYTIC, "fcn")


# ----------------------------------------------------------------------------------------------------------
# random strokes of each format


def _u(gen: torch.Generator, *shape: int, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    import torch

    return lo + (hi - lo) * torch.rand(*shape, generator=gen)


def make_strokes(name: str, b: int, n: int, size: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Random strokes of one format, sized for ``n`` strokes on a ``size`` x ``size`` canvas (CPU tensors)."""
    import torch

    scale = min(0.5, math.sqrt(8.0 / n))  # typical stroke extent, fraction of the canvas side
    if name == "oil":
        w = scale * _u(gen, b, n, 1, lo=0.5, hi=1.0)
        h = w * _u(gen, b, n, 1, lo=0.2, hi=0.5)
        p = torch.cat([_u(gen, b, n, 2), w, h, _u(gen, b, n, 4)], -1)  # (B, N, 8)
        return {"params": p}
    if name in ("bezier13", "fcn"):
        centre = _u(gen, b, n, 1, 2, lo=0.05, hi=0.95)
        pts = (centre + scale * _u(gen, b, n, 3, 2, lo=-0.5, hi=0.5)).clamp(0, 1).reshape(b, n, 6)
        radius_px = scale * size * _u(gen, b, n, 2, lo=0.04, hi=0.12)  # radius in pixels
        r = ((radius_px / size * 128 - 0.5) / 32).clamp(0, 1)  # LtP mapping (0.5 + 32 r) / 128 * size
        p = torch.cat([pts, r, _u(gen, b, n, 2, lo=0.6, hi=1.0), _u(gen, b, n, 3)], -1)  # (B, N, 13)
        return {"params": p}
    if name == "curve":
        centre = _u(gen, b, n, 1, 2, lo=0.05, hi=0.95)
        cp = (centre + scale * _u(gen, b, n, 4, 2, lo=-0.5, hi=0.5)).clamp(0, 1)  # (B, N, 4, 2)
        widths = _u(gen, b, n, lo=2.0, hi=6.0) / size  # 2-6 px lines
        colors = torch.cat([_u(gen, b, n, 3), torch.ones(b, n, 1)], -1)
        return {"control_points": cp, "widths": widths, "colors": colors}
    if name == "dots":
        radii = scale * _u(gen, b, n, lo=0.1, hi=0.25)
        return {"centers": _u(gen, b, n, 2), "radii": radii, "colors": _u(gen, b, n, 3)}
    raise ValueError(f"unknown renderer {name!r}")


def make_render(name: str, device: torch.device) -> Callable[..., torch.Tensor]:
    """``render(strokes_dict, canvas) -> canvas`` for one renderer."""
    if name == "oil":
        from common.renderers.oil import render_oil

        return lambda s, canvas: render_oil(s["params"], canvas)
    if name == "bezier13":
        from common.renderers.bezier13 import render_bezier13

        return lambda s, canvas: render_bezier13(s["params"], canvas)
    if name == "curve":
        from common.renderers.curve import render_curves

        return lambda s, canvas: render_curves(s["control_points"], s["widths"], s["colors"], canvas)
    if name == "dots":
        from common.renderers.dots import render_dots

        return lambda s, canvas: render_dots(s["centers"], s["radii"], s["colors"], canvas)
    if name == "fcn":
        from common.renderers.neural import FCNRenderer

        fcn = FCNRenderer(10).to(device).eval().requires_grad_(False)
        return lambda s, canvas: render_fcn(fcn, s["params"], canvas)
    raise ValueError(f"unknown renderer {name!r}")


def render_fcn(fcn, params: torch.Tensor, canvas: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """bezier13 strokes through the neural renderer: (B, N, 13) over (B, 3, H, W) -> (B, 3, H, W)."""
    from torch.nn import functional as F
    from torch.utils.checkpoint import checkpoint

    from common.compositing import composite_parallel

    b, n, _ = params.shape
    h, w = canvas.shape[-2:]

    def paint(out: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        alpha = fcn(p[..., :10].reshape(-1, 10))[:, 0]  # (B * n, 128, 128)
        if (h, w) != tuple(alpha.shape[-2:]):
            alpha = F.interpolate(alpha[:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
        return composite_parallel(out, p[..., 10:13], alpha.view(b, -1, h, w))

    out = canvas
    big = h * w > 128 * 128
    for start in range(0, n, chunk if big else n):
        p = params[:, start : start + (chunk if big else n)]
        out = checkpoint(paint, out, p, use_reentrant=False) if big else paint(out, p)
    return out


# ----------------------------------------------------------------------------------------------------------
# measurements


def _sync(device: torch.device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_backward(name: str, b: int, n: int, size: int, device: torch.device, seed: int = 0):
    """Build strokes/target once; return a closure doing one forward + backward pass."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    strokes = {
        k: v.to(device).requires_grad_(v.is_floating_point())
        for k, v in make_strokes(name, b, n, size, gen).items()
    }
    canvas = torch.ones(b, 3, size, size, device=device)
    target = torch.rand(b, 3, size, size, generator=gen).to(device)
    render = make_render(name, device)

    def step() -> None:
        for v in strokes.values():
            v.grad = None
        out = render(strokes, canvas)
        (out - target).abs().mean().backward()

    return step, strokes


def throughput(name: str, b: int, n: int, size: int, device: torch.device, min_seconds: float, max_reps: int):
    """Strokes per second of forward + backward (after one warm-up pass), wall seconds per pass, and CPU
    seconds per pass (``time.process_time``, all threads: less sensitive to other users of the machine)."""
    import torch

    step, strokes = forward_backward(name, b, n, size, device)
    step()  # warm-up (and a check that gradients arrive)
    grads = [v.grad for v in strokes.values() if v.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads), (
        f"{name}: missing/non-finite gradients"
    )
    _sync(device)
    reps, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        step()
        _sync(device)
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds or reps >= max_reps:
            break
    per_pass = elapsed / reps
    return b * n / per_pass, per_pass, (time.process_time() - cpu_start) / reps


def coverage_throughput(name: str, b: int, n: int, device: torch.device, min_seconds: float, max_reps: int):
    """Coverage only (no colour, no compositing) on 128 x 128: ``bezier13_alpha`` vs the FCN's alpha output.

    Returns strokes/s, wall seconds per pass and CPU seconds per pass of forward + backward of
    ``mean |alpha - target|``.
    """
    import torch

    gen = torch.Generator().manual_seed(0)
    params = make_strokes("bezier13", b, n, 128, gen)["params"].to(device).requires_grad_(True)
    target = torch.rand(b, n, 128, 128, generator=gen).to(device)
    if name == "bezier13":
        from common.renderers.bezier13 import bezier13_alpha

        def alpha() -> torch.Tensor:
            return bezier13_alpha(params, 128, 128)
    else:
        from common.renderers.neural import FCNRenderer

        fcn = FCNRenderer(10).to(device).eval().requires_grad_(False)

        def alpha() -> torch.Tensor:
            return fcn(params[..., :10].reshape(-1, 10)).view(b, n, 128, 128)

    def step() -> None:
        params.grad = None
        (alpha() - target).abs().mean().backward()

    step()
    _sync(device)
    reps, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        step()
        _sync(device)
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds or reps >= max_reps:
            break
    return b * n * reps / elapsed, elapsed / reps, (time.process_time() - cpu_start) / reps


def _rss_mb() -> float:
    """Current resident set size in MB (Linux /proc), or NaN where unavailable."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return float("nan")


def memory_child(name: str, n: int, size: int, device: torch.device) -> dict:
    """Run in a fresh process: peak memory of one forward + backward of ``n`` strokes on ``size``^2."""
    import torch

    step, _ = forward_backward(name, 1, n, size, device)
    before_mb = _rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    step()
    _sync(device)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes
    result = {"renderer": name, "peak_rss_mb": peak_mb, "rss_before_mb": before_mb, "seconds": seconds}
    if device.type == "cuda":
        result["cuda_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return result


def _child_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def run_child(
    cmd: list[str], timeout: float, kill_gb: float, env: dict | None = None
) -> tuple[str, str, int, str | None]:
    """Run ``cmd``, watching its resident set: killed above ``kill_gb`` GB or after ``timeout`` seconds (the
    machine is shared). Returns ``(stdout, stderr, returncode, why_killed or None)``; ``stdout`` holds what
    the child printed before a kill."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    start, peak = time.perf_counter(), 0.0
    while proc.poll() is None:
        peak = max(peak, _child_rss_mb(proc.pid))
        elapsed = time.perf_counter() - start
        if peak > kill_gb * 1024 or elapsed > timeout:
            proc.kill()
            out, err = proc.communicate()
            why = f"over {kill_gb:g} GB" if elapsed <= timeout else f"not done in {timeout:g} s"
            return out, err, proc.returncode, f"killed: {why} after {elapsed:.0f} s (RSS seen {peak:.0f} MB)"
        time.sleep(0.2)
    out, err = proc.communicate()
    return out, err, proc.returncode, None


def run_memory(name: str, args) -> dict:
    """Memory run of one renderer in a subprocess (:func:`run_child` with ``--memory_timeout``)."""
    cmd = [
        sys.executable, "-m", "scripts.bench_renderers", "--memory_child", name, "--device", args.device,
        "--threads", str(args.threads), "--memory_strokes", str(args.memory_strokes),
        "--memory_size", str(args.memory_size),
    ]  # fmt: skip
    out, err, code, killed = run_child(cmd, args.memory_timeout, args.memory_kill_gb)
    if killed:
        return {"renderer": name, "error": killed}
    if code != 0:
        tail = (err.strip().splitlines() or ["?"])[-1]
        return {"renderer": name, "error": f"exit {code}: {tail[:200]}"}
    return json.loads(out.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------------------
# --compare: today's path (git history) against the box-over path, per workload (issue 12)

WORKLOADS = ("segpaint", "sketch", "curve10k", "dots50k", "oil")
_SEGPAINT_PASSES = ((16, 0.8, 0.2), (36, 0.4, 0.1), (49, 0.2, 0.05), (64, 0.1, 0.05))  # T, brush, sigma


def _renderer_modules(version: str) -> dict:
    """``{"oil", "bezier13", "curve", "dots", "painter"}`` modules of one version (``old`` from git)."""
    import importlib

    names = {
        "oil": "common.renderers.oil",
        "bezier13": "common.renderers.bezier13",
        "curve": "common.renderers.curve",
        "dots": "common.renderers.dots",
        "painter": "segpaint.painter",
    }
    if version in ("new", "pure"):  # "pure": the child runs with STROKELAB_NATIVE=0 (run_workload)
        return {k: importlib.import_module(v) for k, v in names.items()}
    from scripts.baseline import load_baseline

    base = ("common.compositing",)
    mods = {k: load_baseline(v, redirect=base) for k, v in names.items() if k != "painter"}
    mods["painter"] = load_baseline("segpaint.painter", redirect=(*base, "common.renderers.bezier13"))
    return mods


def build_workload(name: str, version: str, device: torch.device):
    """``(step, strokes per pass, forward_only)`` for one workload; ``step()`` runs one pass."""
    import torch

    mods = _renderer_modules(version)
    gen = torch.Generator().manual_seed(0)
    if name == "segpaint":
        painter, sets = mods["painter"], []
        r_lo = painter.min_radius_unit(512, 512, 128, 128)
        for t, brush, sigma in _SEGPAINT_PASSES:
            target = torch.rand(25, 3, 128, 128, generator=gen)
            base = torch.rand(25, 3, 128, 128, generator=gen)
            raw = painter.init_strokes(target, t, sigma, brush, gen)
            p = painter.constrain(raw, r_lo, brush).to(device).requires_grad_(True)
            sets.append((p, base.to(device), target.to(device)))

        def step() -> None:
            for p, base, target in sets:
                p.grad = None
                (painter.render_windows(p, base, painter.analytic_alpha) - target).abs().mean().backward()

        return step, 25 * sum(t for t, _, _ in _SEGPAINT_PASSES), False
    fmt, n, size, fwd_only = {
        "sketch": ("curve", 64, 224, False),
        "curve10k": ("curve", 10_000, 1024, False),
        "dots50k": ("dots", 50_000, 2048, True),
        "oil": ("oil", 1000, 512, False),
    }[name]
    strokes = {
        k: v.to(device).requires_grad_(v.is_floating_point() and not fwd_only)
        for k, v in make_strokes(fmt, 1, n, size, gen).items()
    }
    canvas = torch.ones(1, 3, size, size, device=device)
    target = torch.rand(1, 3, size, size, generator=gen).to(device)
    m = mods[fmt]
    render = {
        "oil": lambda s, c: m.render_oil(s["params"], c),
        "curve": lambda s, c: m.render_curves(s["control_points"], s["widths"], s["colors"], c),
        "dots": lambda s, c: m.render_dots(s["centers"], s["radii"], s["colors"], c),
    }[fmt]

    def step() -> None:
        if fwd_only:
            with torch.no_grad():
                render(strokes, canvas)
            return
        for v in strokes.values():
            v.grad = None
        (render(strokes, canvas) - target).abs().mean().backward()

    return step, n, fwd_only


def count_element_ops(fn: Callable[[], None]) -> int:
    """Elements written by every non-view aten op that ``fn()`` runs (forward and backward): a lower
    bound of its arithmetic operations (a fused multiply-add or a transcendental counts once)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class Counter(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if not getattr(func, "is_view", False):
                for t in out if isinstance(out, (tuple, list)) else (out,):
                    if isinstance(t, torch.Tensor):
                        Counter.total += t.numel()
            return out

    with Counter():
        fn()
    return Counter.total


def matmul_peak(device: torch.device, n: int = 2048, reps: int = 5) -> float:
    """Float32 matrix-multiply rate in FLOP/s (best of ``reps``, 2 n^3 per product) at the current threads."""
    import torch

    a = torch.rand(n, n, device=device)
    b = torch.rand(n, n, device=device)
    torch.mm(a, b)
    _sync(device)
    best = math.inf
    for _ in range(reps):
        start = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def workload_child(name: str, version: str, device: torch.device, reps: int, count_ops: bool) -> dict:
    """In a fresh process: time, memory and element operations of one workload and version."""
    import torch

    step, strokes, fwd_only = build_workload(name, version, device)
    before_mb = _rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    big = name in ("curve10k", "dots50k")
    times, cpus = [], []
    for i in range(1 if big else reps + 1):
        start, cpu = time.perf_counter(), time.process_time()
        step()
        _sync(device)
        if big or i > 0:  # the first small pass is the warm-up
            times.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
    sec = sorted(times)[len(times) // 2]
    result = {
        "workload": name,
        "version": version,
        "strokes": strokes,
        "forward_only": fwd_only,
        "seconds": sec,
        "cpu_seconds": sorted(cpus)[len(cpus) // 2],
        "strokes_per_s": strokes / sec,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "rss_before_mb": before_mb,
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        result["cuda_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    if count_ops:
        print(json.dumps(result), flush=True)  # the timing survives a --timeout kill during the count
        result["element_ops"] = count_element_ops(step)
    return result


def run_workload(name: str, version: str, args) -> dict:
    """One workload and version in a subprocess (:func:`run_child` with ``--timeout``). A run killed while
    counting operations keeps its timing."""
    import torch

    cmd = [
        sys.executable, "-m", "scripts.bench_renderers", "--workload_child", f"{name}:{version}",
        "--device", args.device, "--threads", str(torch.get_num_threads()), "--reps", str(args.reps),
    ] + (["--no_count_ops"] if args.no_count_ops else [])  # fmt: skip
    env = {**os.environ, "STROKELAB_NATIVE": "0"} if version == "pure" else None
    out, err, code, killed = run_child(cmd, args.timeout, args.memory_kill_gb, env=env)
    lines = [ln for ln in out.strip().splitlines() if ln.startswith("{")]
    if killed:
        if lines and "not done" in killed:  # timed pass done, killed while counting operations
            return {**json.loads(lines[-1]), "note": f"op count {killed}"}
        return {"workload": name, "version": version, "error": killed}
    if code != 0 or not lines:
        tail = (err.strip().splitlines() or ["?"])[-1]
        return {"workload": name, "version": version, "error": f"exit {code}: {tail[:200]}"}
    return json.loads(lines[-1])


def compare(args, device: torch.device) -> dict:
    """The --compare table: old vs new for each workload, with the matmul peak of this run."""
    import torch

    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown:
        raise SystemExit(f"error: unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    versions = [v.strip() for v in args.versions.split(",") if v.strip()]
    if not versions or any(v not in ("old", "pure", "new") for v in versions):
        raise SystemExit(f"error: --versions takes old, pure and/or new, got {args.versions!r}")
    peak = matmul_peak(device)
    print(
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} thread(s); float32 matmul "
        f"peak {peak / 1e9:.1f} GFLOP/s; load {os.getloadavg()[0]:.2f} (shared machine: ratios count)",
        flush=True,
    )
    rows = []
    for name in names:
        for version in versions:
            row = run_workload(name, version, args)
            row["load_average"] = os.getloadavg()[0]
            rows.append(row)
            print(f"  {name:9s} {version}: {json.dumps(row)}", flush=True)
    print()
    head = f"{'workload':9s} {'path':4s} | {'s/pass':>8s} {'CPU s':>7s} {'strokes/s':>10s}"
    head += f" | {'peak RSS MB':>11s}"
    head += f" {'grow':>6s} | {'Gop/s':>6s} {'% peak':>7s} | {'new/old wall, CPU':>17s} | load"
    print(head)
    print("-" * len(head))
    by = {(r["workload"], r["version"]): r for r in rows}
    for r in rows:
        if "error" in r:
            print(f"{r['workload']:9s} {r['version']:4s} | {r['error']} | load {r['load_average']:.1f}")
            continue
        ops, mark = r.get("element_ops"), " "
        if r["version"] == "new":
            # The C kernels cannot be counted by the dispatch mode; they do the pure path's arithmetic (the
            # same chord search, Newton steps and compositing), so the pure row's count stands for it (*).
            ops, mark = by.get((r["workload"], "pure"), {}).get("element_ops"), "*"
        gops = f"{ops / r['seconds'] / 1e9:6.2f}" if ops else "     -"
        frac = f"{100 * ops / r['seconds'] / peak:5.2f}%{mark}" if ops else "      -"
        old = by.get((r["workload"], "old"), {})
        speed = ""
        if r["version"] != "old":
            speed = (
                f"{old['seconds'] / r['seconds']:5.2f}x, {old['cpu_seconds'] / r['cpu_seconds']:5.2f}x"
                if "seconds" in old
                else "(old failed)"
            )
        grow = r["peak_rss_mb"] - r["rss_before_mb"]
        print(
            f"{r['workload']:9s} {r['version']:4s} | {r['seconds']:8.2f} {r['cpu_seconds']:7.2f} "
            f"{r['strokes_per_s']:10.0f} | {r['peak_rss_mb']:11.0f} {grow:+6.0f} | {gops} {frac} | "
            f"{speed:>17s} | load {r['load_average']:.1f}"
        )
    if any(r["version"] == "new" for r in rows):
        print("* new rows: element operations of the pure row (the C kernels do that arithmetic uncounted)")
    return {"matmul_flops": peak, "rows": rows}


# ----------------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    from common.cli import ArgumentParser, positive_float, positive_int

    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--renderers", default=",".join(ALL), help=f"comma list from {','.join(ALL)}")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--threads", type=positive_int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--patch_batch", type=positive_int, default=4, help="128-px patches per pass")
    parser.add_argument("--patch_strokes", type=positive_int, default=64, help="strokes per 128-px patch")
    parser.add_argument("--canvas_strokes", type=positive_int, default=1000, help="strokes on the 512 canvas")
    parser.add_argument("--memory_strokes", type=positive_int, default=10_000)
    parser.add_argument("--memory_size", type=positive_int, default=1024)
    parser.add_argument("--memory_limit_gb", type=positive_float, default=4.0)
    parser.add_argument("--memory_timeout", type=positive_int, default=900, help="seconds per memory run")
    parser.add_argument(
        "--memory_kill_gb", type=positive_float, default=8.0, help="kill a memory run above this RSS (GB)"
    )
    parser.add_argument("--min_seconds", type=positive_float, default=3.0, help="timing window per set-up")
    parser.add_argument("--max_reps", type=positive_int, default=50)
    parser.add_argument("--skip_memory", action="store_true", help="leave out the 10k-stroke memory runs")
    parser.add_argument("--skip_speed", action="store_true", help="only the memory runs")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--memory_child", default=None, help=argparse_hidden())
    parser.add_argument("--compare", action="store_true", help="issue 12: old vs box-over path per workload")
    parser.add_argument(
        "--workloads", default=",".join(WORKLOADS), help=f"with --compare: {','.join(WORKLOADS)}"
    )
    parser.add_argument(
        "--reps", type=positive_int, default=3, help="with --compare: timed passes (small loads)"
    )
    parser.add_argument("--timeout", type=positive_int, default=300, help="with --compare: seconds per run")
    parser.add_argument(
        "--no_count_ops", action="store_true", help="with --compare: skip the op-counting pass"
    )
    parser.add_argument(
        "--versions",
        default="old,new",
        help="with --compare: comma list of old (git baseline), pure (this tree, native kernels off), new",
    )
    parser.add_argument("--workload_child", default=None, help=argparse_hidden())
    args = parser.parse_args(argv)
    import torch

    from common.device import get_device

    torch.set_num_threads(args.threads)
    device = get_device(args.device)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.memory_strokes, args.memory_size, device)))
        return 0
    if args.workload_child:
        name, version = args.workload_child.split(":")
        print(json.dumps(workload_child(name, version, device, args.reps, not args.no_count_ops)))
        return 0
    if args.compare:
        result = compare(args, device)
        if args.json:
            from common.image_io import save_json

            save_json({"args": vars(args), "device": str(device), **result}, args.json)
        return 0

    names = [r.strip() for r in args.renderers.split(",") if r.strip()]
    unknown = [r for r in names if r not in ALL]
    if unknown:
        parser.error(f"unknown renderer(s) {unknown}; choose from {', '.join(ALL)}")
    print(
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads "
        "(the machine may be shared: timings include others' load)"
    )
    rows: dict[str, dict] = {}
    for name in names:
        row = rows.setdefault(name, {})
        if args.skip_speed:
            row.update({f"{k}_{v}": math.nan for k in ("patch", "canvas") for v in ("sps", "s", "cpu_s")})
        else:
            sps, sec, cpu = throughput(
                name, args.patch_batch, args.patch_strokes, 128, device, args.min_seconds, args.max_reps
            )
            row["patch_sps"], row["patch_s"], row["patch_cpu_s"] = sps, sec, cpu
            sps, sec, cpu = throughput(
                name, 1, args.canvas_strokes, 512, device, args.min_seconds, args.max_reps
            )
            row["canvas_sps"], row["canvas_s"], row["canvas_cpu_s"] = sps, sec, cpu
            print(
                f"  {name:9s} 128px: {row['patch_sps']:9.0f} strokes/s   "
                f"512px: {row['canvas_sps']:9.0f} strokes/s",
                flush=True,
            )
        if name in ANALYTIC and not args.skip_memory:
            row["memory"] = run_memory(name, args)
            print(f"  {name:9s} memory: {row['memory']}", flush=True)

    patch = f"128x128, {args.patch_batch}x{args.patch_strokes} strokes"
    canvas = f"512x512, {args.canvas_strokes} strokes"
    mem = f"{args.memory_strokes} strokes @ {args.memory_size}^2"
    print()
    print(f"{'renderer':10s} | {patch:^40s} | {canvas:^40s} | {mem} peak RSS MB (growth)")
    print("-" * 130)
    for name, row in rows.items():
        m = row.get("memory")
        if m is None:
            mtext = "-"
        elif "error" in m:
            mtext = m["error"]
        else:
            grow = m["peak_rss_mb"] - m["rss_before_mb"]
            flag = (
                ""
                if m["peak_rss_mb"] <= args.memory_limit_gb * 1024
                else f"  OVER {args.memory_limit_gb:g} GB"
            )
            cuda = f", cuda {m['cuda_peak_mb']:.0f}" if "cuda_peak_mb" in m else ""
            mtext = f"{m['peak_rss_mb']:.0f} ({grow:+.0f}{cuda}) in {m['seconds']:.1f} s{flag}"
        print(
            f"{name:10s} | {row['patch_sps']:7.0f} ({row['patch_s']:5.2f} s, "
            f"CPU {row['patch_cpu_s']:5.2f} s/pass) | {row['canvas_sps']:6.0f} ({row['canvas_s']:6.1f} s, "
            f"CPU {row['canvas_cpu_s']:6.1f} s/pass) | {mtext}"
        )
    if "bezier13" in rows and "fcn" in rows and not args.skip_speed:
        cover = {
            name: coverage_throughput(
                name, args.patch_batch, args.patch_strokes, device, args.min_seconds, args.max_reps
            )
            for name in ("bezier13", "fcn")
        }
        for name, (sps, sec, cpu) in cover.items():
            rows[name]["coverage_sps"], rows[name]["coverage_s"], rows[name]["coverage_cpu_s"] = sps, sec, cpu
            print(
                f"{name:10s} coverage only, 128x128: {sps:7.0f} strokes/s "
                f"({sec:5.2f} s, CPU {cpu:5.2f} s/pass)"
            )
        for key, label in (
            ("patch", "128-px patches"),
            ("canvas", "512-px canvas"),
            ("coverage", "128-px coverage only"),
        ):
            ratio = rows["bezier13"][f"{key}_sps"] / rows["fcn"][f"{key}_sps"]
            cpu_ratio = rows["fcn"][f"{key}_cpu_s"] / rows["bezier13"][f"{key}_cpu_s"]
            target = " (target >= 5x)" if key == "patch" else ""
            print(
                f"bezier13 / FCN throughput on {label}: {ratio:.2f}x wall clock, "
                f"{cpu_ratio:.2f}x CPU time{target}"
            )
    if args.json:
        from common.image_io import save_json

        save_json({"args": vars(args), "device": str(device), "results": rows}, args.json)
    return 0


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    from common.cli import run_main

    run_main(main)
