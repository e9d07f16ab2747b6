"""Benchmark the line refiner: quality on held-out synthetic pairs, speed and memory on HD/4K drawings.

    python scripts/bench_linerefiner.py                       # everything, both shipped styles
    python scripts/bench_linerefiner.py --pairs 50 --skip_speed
    python scripts/bench_linerefiner.py --skip_quality --sizes 1920x1080

Quality: for each style, ``--pairs`` held-out pairs (seeds >= 1e9, never used in training) of ``--size`` px
(default 128; the core renderer makes 256 px pairs 15x slower):
PSNR (dB, data range 1) and line IoU (pixels darker than 0.5 in both / in either) of the output against the
target, next to the identity baseline (input as output) and a classical baseline (morphological close with
a 3x3 ellipse, then a Gaussian blur of sigma 0.7 px).

Speed: a synthetic drawing of each size in ``--sizes`` is written as PNG and refined by
``linerefiner/test.py`` in a child process (tiled, and with ``--tile 0`` whole-image at the first size);
wall seconds, the child's CPU seconds (user + system, independent of other load) and its peak resident set
(ru_maxrss) are reported. Tiled and whole-image outputs
are compared in float in-process (max abs difference) at the first size.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from common.cli import ArgumentParser, positive_int, run_main
from common.image_io import save_image
from linerefiner.inference import load_refiner, refine_tiled, refine_whole
from linerefiner.synth import HELDOUT_SEED_BASE, STYLES, make_pair, random_drawing


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two [0, 1] arrays (data range 1)."""
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def line_iou(a: np.ndarray, b: np.ndarray, threshold: float = 0.5) -> float:
    """IoU of the line masks ``a < threshold`` and ``b < threshold`` (1.0 when both are empty)."""
    ma, mb = a < threshold, b < threshold
    union = np.logical_or(ma, mb).sum()
    return float(np.logical_and(ma, mb).sum() / union) if union else 1.0


def classical(x: np.ndarray) -> np.ndarray:
    """Morphological close of the ink (fills small gaps), then Gaussian blur sigma 0.7 px; (H, W) [0, 1]."""
    ink = 1.0 - x
    ink = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    return np.clip(1.0 - cv2.GaussianBlur(ink, (0, 0), 0.7), 0, 1)


def quality(style: str, pairs: int, size: int) -> dict[str, dict[str, float]]:
    """Mean PSNR / IoU of refiner, identity and classical outputs on held-out pairs of one style."""
    g, cfg, _ = load_refiner(None, style)
    res = {k: {"psnr": [], "iou": []} for k in ("refiner", "identity", "classical")}
    for i in range(pairs):
        x, y = make_pair(HELDOUT_SEED_BASE + i, size, size, style)
        out = refine_whole(g, x[None])[0, 0].numpy()
        xn, yn = x[0].numpy(), y[0].numpy()
        for name, pred in (("refiner", out), ("identity", xn), ("classical", classical(xn))):
            res[name]["psnr"].append(psnr(pred, yn))
            res[name]["iou"].append(line_iou(pred, yn))
    return {k: {m: float(np.mean(v)) for m, v in d.items()} for k, d in res.items()}


def timing_drawing(seed: int, height: int, width: int) -> torch.Tensor:
    """A large thin-line drawing for the timing runs only: ``(1, 1, H, W)`` float32 in [0, 1].

    Same random strokes as :func:`linerefiner.synth.random_drawing`, drawn as 1 px anti-aliased polylines with
    OpenCV (the differentiable core renderer takes minutes on a 4K canvas and its gradients are not needed).
    """
    canvas = np.full((height, width), 255, np.uint8)
    t = np.linspace(0, 1, 33)[:, None]
    u = 1 - t
    for stroke in random_drawing(seed, height, width):
        pts = np.concatenate(
            [u**3 * p[0] + 3 * u * u * t * p[1] + 3 * u * t * t * p[2] + t**3 * p[3] for p in stroke]
        )
        cv2.polylines(canvas, [np.round(pts * 16).astype(np.int32)], False, 0, 1, cv2.LINE_AA, 4)
    return torch.from_numpy(canvas.astype(np.float32) / 255.0)[None, None]


