"""Benchmark CNP: mode 1 (compositor) vs mode 3 (uniform grid), --refine, trained vs untrained painter.

    python scripts/bench_cnp.py            # astronaut, coffee, chelsea; 200..5000 strokes
    python scripts/bench_cnp.py --counts 200 500 1000 --refine 20 --untrained
    python scripts/bench_cnp.py --images astronaut --counts 1000 --modes 1 --threads 2

Prints one row per (image, strokes, variant) with L2 (MSE), PSNR, SSIM and seconds, then the mode-1 vs
mode-3 PSNR difference per stroke count, and writes all rows to --output_dir/bench_cnp.json. The photos
are skimage's (held out from every shipped training run). Timings depend on the machine's load.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


def main(argv=None) -> int:
    from common.cli import ArgumentParser, add_common_args, non_negative_int, positive_int, prepare_output_dir

    parser = ArgumentParser(description=__doc__)
    add_common_args(parser, output_dir_default="results/bench_cnp")
    parser.add_argument("--images", nargs="+", default=["astronaut", "coffee", "chelsea"])
    parser.add_argument("--counts", nargs="+", type=positive_int, default=[200, 500, 1000, 5000])
    parser.add_argument("--modes", nargs="+", type=int, choices=(1, 2, 3), default=[1, 3])
    parser.add_argument("--size", type=positive_int, default=512)
    parser.add_argument("--refine", type=non_negative_int, default=0, help="also run mode 1 + refine STEPS")
    parser.add_argument("--untrained", action="store_true", help="also run mode 1 with an untrained painter")
    parser.add_argument("--teacher", action="store_true", help="also run mode 1 with the greedy teacher")
    parser.add_argument("--threads", type=positive_int, default=None)
    parser.add_argument("--painter", default=None, help="painter checkpoint (default: the shipped one)")
    parser.add_argument("--compositor", default=None, help="actor checkpoint (default: the shipped one)")
    args = parser.parse_args(argv)

    import skimage.data
    import torch

    from common.checkpoint import default_checkpoint
    from common.device import get_device, seed_everything
    from common.image_io import image_to_tensor, save_image
    from compositor.model import load_actor
    from compositor.run import paint_target
    from painter.model import Painter, load_painter

    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    out = prepare_output_dir(args.output_dir)
    painter = load_painter(args.painter or default_checkpoint("cnp_painter.pt"), device)
    actor = load_actor(args.compositor or default_checkpoint("cnp_compositor.pt"), device)
    untrained = Painter(painter.config).to(device).eval() if args.untrained else None
    loaders = {
        "astronaut": skimage.data.astronaut,
        "coffee": skimage.data.coffee,
        "chelsea": skimage.data.chelsea,
        "camera": skimage.data.camera,
        "rocket": skimage.data.rocket,
    }
    variants = [(f"mode{m}", m, painter, actor, 0) for m in args.modes]
    if args.refine:
        variants.append((f"mode1+refine{args.refine}", 1, painter, actor, args.refine))
    if untrained is not None:
        variants.append(("mode1-untrained-painter", 1, untrained, actor, 0))
    if args.teacher:
        variants.append(("mode1-teacher", 1, painter, None, 0))
    rows = []
    print(
        f"{'image':10s} {'strokes':>7s} {'variant':26s} {'L2':>8s} {'PSNR':>6s} {'SSIM':>6s} {'sec':>7s}",
        flush=True,
    )
    for name in args.images:
        img = image_to_tensor(loaders[name]())
        img = img.expand(-1, 3, -1, -1) if img.shape[1] == 1 else img
        scale = args.size / max(img.shape[-2:])
        size = (round(img.shape[-2] * scale), round(img.shape[-1] * scale))
        target = torch.nn.functional.interpolate(img, size=size, mode="area").clamp(0, 1).to(device)
        for count in args.counts:
            for label, mode, pnt, act, refine in variants:
                seed_everything(args.seed)
                t0 = time.time()
                res = paint_target(target, pnt, act, count, mode, refine)
                seconds = time.time() - t0
                m = res["metrics"]
                row = {
                    "image": name,
                    "strokes": count,
                    "variant": label,
                    "l2": m["mse"],
                    "psnr": m["psnr"],
                    "ssim": m["ssim"],
                    "seconds": seconds,
                    "seconds_paint": res["seconds_paint"],
                    "threads": torch.get_num_threads(),
                    "size": list(size),
                }
                rows.append(row)
                print(
                    f"{name:10s} {count:7d} {label:26s} {m['mse']:8.5f} {m['psnr']:6.2f} {m['ssim']:6.3f} "
                    f"{seconds:7.2f}",
                    flush=True,
                )
                save_image(res["canvas"].cpu(), out / f"{name}_{count}_{label}.png")
                (Path(out) / "bench_cnp.json").write_text(json.dumps(rows, indent=1))
    if 1 in args.modes and 3 in args.modes:
        print("\nPSNR(mode 1) - PSNR(mode 3), per image and stroke count:")
        for name in args.images:
            for count in args.counts:
                p = {r["variant"]: r["psnr"] for r in rows if r["image"] == name and r["strokes"] == count}
                print(f"  {name:10s} {count:5d}: {p['mode1'] - p['mode3']:+.2f} dB")
    return 0


if __name__ == "__main__":
    from common.cli import run_main

    run_main(main)
