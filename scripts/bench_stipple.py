"""Benchmark the stipplers and the network on skimage's astronaut, coffee and camera.

    python scripts/bench_stipple.py
    python scripts/bench_stipple.py --points 1024 4096 --checkpoint checkpoints/stipple_net.pt --threads 1

For every photo (longer side 512 px) and point count: seconds per image of WVS (50 Lloyd iterations), LBG and
the network (median of 3 runs after a warm-up; the network's time includes its allocation and radii), tone
PSNR/SSIM of the Gaussian-blurred render (sigma = dot spacing) against the grayscale input, with each
method's own radii and with uniform radii (positions only), and the two-way Chamfer distance of the
network's points to the WVS points; the same for the untrained network (the priors alone, see
stipple/__init__.py). Prints one table and the target ratios; --json writes the numbers.
All methods run with the same --threads (default 1: the bench machine is a shared 2-core CPU).
"""

from __future__ import annotations

import statistics
import time

import torch

from common.checkpoint import default_checkpoint
from common.cli import ArgumentParser, positive_int, run_main
from common.data import bundled_photo_tensor
from common.image_io import save_json
from stipple.evaluate import chamfer_to, tone_metrics, with_uniform_radii
from stipple.inference import load_stipple_net, predict_stipples
from stipple.model import StippleNet
from stipple.stipplers import lbg_stippling, weighted_voronoi_stippling

PHOTOS = ("astronaut", "coffee", "camera")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--points", type=positive_int, nargs="+", default=[1024, 4096])
    p.add_argument("--photos", nargs="+", default=list(PHOTOS))
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--alt_checkpoint", default=None, help="a second network, measured on the same WVS points")
    p.add_argument("--n_iter", type=positive_int, default=50)
    p.add_argument("--max_side", type=positive_int, default=512)
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument("--json", default=None, help="write all numbers here")
    return p


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    model, ckpt = load_stipple_net(args.checkpoint or default_checkpoint("stipple_net.pt"))
    # the same architecture untrained: with the priors on, this is what the network draws before learning
    torch.manual_seed(0)
    untrained = StippleNet(model.config, random_weights=True).eval()
    alt = load_stipple_net(args.alt_checkpoint)[0] if args.alt_checkpoint else None
    rows = []
    for name in args.photos:
        image = bundled_photo_tensor(name, max_side=args.max_side)
        for n in args.points:
            gen = torch.Generator().manual_seed(0)
            wvs_list, t_wvs = _timed(weighted_voronoi_stippling, image, n, n_iter=args.n_iter, generator=gen)
            wvs = wvs_list[0]
            lbg, t_lbg = _timed(lbg_stippling, image, n, max_iter=args.n_iter, generator=gen)
            predict_stipples(model, image, n)  # warm-up
            times = []
            for _ in range(3):
                net, t = _timed(predict_stipples, model, image, n)
                times.append(t)
            t_net = statistics.median(times)
            row = {"photo": name, "points": n}
            for key, st, sec in (("wvs", wvs, t_wvs), ("lbg", lbg, t_lbg), ("net", net, t_net)):
                tm, tu = tone_metrics(st, image), tone_metrics(with_uniform_radii(st, image), image)
                row[key] = {
                    "seconds": sec,
                    "count": len(st),
                    "tone_psnr": tm["tone_psnr"],
                    "tone_ssim": tm["tone_ssim"],
                    "tone_psnr_uniform": tu["tone_psnr"],
                    "tone_ssim_uniform": tu["tone_ssim"],
                }
            prior = predict_stipples(untrained, image, n)
            row["net_untrained"] = {
                "tone_psnr": tone_metrics(prior, image)["tone_psnr"],
                "chamfer_to_wvs": chamfer_to(prior, wvs),
            }
            if alt is not None:
                predict_stipples(alt, image, n)
                alt_st, t_alt = _timed(predict_stipples, alt, image, n)
                row["net_alt"] = {
                    "seconds": t_alt,
                    "tone_psnr": tone_metrics(alt_st, image)["tone_psnr"],
                    "tone_ssim": tone_metrics(alt_st, image)["tone_ssim"],
                    "chamfer_to_wvs": chamfer_to(alt_st, wvs),
                }
                print(f"  alt checkpoint: {row['net_alt']}", flush=True)
            row["net"]["chamfer_to_wvs"] = chamfer_to(net, wvs)
            row["lbg"]["chamfer_to_wvs"] = chamfer_to(lbg, wvs)
            row["speedup_wvs_over_net"] = t_wvs / t_net
            row["psnr_gap_wvs_minus_net"] = row["wvs"]["tone_psnr"] - row["net"]["tone_psnr"]
            rows.append(row)
            print(
                f"{name:9s} N={n:5d} | s/img WVS {t_wvs:7.2f} LBG {t_lbg:7.2f} net {t_net:6.3f} "
                f"(x{row['speedup_wvs_over_net']:.0f}) | tone PSNR/SSIM WVS {row['wvs']['tone_psnr']:.2f}/"
                f"{row['wvs']['tone_ssim']:.3f} LBG {row['lbg']['tone_psnr']:.2f}/"
                f"{row['lbg']['tone_ssim']:.3f} "
                f"net {row['net']['tone_psnr']:.2f}/{row['net']['tone_ssim']:.3f} | uniform-radii PSNR WVS "
                f"{row['wvs']['tone_psnr_uniform']:.2f} LBG {row['lbg']['tone_psnr_uniform']:.2f} net "
                f"{row['net']['tone_psnr_uniform']:.2f} | Chamfer net-WVS {row['net']['chamfer_to_wvs']:.2e} "
                f"LBG-WVS {row['lbg']['chamfer_to_wvs']:.2e} | untrained net PSNR "
                f"{row['net_untrained']['tone_psnr']:.2f} "
                f"Chamfer {row['net_untrained']['chamfer_to_wvs']:.2e}",
                flush=True,
            )
    speedups = [r["speedup_wvs_over_net"] for r in rows]
    gaps = [r["psnr_gap_wvs_minus_net"] for r in rows]
    print(
        f"target net >= 100x faster than WVS: min x{min(speedups):.0f}, "
        f"median x{statistics.median(speedups):.0f} "
        f"-> {'met' if min(speedups) >= 100 else 'NOT met'}"
    )
    print(
        f"target net tone PSNR within 2 dB of WVS: max gap {max(gaps):.2f} dB, "
        f"mean {statistics.mean(gaps):.2f} dB "
        f"-> {'met' if max(gaps) <= 2 else 'NOT met'}"
    )
    print(
        f"checkpoint provenance: {ckpt['provenance'].get('command', '?')} | threads {args.threads}; "
        "CPU shared with other jobs, timings are under load"
    )
    if args.json:
        save_json({"rows": rows, "threads": args.threads, "n_iter": args.n_iter}, args.json)
    return 0


if __name__ == "__main__":
    run_main(main)