_MEASURE = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[1:]).returncode\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print('MEASURE', u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def run_child(cmd: list[str], cwd: Path) -> tuple[float, float, float, int]:
    """Run ``cmd`` in ``cwd``; return (wall s, CPU s (user + system), peak RSS MB, exit status) of that child.

    The child is started from a small Python wrapper, because a child forked from this (large) process
    would report this process's resident set as its own peak. CPU seconds do not grow when other jobs share
    the machine; wall seconds do.
    """
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("MEASURE ")]
    if proc.returncode or not lines:
        print(proc.stderr[-2000:], file=sys.stderr)
    _, rss_kb, cpu = lines[-1].split() if lines else ("", "0", "0")
    return wall, float(cpu), float(rss_kb) / 1024, proc.returncode


def speed(
    style: str, sizes: list[tuple[int, int]], tile: int, quick: bool = False, bf16: bool = False
) -> None:
    """Time ``linerefiner/test.py`` on synthetic drawings; compare tiled and whole-image output."""
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        for k, (w, h) in enumerate(sizes):
            t0 = time.perf_counter()
            x = timing_drawing(HELDOUT_SEED_BASE + 7, h, w)[0]
            src = Path(tmp) / f"drawing_{w}x{h}.png"
            save_image(x[None], src)
            ink = float((x < 0.5).float().mean())
            print(
                f"  {w}x{h}: drawing rendered in {time.perf_counter() - t0:.0f} s ({ink:.1%} ink pixels)",
                flush=True,
            )
            base = [
                sys.executable,
                "-m",
                "linerefiner.test",
                "--input",
                str(src),
                "--style",
                style,
                "--device",
                "cpu",
            ]
            runs = [("tiled", ["--tile", str(tile)])]
            if bf16:
                runs.append(("tiled, bf16", ["--tile", str(tile), "--bf16"]))
            if k == 0 and not quick:
                runs += [
                    ("tiled, no blank skip", ["--tile", str(tile), "--no_skip_blank"]),
                    ("whole image", ["--tile", "0"]),
                ]
            for name, extra in runs:
                sec, cpu, rss, rc = run_child(
                    base + ["--output", str(Path(tmp) / name.replace(" ", "_"))] + extra, repo
                )
                status = "" if rc == 0 else f"  (exit {rc})"
                print(
                    f"  {w}x{h} {name:22s}: {sec:6.1f} s wall, {cpu:6.1f} CPU-s, "
                    f"peak RSS {rss:6.0f} MB{status}",
                    flush=True,
                )
            if k == 0:
                first = x
    if not quick:  # in-process, after the timed children (their peak RSS is measured separately anyway)
        (w, h), x = sizes[0], first
        g, cfg, _ = load_refiner(None, style)
        whole = refine_whole(g, x[None])
        tiled = refine_tiled(g, x[None], cfg, tile)
        tiled_all = refine_tiled(g, x[None], cfg, tile, skip_blank=False)
        print(
            f"  {w}x{h} max |tiled - whole| = {(tiled - whole).abs().max().item():.2e} "
            f"(no blank skip: {(tiled_all - whole).abs().max().item():.2e})",
            flush=True,
        )


def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--styles", nargs="+", default=sorted(STYLES), choices=sorted(STYLES))
    p.add_argument("--pairs", type=positive_int, default=200)
    p.add_argument("--size", type=positive_int, default=128, help="side of the quality pairs in px")
    p.add_argument("--sizes", nargs="+", default=["1920x1080", "3840x2160"])
    p.add_argument("--tile", type=positive_int, default=512)
    p.add_argument("--threads", type=positive_int, default=None)
    p.add_argument("--skip_quality", action="store_true")
    p.add_argument("--skip_speed", action="store_true")
    p.add_argument(
        "--quick_speed", action="store_true", help="only the tiled runs (no whole-image comparisons)"
    )
    p.add_argument("--no_bf16", action="store_true", help="do not time --bf16 runs")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()} "
        "(machine shared: timings under load)"
    )
    if not args.skip_quality:
        print(f"quality on {args.pairs} held-out pairs of {args.size}x{args.size} px per style")
        print(f"{'style':8s} {'method':10s} {'PSNR dB':>8s} {'line IoU':>9s}")
        for style in args.styles:
            t0 = time.perf_counter()
            q = quality(style, args.pairs, args.size)
            for name, m in q.items():
                print(f"{style:8s} {name:10s} {m['psnr']:8.2f} {m['iou']:9.3f}", flush=True)
            print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    if not args.skip_speed:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
        print(f"speed/memory of linerefiner/test.py, style {args.styles[0]}, tile {args.tile}")
        speed(args.styles[0], sizes, args.tile, args.quick_speed, not args.no_bf16)
    return 0


if __name__ == "__main__":
    run_main(main)
