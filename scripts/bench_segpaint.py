"""Benchmark segpaint (realistic style) on bundled photos: L1, PSNR, SSIM, strokes and seconds per image.

    python scripts/bench_segpaint.py                                   # astronaut, coffee, chelsea at 512 px
    python scripts/bench_segpaint.py --preset paper                    # the paper's 300 steps per pass
    python scripts/bench_segpaint.py --images astronaut --iter_steps 50 --threads 1
    python scripts/bench_segpaint.py --renderer neural                 # the shipped FCN renderer instead

Targets (issue 2): mean L1 <= 0.035 at 512 px with about 4000 strokes (the paper reports 0.016-0.038),
at most 10 minutes per image on the 2-core CPU. Results are printed as a table and, with --output_dir,
written with every painting's outputs (segpaint/test.py's layout).
"""

from __future__ import annotations

import os
import time


def main(argv=None) -> None:
    from common.cli import ArgumentParser, positive_int

    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--images", nargs="+", default=["astronaut", "coffee", "chelsea"])
    parser.add_argument("--max_side", type=positive_int, default=512)
    parser.add_argument("--preset", choices=("default", "paper"), default="default", help="segpaint budget")
    parser.add_argument(
        "--iter_steps", type=positive_int, default=None, help="Adam steps per pass (overrides --preset)"
    )
    parser.add_argument("--renderer", choices=["analytic", "neural"], default="analytic")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_dir", default=None, help="also keep the paintings here")
    args = parser.parse_args(argv)

    import torch

    from common.data import bundled_photo_tensor
    from common.metrics import image_metrics
    from segpaint.config import style_config
    from segpaint.painter import analytic_alpha, paint
    from segpaint.run import load_neural_renderer

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = style_config("realistic", preset=args.preset, iter_steps=args.iter_steps, max_side=args.max_side)
    alpha_fn = load_neural_renderer(torch.device("cpu")) if args.renderer == "neural" else analytic_alpha
    rows = []
    print(
        f"segpaint realistic, {args.renderer} renderer, {cfg.iter_steps} steps/pass, "
        f"{torch.get_num_threads()} thread(s)"
    )
    for name in args.images:
        image = bundled_photo_tensor(name, max_side=args.max_side)
        t0, c0 = time.time(), time.process_time()
        res = paint(image, cfg, alpha_fn, seed=args.seed, log=lambda m: print("  " + m, flush=True))
        sec, cpu = time.time() - t0, time.process_time() - c0
        m = image_metrics(res.canvas, image)
        rows.append((name, tuple(image.shape[-2:]), m, int(res.strokes.shape[0]), sec))
        print(
            f"{name:10s} {image.shape[-1]}x{image.shape[-2]}  L1 {m['l1']:.4f}  PSNR {m['psnr']:.2f}  "
            f"SSIM {m['ssim']:.3f}  strokes {res.strokes.shape[0]}  {sec:.0f} s ({cpu:.0f} CPU-s, "
            f"load {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        if args.output_dir:
            from pathlib import Path

            from common.image_io import save_image, save_strokes

            out = Path(args.output_dir)
            out.mkdir(parents=True, exist_ok=True)
            save_image(res.canvas, out / f"{name}.png")
            save_strokes(out / f"{name}_strokes.json", "bezier13", res.strokes, *image.shape[-2:])
    mean_l1 = sum(r[2]["l1"] for r in rows) / len(rows)
    print(
        f"mean L1 {mean_l1:.4f} (target <= 0.035); max seconds {max(r[4] for r in rows):.0f} (target <= 600)"
    )


if __name__ == "__main__":
    from common.cli import run_main

    run_main(main)
