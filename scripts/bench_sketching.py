"""Benchmark of the sketching objectives: seconds per iteration and per sketch, 48 strokes, 224 px canvas.

    python scripts/bench_sketching.py                     # edge sketch (full run) + CLIP RN101 + VGG16 timing
    python scripts/bench_sketching.py --photo coffee --clip_iters 3 --json results/bench/sketching.json

Runs, in one process and side by side:
- ``edge``: a complete 48-stroke sketch with the offline edge objective (``--edge_iters`` iterations, one
  round, as ``sketching/test.py --loss edge`` does by default);
- ``edge-3rounds``: the same with ``--auto_roi`` (whole image + 2 automatic regions, 3 x ``--edge_iters``);
- ``clip``: ``--clip_iters`` iterations of MROSS's objective (CLIP RN101 + VGG16, 4 augmented views +
  original) with RANDOM weights (the cost does not depend on the weights); per-sketch time is extrapolated to
  ``--edge_iters`` iterations and to MROSS's 801 iterations per round.
Timings on a shared machine are noisy: the script prints the torch thread count and the load average.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import TYPE_CHECKING

from common.cli import ArgumentParser, positive_int, run_main

if TYPE_CHECKING:  # torch, numpy and the sketching modules are imported after parse_args (--help stays fast)
    import numpy as np
    import torch

    from sketching.pipeline import PreparedImage
    from sketching.sketcher import SketchConfig


def _photo(name: str) -> np.ndarray:
    try:
        from common.data import bundled_photos

        return bundled_photos([name])[name]
    except (ImportError, KeyError):
        from skimage import data

        return getattr(data, name)()


def _prepare(image: torch.Tensor, canvas: int, strokes: int, rounds: int) -> PreparedImage:
    import numpy as np

    from sketching.edges import canny_edges
    from sketching.pipeline import PreparedImage
    from sketching.regions import allocate_strokes, auto_rois

    edges = canny_edges(image)  # square photo: no padding
    masks = auto_rois(edges, rounds - 1)
    counts = [int(edges.sum())] + [int((edges & m).sum()) for m in masks]
    return PreparedImage(
        path=None,
        original_size=tuple(image.shape[-2:]),
        target=image,
        edges=edges,
        content=np.ones((canvas, canvas), bool),
        round_masks=[np.ones((canvas, canvas), bool), *masks],
        round_sources=["whole image"] + ["auto"] * len(masks),
        edge_counts=counts,
        budgets=allocate_strokes(strokes, counts),
    )


def _time_sketch(objective, prepared: PreparedImage, config: SketchConfig) -> dict:
    import torch

    from sketching.sketcher import optimize_sketch

    result = optimize_sketch(
        objective,
        prepared.round_masks,
        prepared.budgets,
        prepared.edges,
        config,
        0,
        torch.device("cpu"),
        progress=False,
    )
    return {
        "iterations": result.iterations,
        "seconds": result.seconds,
        "s_per_iter": result.seconds / max(result.iterations, 1),
        "final_objective": result.best_loss,
        "first_eval": result.eval_curve[0][1],
        "budgets": prepared.budgets,
    }


def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--photo", default="astronaut", help="bundled photo name (default astronaut)")
    p.add_argument("--num_strokes", type=positive_int, default=48)
    p.add_argument("--canvas", type=positive_int, default=224)
    p.add_argument("--edge_iters", type=positive_int, default=300, help="iterations per round (default 300)")
    p.add_argument("--clip_iters", type=positive_int, default=3, help="timed CLIP iterations (default 3)")
    p.add_argument(
        "--threads", type=positive_int, default=1, help="torch threads (default 1: shared machine)"
    )
    p.add_argument("--skip_clip", action="store_true")
    p.add_argument("--skip_rounds", action="store_true")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    import numpy as np
    import torch

    from common.image_io import image_to_tensor, save_json
    from sketching.objectives import build_objective
    from sketching.regions import fit_to_canvas
    from sketching.sketcher import SketchConfig

    torch.set_num_threads(args.threads)
    image = fit_to_canvas(image_to_tensor(_photo(args.photo)), args.canvas).clamp(0, 1)
    rows = {}
    cfg = SketchConfig(num_strokes=args.num_strokes, num_iter=args.edge_iters, canvas=args.canvas)
    edge, _ = build_objective("edge", image)
    seeded = lambda prep: dataclasses.replace(prep, edges=edge.edges)  # noqa: E731 - as sketching/test.py
    rows["edge"] = _time_sketch(edge, seeded(_prepare(image, args.canvas, args.num_strokes, 1)), cfg)
    if not args.skip_rounds:
        three = seeded(_prepare(image, args.canvas, args.num_strokes, 3))
        rows["edge-3rounds"] = _time_sketch(edge, three, cfg)
    if not args.skip_clip:
        torch.manual_seed(0)
        t0 = time.perf_counter()
        clip, _ = build_objective("clip", image, random_weights=True)
        build_s = time.perf_counter() - t0
        prep = _prepare(image, args.canvas, args.num_strokes, 1)
        from sketching.initialization import random_walk_strokes, seed_points
        from sketching.sketcher import render_sketch

        seeds = seed_points(prep.round_masks[0], prep.edges, args.num_strokes, np.random.default_rng(0))
        points = random_walk_strokes(seeds, args.canvas, torch.Generator().manual_seed(0)).requires_grad_(
            True
        )
        opt = torch.optim.Adam([points], lr=1.0)
        with torch.no_grad():
            first = float(clip(render_sketch(points, args.canvas, 1.5), augment=False)["loss"])
        times = []
        for _ in range(args.clip_iters):  # training steps only: render, 5 views, RN101 + VGG16, backward
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = clip(render_sketch(points, args.canvas, 1.5), augment=True)["loss"]
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t0)
        row = {
            "iterations": args.clip_iters,
            "seconds": sum(times),
            "s_per_iter": float(np.median(times)),
            "first_eval": first,
            "final_objective": float(loss.detach()),
        }
        row["model_build_seconds"] = build_s
        row["extrapolated_sketch_seconds_300"] = row["s_per_iter"] * args.edge_iters
        row["extrapolated_mross_round_seconds_801"] = row["s_per_iter"] * 801
        rows["clip+vgg (random weights)"] = row
    load = os.getloadavg()
    print(
        f"photo={args.photo} canvas={args.canvas} strokes={args.num_strokes} torch_threads={args.threads} "
        f"loadavg={load[0]:.1f},{load[1]:.1f} (shared 2-core CPU)"
    )
    print(f"{'objective':28s} {'iters':>6s} {'s/iter':>8s} {'s/sketch':>9s} {'objective first->final':>24s}")
    for name, r in rows.items():
        print(
            f"{name:28s} {r['iterations']:6d} {r['s_per_iter']:8.3f} {r['seconds']:9.1f} "
            f"{r['first_eval']:11.4g} -> {r['final_objective']:.4g}"
        )
    if "clip+vgg (random weights)" in rows:
        c = rows["clip+vgg (random weights)"]
        ratio = c["s_per_iter"] / rows["edge"]["s_per_iter"]
        print(
            f"clip+vgg / edge seconds per iteration: {ratio:.1f}x; a {args.edge_iters}-iteration CLIP sketch "
            f"~{c['extrapolated_sketch_seconds_300']:.0f} s, one MROSS round (801 it) "
            f"~{c['extrapolated_mross_round_seconds_801']:.0f} s"
        )
    target_ok = rows["edge"]["seconds"] <= 300
    print(
        f"edge {args.num_strokes}-stroke sketch {rows['edge']['seconds']:.1f} s: "
        f"target <= 300 s {'met' if target_ok else 'MISSED'}"
    )
    if args.json:
        save_json({"args": vars(args), "loadavg": load, "rows": rows}, args.json)
    return 0


if __name__ == "__main__":
    run_main(main)
