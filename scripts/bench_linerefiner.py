"""Benchmark the line refiner: quality on held-out synthetic pairs, speed and memory on HD/4K drawings.

    python scripts/bench_linerefiner.py                       # everything, both shipped styles
    python scripts/bench_linerefiner.py --pairs 50 --skip_speed
    python scripts/bench_linerefiner.py --skip_quality --sizes 1920x1080
    python scripts/bench_linerefiner.py --checkpoint taper=runs/linerefiner_taper/refiner_best.pt --skip_speed

Quality: for each style, ``--pairs`` held-out pairs (seeds 1e9 + i, never used in training; density 20
strokes per 256^2 px) of ``--size`` px, scored by :mod:`linerefiner.metrics`: share of gaps <= 8 px and of
9-12 px bridged (connected components of the thresholded output inside each gap's box), share of specks
removed, line precision / recall within 2 px of the target's ink, share of paper pixels exactly 1.0 and mean
paper value. Next to the refiner: identity (input as output) and the classical OpenCV clean-up
(:func:`classical`: paper flattening, Otsu, closing with a 3, 7 or 11 px ellipse, removal of
components under 25 px). ``--checkpoint STYLE=PATH`` scores another checkpoint than the shipped one.

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
from argparse import ArgumentTypeError
from pathlib import Path
from typing import TYPE_CHECKING

from common.cli import ArgumentParser, positive_int, run_main
from linerefiner.config import STYLE_NAMES  # the names of linerefiner.synth.STYLES, without torch

if TYPE_CHECKING:  # numpy, OpenCV and torch are imported by the functions that use them (--help stays fast)
    import numpy as np
    import torch


def classical(x: np.ndarray, close_px: int = 7, min_area: int = 25) -> np.ndarray:
    """The classical clean-up a sceptic would run (OpenCV), ``(H, W)`` [0, 1] -> binary ``(H, W)`` {0, 1}.

    Paper flattening (divide by the background: a 15 px max filter of the gray, blurred), Otsu binarisation
    of the flattened image, a morphological closing of the ink with a ``close_px`` ellipse (bridges gaps up
    to about that size, and merges lines closer than it), then speck removal (connected ink components under
    ``min_area`` px, 8-connectivity). Closing before the speck removal and 25 px were the best of the orders
    and of 12 / 25 / 40 / 60 px tried on 80 held-out pairs (removing first deletes the line fragments between
    two gaps).
    """
    import cv2
    import numpy as np

    bg = cv2.GaussianBlur(cv2.dilate(x, np.ones((15, 15), np.uint8)), (0, 0), 3)
    flat = np.clip(x / np.maximum(bg, 1e-3), 0, 1)
    u8 = (flat * 255).astype(np.uint8)
    t, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = (u8 < min(t, 200)).astype(np.uint8)
    if close_px > 1:
        ellipse = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_px, close_px))
        ink = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, ellipse)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    keep = np.zeros(n, np.uint8)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return 1.0 - keep[labels].astype(np.float32)


def quality(
    style: str, pairs: int, size: int, checkpoint: str | None = None, threads: int | None = None
) -> dict[str, dict[str, float]]:
    """Metrics (:func:`linerefiner.metrics.summarise`) of the refiner and the baselines on held-out pairs."""
    import torch

    from linerefiner.inference import load_refiner, refine_whole
    from linerefiner.metrics import score_drawing, summarise
    from linerefiner.synth import heldout_samples

    g, cfg, _ = load_refiner(checkpoint, style)
    methods = {
        "refiner": lambda x: refine_whole(g, torch.from_numpy(x)[None, None])[0, 0].numpy(),
        "identity": lambda x: x,
        "opencv close 3": lambda x: classical(x, 3),
        "opencv close 7": lambda x: classical(x, 7),
        "opencv close 11": lambda x: classical(x, 11),
    }
    scores = {k: [] for k in methods}
    for smp in heldout_samples(style, pairs, size):
        for name, fn in methods.items():
            out = fn(smp.input)
            scores[name].append(score_drawing(out, smp.input, smp.target, smp.gaps, smp.specks))
    return {k: summarise(v) for k, v in scores.items()}


def timing_drawing(seed: int, height: int, width: int) -> torch.Tensor:
    """A large thin-line drawing for the timing runs only: ``(1, 1, H, W)`` float32 in [0, 1].

    Same random strokes as :func:`linerefiner.synth.random_drawing`, drawn as 1 px anti-aliased polylines with
    OpenCV (the differentiable core renderer takes minutes on a 4K canvas and its gradients are not needed).
    """
    import cv2
    import numpy as np
    import torch

    from linerefiner.synth import random_drawing

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
    style: str,
    sizes: list[tuple[int, int]],
    tile: int,
    quick: bool = False,
    bf16: bool = False,
    checkpoint: str | None = None,
    threads: int = 2,
) -> None:
    """Time ``linerefiner/test.py`` on synthetic drawings; compare tiled and whole-image output."""
    from common.image_io import save_image
    from linerefiner.inference import load_refiner, refine_tiled, refine_whole
    from linerefiner.synth import HELDOUT_SEED_BASE

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
                "--threads",
                str(threads),
                *(["--checkpoint", str(Path(checkpoint).resolve())] if checkpoint else []),
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
        g, cfg, _ = load_refiner(checkpoint, style)
        whole = refine_whole(g, x[None])
        tiled = refine_tiled(g, x[None], cfg, tile)
        tiled_all = refine_tiled(g, x[None], cfg, tile, skip_blank=False)
        print(
            f"  {w}x{h} max |tiled - whole| = {(tiled - whole).abs().max().item():.2e} "
            f"(no blank skip: {(tiled_all - whole).abs().max().item():.2e})",
            flush=True,
        )


def _style_path(text: str) -> tuple[str, str]:
    style, _, path = text.partition("=")
    if style not in STYLE_NAMES or not path:
        raise ArgumentTypeError(f"expected STYLE=PATH with STYLE in {list(STYLE_NAMES)}, got {text!r}")
    return style, path


def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--styles", nargs="+", default=list(STYLE_NAMES), choices=list(STYLE_NAMES))
    p.add_argument("--pairs", type=positive_int, default=200)
    p.add_argument("--size", type=positive_int, default=128, help="side of the quality pairs in px")
    p.add_argument(
        "--checkpoint",
        type=_style_path,
        action="append",
        default=[],
        metavar="STYLE=PATH",
        help="score this checkpoint instead of the shipped one of STYLE (repeatable)",
    )
    p.add_argument("--sizes", nargs="+", default=["1920x1080", "3840x2160"])
    p.add_argument("--tile", type=positive_int, default=512)
    p.add_argument("--threads", type=positive_int, default=None)
    p.add_argument("--skip_quality", action="store_true")
    p.add_argument("--skip_speed", action="store_true")
    p.add_argument(
        "--quick_speed", action="store_true", help="only the tiled runs (no whole-image comparisons)"
    )
    p.add_argument("--no_bf16", action="store_true", help="do not time --bf16 runs")
    p.add_argument("--child_threads", type=positive_int, default=2, help="--threads of the timed test.py")
    args = p.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()} "
        "(machine shared: timings under load)"
    )
    if not args.skip_quality:
        print(f"quality on {args.pairs} held-out pairs of {args.size}x{args.size} px per style")
        head = "gaps<=8  gaps9-12  specks  precision  recall  paper=1.0  paper mean"
        print(f"{'style':6s} {'method':16s} {head}")
        for style in args.styles:
            t0 = time.perf_counter()
            q = quality(style, args.pairs, args.size, dict(args.checkpoint).get(style))
            for name, m in q.items():
                print(
                    f"{style:6s} {name:16s} {m['gaps_closed_short']:7.1%} {m['gaps_closed_long']:9.1%} "
                    f"{m['specks_removed']:7.1%} {m['precision']:10.3f} {m['recall']:7.3f} "
                    f"{m['paper_white']:10.1%} {m['paper_mean']:11.4f}",
                    flush=True,
                )
            print(
                f"  ({q['refiner']['gaps_short']} gaps <= 8 px, {q['refiner']['gaps_long']} of 9-12 px, "
                f"{q['refiner']['specks']} specks scored; {time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    if not args.skip_speed:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
        print(f"speed/memory of linerefiner/test.py, style {args.styles[0]}, tile {args.tile}")
        style = args.styles[0]
        ck = dict(args.checkpoint).get(style)
        speed(style, sizes, args.tile, args.quick_speed, not args.no_bf16, ck, args.child_threads)
    return 0


if __name__ == "__main__":
    run_main(main)
