"""Benchmark CNP: mode 1 (multi-scale look-ahead regions; ``--lookahead``: the scheduled look-ahead too,
``--actor``: the trained actor too) vs mode 3 (uniform grid), --refine, trained vs untrained painter.

    python scripts/bench_cnp.py --threads 2   # astronaut, coffee, chelsea, fruits.jpg, home.jpg; 200..5000
    python scripts/bench_cnp.py --counts 200 500 1000 --refine 20 --untrained
    python scripts/bench_cnp.py --images astronaut --counts 1000 --modes 1 --threads 2
    python scripts/bench_cnp.py --actor --teacher     # also the trained actor / its teacher as region pickers
    python scripts/bench_cnp.py --images messi5.jpg rocket --ground black --lookahead   # unseen photos, A/B

Prints one row per (image, strokes, variant) with L2 (MSE), PSNR, SSIM and seconds, then the mode-1 vs
mode-3 PSNR difference per stroke count, and writes all rows to --output_dir/bench_cnp.json. Beside
each photo it prints the PSNR of its 32 x 32 mean-colour mosaic (1024 flat cells), the baseline the
1000-stroke painting has to beat. The photos are skimage's astronaut, coffee, chelsea and Debian
opencv-doc's fruits.jpg and home.jpg (``common.debian_data``; all held out from every shipped training
run). Seconds: the whole call, and ``paint`` the painting alone; they depend on the machine's load.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


def main(argv=None) -> int:
    from common.cli import ArgumentParser, add_common_args, non_negative_int, positive_int, prepare_output_dir

    parser = ArgumentParser(description=__doc__)
    add_common_args(parser, output_dir_default="results/bench_cnp")
    parser.add_argument(
        "--images", nargs="+", default=["astronaut", "coffee", "chelsea", "fruits.jpg", "home.jpg"]
    )
    parser.add_argument("--counts", nargs="+", type=positive_int, default=[200, 500, 1000, 5000])
    parser.add_argument("--modes", nargs="+", type=int, choices=(1, 2, 3), default=[1, 3])
    parser.add_argument("--size", type=positive_int, default=512)
    parser.add_argument("--refine", type=non_negative_int, default=0, help="also run mode 1 + refine STEPS")
    parser.add_argument("--untrained", action="store_true", help="also run mode 1 with an untrained painter")
    parser.add_argument("--teacher", action="store_true", help="also run mode 1 with the greedy teacher")
    parser.add_argument(
        "--actor", action="store_true", help="also run mode 1 with the trained actor (the paper's compositor)"
    )
    parser.add_argument(
        "--lookahead", action="store_true", help="also run mode 1 with the scheduled look-ahead regions"
    )
    parser.add_argument(
        "--ground", choices=("black", "mean"), default="black", help="canvas before the first stroke"
    )
    parser.add_argument("--threads", type=positive_int, default=None)
    parser.add_argument(
        "--side_by_side",
        default=None,
        help="also write photo | mode 3 | mode 1 at 1000 strokes (or the first count) of the first image",
    )
    parser.add_argument("--painter", default=None, help="painter checkpoint (default: the shipped one)")
    parser.add_argument("--compositor", default=None, help="actor checkpoint (default: the shipped one)")
    args = parser.parse_args(argv)

    import skimage.data
    import torch

    from common.checkpoint import default_checkpoint
    from common.debian_data import opencv_doc_photos
    from common.device import get_device, seed_everything
    from common.image_io import image_to_tensor, load_image, save_image
    from common.metrics import psnr
    from compositor.model import load_actor
    from compositor.run import paint_target
    from painter.model import build_painter, load_painter

    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    out = prepare_output_dir(args.output_dir)
    painter = load_painter(args.painter or default_checkpoint("cnp_painter.pt"), device)
    actor = load_actor(args.compositor or default_checkpoint("cnp_compositor.pt"), device)
    untrained = build_painter(painter.config).to(device).eval() if args.untrained else None
    loaders = {
        "astronaut": skimage.data.astronaut,
        "coffee": skimage.data.coffee,
        "chelsea": skimage.data.chelsea,
        "camera": skimage.data.camera,
        "rocket": skimage.data.rocket,
    }
    # (label, mode, painter, actor, refine steps, region policy of modes 1/2)
    variants = [(f"mode{m}", m, painter, actor, 0, "multiscale") for m in args.modes]
    if args.refine:
        variants.append((f"mode1+refine{args.refine}", 1, painter, actor, args.refine, "multiscale"))
    if untrained is not None:
        variants.append(("mode1-untrained-painter", 1, untrained, actor, 0, "multiscale"))
    if args.lookahead:
        variants.append(("mode1-lookahead", 1, painter, actor, 0, "lookahead"))
    if args.actor:
        variants.append(("mode1-actor", 1, painter, actor, 0, "actor"))
    if args.teacher:
        variants.append(("mode1-teacher", 1, painter, None, 0, "teacher"))
    rows = []
    print(
        f"{'image':10s} {'strokes':>7s} {'variant':26s} {'L2':>8s} {'PSNR':>6s} {'SSIM':>6s} {'sec':>7s} "
        f"{'paint':>6s} {'mosaic32':>8s}",
        flush=True,
    )
    mosaics, pictures = {}, {}
    for name in args.images:
        if name in loaders:
            img = image_to_tensor(loaders[name]())
        else:  # an opencv-doc photo (fetched once into the data cache)
            img = load_image(opencv_doc_photos((name,))[name])
        img = img.expand(-1, 3, -1, -1) if img.shape[1] == 1 else img
        scale = args.size / max(img.shape[-2:])
        size = (round(img.shape[-2] * scale), round(img.shape[-1] * scale))
        target = torch.nn.functional.interpolate(img, size=size, mode="area").clamp(0, 1).to(device)
        mosaics[name] = float(psnr(mosaic(target, 32), target))
        pictures[(name, "photo")] = target
        for count in args.counts:
            for label, mode, pnt, act, refine, policy in variants:
                seed_everything(args.seed)
                t0 = time.time()
                res = paint_target(target, pnt, act, count, mode, refine, policy=policy, ground=args.ground)
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
                    "mosaic32_psnr": mosaics[name],
                    "size": list(size),
                    "ground": args.ground,
                    "load_average": round(os.getloadavg()[0], 2),
                }
                rows.append(row)
                print(
                    f"{name:10s} {count:7d} {label:26s} {m['mse']:8.5f} {m['psnr']:6.2f} {m['ssim']:6.3f} "
                    f"{seconds:7.2f} {res['seconds_paint']:6.2f} {mosaics[name]:8.2f}",
                    flush=True,
                )
                save_image(res["canvas"].cpu(), out / f"{name}_{count}_{label}.png")
                pictures[(name, count, label)] = res["canvas"]
                (Path(out) / "bench_cnp.json").write_text(json.dumps(rows, indent=1))
    if args.side_by_side and 1 in args.modes and 3 in args.modes:
        first, count = args.images[0], 1000 if 1000 in args.counts else args.counts[0]
        panels = [
            pictures[(first, "photo")],
            pictures[(first, count, "mode3")],
            pictures[(first, count, "mode1")],
        ]
        strip = torch.cat(
            [
                torch.nn.functional.interpolate(
                    p, size=(256, round(256 * p.shape[-1] / p.shape[-2])), mode="area"
                )
                for p in panels
            ],
            -1,
        )
        save_image(strip.cpu(), args.side_by_side, quality=85)
        print(f"wrote {args.side_by_side} ({first}, {count} strokes: photo | mode 3 | mode 1)")
    if 1 in args.modes and 3 in args.modes:
        print("\nPSNR(mode 1) - PSNR(mode 3), per image and stroke count:")
        for name in args.images:
            for count in args.counts:
                p = {r["variant"]: r["psnr"] for r in rows if r["image"] == name and r["strokes"] == count}
                print(f"  {name:10s} {count:5d}: {p['mode1'] - p['mode3']:+.2f} dB")
    if 1 in args.modes:
        print("\nPSNR(mode 1) - PSNR(32 x 32 mosaic):")
        for r in rows:
            if r["variant"] == "mode1":
                print(f"  {r['image']:10s} {r['strokes']:5d}: {r['psnr'] - r['mosaic32_psnr']:+.2f} dB")
    return 0


def mosaic(image, cells: int):
    """Mean-colour mosaic of a (1, 3, H, W) image: a ``cells`` x ``cells`` grid of flat cells (cell
    borders at ``round(i * H / cells)``), each filled with the mean colour of the photo under it."""
    import torch

    h, w = image.shape[-2:]
    ys = [round(i * h / cells) for i in range(cells + 1)]
    xs = [round(i * w / cells) for i in range(cells + 1)]
    out = torch.empty_like(image)
    for i in range(cells):
        for j in range(cells):
            cell = image[..., ys[i] : ys[i + 1], xs[j] : xs[j + 1]]
            out[..., ys[i] : ys[i + 1], xs[j] : xs[j + 1]] = cell.mean((-2, -1), keepdim=True)
    return out


if __name__ == "__main__":
    from common.cli import run_main

    run_main(main)
