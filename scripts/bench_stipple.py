"""Benchmark the stipplers and the network: tone, speed, regularity and blue noise, side by side in one run.

    python scripts/bench_stipple.py             # everything (about an hour on a busy 2-core CPU)
    python scripts/bench_stipple.py --points 1024 --photos camera fruits.jpg --skip peer threads
    python scripts/bench_stipple.py --classical_cache runs/bench_classical.json   # reuse WVS/LBG results

Sections (``--skip`` any of them):

- ``peer``: the issue's comparison with the published weighted Voronoi stippler (Secord 2002; ReScience
  2017 replication, numbers quoted in the issue: 23.2 dB on fruits.jpg, 22.5 dB on messi5.jpg): 512-px photo,
  N = 5000, 50 Lloyd iterations, "peer tone PSNR" (:func:`stipple.evaluate.peer_tone_psnr`: discs of radius
  0.5 sqrt(HW / (pi N)) on white, Gaussian blur sigma 3 px on both, the blurred render normalised to the
  blurred input's mean and std), for the new WVS and for today's path (``--legacy``: whole-pixel labels,
  raw density, cold jump flooding), both timed here.
- ``regularity``: flat 50 % gray, 512 px, 2000 points: nearest-neighbour distance mean / std of the new WVS,
  today's path, the network and uniform random points.
- ``photos``: astronaut, coffee, camera (scikit-image) and fruits, home, messi5 (Debian opencv-doc) at
  longer side 512 px, for every ``--points``: seconds and tone PSNR/SSIM (``stipple.evaluate.tone_metrics``,
  blur sigma = dot spacing, each method's own radii) of WVS (50 Lloyd iterations), today's WVS path (at the
  ``--legacy_points`` counts), LBG and the network (median of 3 runs; alone, with 1 exact Lloyd step and
  with ``CALIBRATE`` tone-calibration steps on its radii, the extra seconds of each reported separately),
  plus the peer tone PSNR of each.
- ``blue_noise``: constant 50 % gray, 512 px, N = 1024 and 4096 (``--blue_points``): mean periodogram
  (3 seeds and gray levels 0.50 / 0.51 / 0.52; the network's seed picks the window of its blue-noise slot
  pattern) at the lattice frequency |k| = sqrt(N) over the mean for |k| in [1.5, 2] sqrt(N)
  ("peak"), and the mean anisotropy (dB) over |k| in [0.75, 1.5] sqrt(N), WVS vs network. Blue noise has
  its own peak near sqrt(N) (the mean spacing); a lattice adds line power there, concentrated in angle,
  which the anisotropy shows.
- ``speed``: WVS and the network timed side by side in this run (the ``photos`` section may take WVS's
  seconds from ``--classical_cache``, measured at another load): per photo and count, WVS once and the network
  as its median of 3, each after an untimed warm-up (WVS: 256 points, 2 iterations, once per run, so that the
  first cell does not pay scipy's import and first-call costs; the network: one untimed call per cell), the
  photo loaded and resized before either clock starts; wall seconds and process CPU seconds
  (``time.process_time``, less sensitive to the other jobs on the machine), and their ratios.
- ``threads``: WVS at 4096 points on camera with 1 and 2 torch threads (machine load printed beside).

Prints one line per measurement and the target verdicts; ``--json`` writes all numbers; ``--figure`` writes
net | WVS | LBG crops at 100 % zoom (camera, 4096 points).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from typing import TYPE_CHECKING

from common.cli import ArgumentParser, positive_int, run_main

if TYPE_CHECKING:  # torch and the stipplers are imported by the functions that use them (--help stays fast)
    import torch

    from stipple.stipplers import Stipples

BUNDLED = ("astronaut", "coffee", "camera")
OPENCV = ("fruits.jpg", "home.jpg", "messi5.jpg")
# today's WVS path when issue 13 was filed: jump-flooding raster, whole-pixel labels, raw density, cold jump
# flooding, independent initial samples (run with this version's jump-flooding code, which is faster)
LEGACY = {"method": "raster", "init": "random", "subpixel": 1, "normalize": False, "warm_start": False}
PEER = {"fruits.jpg": 23.2, "messi5.jpg": 22.5}
CALIBRATE = 1  # calibration steps of the "net+cal" rows (test.py's default; stipple.inference.calibrate_tone)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--points", type=positive_int, nargs="+", default=[1024, 4096, 16384])
    p.add_argument("--legacy_points", type=positive_int, nargs="*", default=[1024, 4096, 16384])
    p.add_argument("--lbg_points", type=positive_int, nargs="*", default=[1024, 4096, 16384])
    p.add_argument("--photos", nargs="+", default=list(BUNDLED + OPENCV))
    p.add_argument("--blue_points", type=positive_int, nargs="+", default=[1024, 4096])
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--no_net", action="store_true", help="classical methods only (fill the cache)")
    p.add_argument("--n_iter", type=positive_int, default=50)
    p.add_argument("--max_side", type=positive_int, default=512)
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=("peer", "regularity", "photos", "speed", "blue_noise", "threads"),
    )
    p.add_argument("--classical_cache", default=None, help="json of WVS/LBG results to reuse (and to write)")
    p.add_argument("--json", default=None, help="write all numbers here")
    p.add_argument("--figure", default=None, help="write the net | WVS | LBG crop comparison PNG here")
    return p


def _load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def photo(name: str, max_side: int) -> torch.Tensor:
    from common.data import bundled_photo_tensor
    from common.debian_data import opencv_doc_photos
    from common.image_io import load_image

    if name.endswith(".jpg"):
        return load_image(opencv_doc_photos((name,))[name], max_side=max_side)
    return bundled_photo_tensor(name, max_side=max_side)


def wvs(image, n, n_iter, seed=0, **kw) -> Stipples:
    import torch

    from stipple.stipplers import weighted_voronoi_stippling

    return weighted_voronoi_stippling(
        image, n, n_iter=n_iter, generator=torch.Generator().manual_seed(seed), **kw
    )[0]


def _clocked(fn, *args, **kwargs):
    """(result, wall seconds, process CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def section_speed(args, out, model):
    import torch

    from stipple.inference import predict_stipples

    rows = []
    wvs(torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)), 256, 2)  # untimed warm-up
    for name in args.photos:
        image = photo(name, args.max_side)
        for n in args.points:
            _, w_wall, w_cpu = _clocked(wvs, image, n, args.n_iter)
            load_w = _load()
            predict_stipples(model, image, n, calibrate=0)  # untimed warm-up
            runs = [_clocked(predict_stipples, model, image, n, calibrate=0)[1:] for _ in range(3)]
            n_wall = statistics.median(r[0] for r in runs)
            n_cpu = statistics.median(r[1] for r in runs)
            cal = [_clocked(predict_stipples, model, image, n, calibrate=CALIBRATE)[1:] for _ in range(3)]
            c_wall = statistics.median(r[0] for r in cal)
            c_cpu = statistics.median(r[1] for r in cal)
            row = {
                "photo": name,
                "points": n,
                "wvs_seconds": w_wall,
                "wvs_cpu_seconds": w_cpu,
                "net_seconds": n_wall,
                "net_cpu_seconds": n_cpu,
                "speedup": w_wall / n_wall,
                "speedup_cpu": w_cpu / n_cpu,
                "net_cal_seconds": c_wall,
                "net_cal_cpu_seconds": c_cpu,
                "speedup_cal": w_wall / c_wall,
                "speedup_cal_cpu": w_cpu / c_cpu,
                "load_wvs": load_w,
                "load_net": _load(),
            }
            rows.append(row)
            print(
                f"speed {name:10s} N={n:5d} | wall WVS {w_wall:6.2f} s net {n_wall * 1e3:6.1f} ms "
                f"x{row['speedup']:.0f} | CPU WVS {w_cpu:6.2f} s net {n_cpu * 1e3:6.1f} ms "
                f"x{row['speedup_cpu']:.0f} | net+cal wall x{row['speedup_cal']:.0f} CPU "
                f"x{row['speedup_cal_cpu']:.0f} | WVS {load_w}, net {row['load_net']}",
                flush=True,
            )
    out["speed"] = rows


def _net_timed(model, image, n):
    from stipple.inference import calibrate_tone, predict_stipples
    from stipple.stipplers import lloyd_relax

    predict_stipples(model, image, n, calibrate=0)  # warm-up
    times = []
    for _ in range(3):
        st, t = _timed(predict_stipples, model, image, n, calibrate=0)
        times.append(t)
    relaxed, t_relax = _timed(lloyd_relax, image, st, 1)
    calibrated, t_cal = _timed(calibrate_tone, image, st, CALIBRATE)
    return st, statistics.median(times), relaxed, t_relax, calibrated, t_cal


def _save_cache(args, cache) -> None:
    from common.image_io import save_json

    if args.classical_cache:
        save_json(cache, args.classical_cache)


def section_peer(args, out, cache):
    from stipple.evaluate import peer_tone_psnr

    rows = []
    for name in ("fruits.jpg", "messi5.jpg"):
        key = f"peer/{name}/{args.n_iter}"
        if key not in cache:
            image = photo(name, 512)
            new, t_new = _timed(wvs, image, 5000, args.n_iter)
            old, t_old = _timed(wvs, image, 5000, args.n_iter, **LEGACY)
            cache[key] = {
                "photo": name,
                "peer_quoted": PEER[name],
                "new": peer_tone_psnr(new, image),
                "legacy": peer_tone_psnr(old, image),
                "seconds_new": t_new,
                "seconds_legacy": t_old,
                "load": _load(),
            }
            _save_cache(args, cache)
        row = cache[key]
        t_new, t_old = row["seconds_new"], row["seconds_legacy"]
        rows.append(row)
        print(
            f"peer N=5000 {name}: peer tone PSNR new {row['new']:.2f} dB, today's path "
            f"{row['legacy']:.2f} dB, peer (quoted) {PEER[name]} dB | s new {t_new:.1f} today {t_old:.1f} "
            f"(x{t_old / t_new:.2f}) | {row['load']}",
            flush=True,
        )
    out["peer"] = rows


def section_regularity(args, out, model, cache):
    import torch

    from stipple.evaluate import nn_regularity
    from stipple.inference import predict_stipples

    flat = torch.full((1, 3, 512, 512), 0.5)
    key = f"regularity/{args.n_iter}"
    if key not in cache:
        cache[key] = {
            "wvs": nn_regularity(wvs(flat, 2000, args.n_iter).positions, 512, 512),
            "legacy": nn_regularity(wvs(flat, 2000, args.n_iter, **LEGACY).positions, 512, 512),
            "random": nn_regularity(
                torch.rand(2000, 2, generator=torch.Generator().manual_seed(0)), 512, 512
            ),
        }
        _save_cache(args, cache)
    res = dict(cache[key])
    if model is not None:
        res["net"] = nn_regularity(predict_stipples(model, flat, 2000).positions, 512, 512)
    out["regularity"] = res
    print(
        "regularity (NN distance mean/std, flat gray 512 px, 2000 points): "
        + ", ".join(f"{k} {v:.2f}" for k, v in res.items())
    )


def _metrics(st, image, seconds):
    from stipple.evaluate import peer_tone_psnr, tone_metrics

    tm = tone_metrics(st, image)
    return {
        "seconds": seconds,
        "tone_psnr": tm["tone_psnr"],
        "tone_ssim": tm["tone_ssim"],
        "peer_psnr": peer_tone_psnr(st, image),
    }


def section_photos(args, out, model, cache):
    import torch

    from stipple.stipplers import lbg_stippling

    rows = []
    for name in args.photos:
        image = photo(name, args.max_side)
        for n in args.points:
            key = f"{name}/{n}/{args.n_iter}"
            if key not in cache:
                st_w, t_w = _timed(wvs, image, n, args.n_iter)
                cache[key] = {"wvs": _metrics(st_w, image, t_w), "load": _load()}
                _save_cache(args, cache)
            if n in args.legacy_points and "legacy" not in cache[key]:
                st_o, t_o = _timed(wvs, image, n, args.n_iter, **LEGACY)
                cache[key]["legacy"] = {**_metrics(st_o, image, t_o), "load": _load()}
                _save_cache(args, cache)
            if n in args.lbg_points and "lbg" not in cache[key]:
                gen = torch.Generator().manual_seed(0)
                st_l, t_l = _timed(lbg_stippling, image, n, max_iter=args.n_iter, generator=gen)
                cache[key]["lbg"] = _metrics(st_l, image, t_l)
                _save_cache(args, cache)
            row = {"photo": name, "points": n, **cache[key]}
            if model is not None:
                st_n, t_n, st_r, t_r, st_c, t_c = _net_timed(model, image, n)
                row["net"] = _metrics(st_n, image, t_n)
                row["net_relax1"] = {**_metrics(st_r, image, t_n + t_r), "relax_seconds": t_r}
                row["net_cal"] = {**_metrics(st_c, image, t_n + t_c), "calibrate_seconds": t_c}
                row["gap_cal_db"] = row["wvs"]["tone_psnr"] - row["net_cal"]["tone_psnr"]
                row["speedup"] = row["wvs"]["seconds"] / t_n
                row["gap_db"] = row["wvs"]["tone_psnr"] - row["net"]["tone_psnr"]
            rows.append(row)
            line = f"{name:10s} N={n:5d} | s WVS {row['wvs']['seconds']:7.2f}"
            for k, label in (("lbg", "LBG"), ("legacy", "today")):
                if k in row:
                    line += f" {label} {row[k]['seconds']:7.2f}"
            line += f" | tone WVS {row['wvs']['tone_psnr']:.2f}"
            for k, label in (("lbg", "LBG"), ("legacy", "today")):
                if k in row:
                    line += f" {label} {row[k]['tone_psnr']:.2f}"
            if model is not None:
                line += (
                    f" net {row['net']['tone_psnr']:.2f} net+1 Lloyd {row['net_relax1']['tone_psnr']:.2f}"
                    f" net+cal {row['net_cal']['tone_psnr']:.2f}"
                    f" | s net {t_n:.3f} (x{row['speedup']:.0f}) +1 Lloyd {t_r:.3f} +cal {t_c:.3f}"
                )
            line += f" | peer PSNR WVS {row['wvs']['peer_psnr']:.2f}"
            if model is not None:
                line += f" net {row['net']['peer_psnr']:.2f}"
            print(line + f" | {cache[key]['load']}", flush=True)
    out["photos"] = rows


def spectrum_stats(points: list[torch.Tensor], n: int) -> dict[str, float]:
    """Lattice peak and anisotropy of the mean periodogram of point sets on [0, 1)^2 (see module doc)."""
    import torch

    from common.losses.spectrum import half_plane_frequencies, point_periodogram, radial_average

    root = math.sqrt(n)
    kmax = int(2.1 * root)
    freqs = half_plane_frequencies(kmax, dtype=torch.float64)
    power = torch.stack(
        [point_periodogram(p[None].double(), kmax=kmax, freqs=freqs)[0][0] for p in points]
    ).mean(0)
    mean, var = radial_average(power[None], freqs, kmax)
    mean, var = mean[0], var[0]
    r = torch.arange(1, kmax + 1, dtype=torch.float64) + 0.5  # annulus centres
    at = (r - root).abs() < 1.0
    ref = (r >= 1.5 * root) & (r <= 2 * root)
    band = (r >= 0.75 * root) & (r <= 1.5 * root)
    aniso = 10 * torch.log10(var / mean.square().clamp(min=1e-12))
    return {"peak": float(mean[at].max() / mean[ref].mean()), "anisotropy_db": float(aniso[band].mean())}


def section_blue_noise(args, out, model, cache):
    import torch

    from stipple.inference import predict_stipples

    res = {}
    for n in args.blue_points:
        key = f"blue_noise/{n}/{args.n_iter}"
        sets = {"wvs": [], "net": []}
        for run in range(3):
            gray = 0.5 + 0.01 * run
            image = torch.full((1, 3, 512, 512), gray)
            if key not in cache:
                sets["wvs"].append(wvs(image, n, args.n_iter, seed=run).positions)
            if model is not None:
                sets["net"].append(predict_stipples(model, image, n, seed=run).positions)
        if key not in cache:
            cache[key] = spectrum_stats(sets["wvs"], n)
            _save_cache(args, cache)
        res[n] = {"wvs": cache[key]}
        if sets["net"]:
            res[n]["net"] = spectrum_stats(sets["net"], n)
        print(
            f"blue noise N={n}: "
            + ", ".join(
                f"{k} peak {v['peak']:.2f} anisotropy {v['anisotropy_db']:.2f} dB" for k, v in res[n].items()
            ),
            flush=True,
        )
    out["blue_noise"] = res


def section_threads(args, out, cache):
    import torch

    image = photo("camera", args.max_side)
    res = {}
    for t in (1, 2):
        key = f"threads/{t}/{args.n_iter}"
        if key not in cache:
            torch.set_num_threads(t)
            _, sec = _timed(wvs, image, 4096, args.n_iter)
            cache[key] = {"seconds": sec, "load": _load()}
            _save_cache(args, cache)
        res[t] = cache[key]
        sec = res[t]["seconds"]
        print(f"threads {t}: WVS 4096 points {sec:.2f} s | {res[t]['load']}", flush=True)
    torch.set_num_threads(args.threads)
    out["threads"] = res


def write_figure(path, model, max_side):
    """net | WVS | LBG, 192 x 192 crops at 100 % of a 512-px render (camera, 4096 points)."""
    import torch

    from common.image_io import save_image
    from stipple.evaluate import render_stipples
    from stipple.inference import predict_stipples
    from stipple.stipplers import lbg_stippling

    image = photo("camera", max_side)
    _, _, h, w = image.shape
    sts = [
        predict_stipples(model, image, 4096),
        wvs(image, 4096, 50),
        lbg_stippling(image, 4096, generator=torch.Generator().manual_seed(0)),
    ]
    y0, x0, s = 60, 200, 192
    crops = [render_stipples(st, h, w)[..., y0 : y0 + s, x0 : x0 + s] for st in sts]
    gap = torch.ones(1, 3, s, 6)
    save_image(torch.cat([crops[0], gap, crops[1], gap, crops[2]], -1), path)
    print(f"wrote {path}")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from common.checkpoint import default_checkpoint
    from common.image_io import save_json
    from stipple.inference import load_stipple_net

    torch.set_num_threads(min(args.threads, os.cpu_count() or 1))
    model, ckpt = None, {"provenance": {}}
    ckpt_path = args.checkpoint or default_checkpoint("stipple_net.pt")
    if not args.no_net:
        model, ckpt = load_stipple_net(ckpt_path)
    out: dict = {"threads": args.threads, "n_iter": args.n_iter, "checkpoint": str(ckpt_path)}
    cache = {}
    if args.classical_cache and os.path.isfile(args.classical_cache):
        import json

        cache = json.load(open(args.classical_cache))
    if "peer" not in args.skip:
        section_peer(args, out, cache)
    if "regularity" not in args.skip:
        section_regularity(args, out, model, cache)
    if "photos" not in args.skip:
        section_photos(args, out, model, cache)
    if "speed" not in args.skip and model is not None:
        section_speed(args, out, model)
    if "blue_noise" not in args.skip:
        section_blue_noise(args, out, model, cache)
    if "threads" not in args.skip:
        section_threads(args, out, cache)
    if args.figure and model is not None:
        write_figure(args.figure, model, args.max_side)
    print("--- targets")
    if "peer" in out:
        for r in out["peer"]:
            ok = r["new"] >= r["peer_quoted"] and r["seconds_new"] <= r["seconds_legacy"]
            print(f"WVS >= peer on {r['photo']} and no slower: {'met' if ok else 'NOT met'}")
    cells = [r for r in out.get("photos", []) if "legacy" in r]
    if cells:
        slower = [
            f"{r['photo']} {r['points']}" for r in cells if r["wvs"]["seconds"] > r["legacy"]["seconds"]
        ]
        print(
            f"WVS no slower than today's path on all {len(cells)} cells: "
            + ("met" if not slower else "NOT met (" + ", ".join(slower) + ")")
        )
    if "regularity" in out:
        print(
            f"WVS NN mean/std >= 14: {out['regularity']['wvs']:.2f} -> "
            f"{'met' if out['regularity']['wvs'] >= 14 else 'NOT met'}"
        )
    if "photos" in out and model is not None:
        gaps = [r["gap_db"] for r in out["photos"]]
        print(f"raw net (--calibrate 0) within 1 dB of WVS: max gap {max(gaps):.2f} dB (not the default)")
        gaps_c = [r["gap_cal_db"] for r in out["photos"]]
        print(
            f"net, default ({CALIBRATE} calibration step), within 1 dB of WVS everywhere: max gap "
            f"{max(gaps_c):.2f} dB, {sum(g <= 1 for g in gaps_c)} of {len(gaps_c)} cells -> "
            f"{'met' if max(gaps_c) <= 1 else 'NOT met'}"
        )
    if model is not None and "speed" in out:
        cal = [r["speedup_cal_cpu"] for r in out["speed"]]
        print(
            f"net, default ({CALIBRATE} calibration step), >= 100x faster than WVS (CPU time, side by side): "
            f"min x{min(cal):.0f}, {sum(x >= 100 for x in cal)} of {len(cal)} cells -> "
            f"{'met' if min(cal) >= 100 else 'NOT met'} (wall min "
            f"x{min(r['speedup_cal'] for r in out['speed']):.0f}; raw net CPU min "
            f"x{min(r['speedup_cpu'] for r in out['speed']):.0f})"
        )
    elif model is not None and "photos" in out:
        speed = [r["speedup"] for r in out["photos"]]
        print(f"raw net >= 100x faster than WVS (photos section, not side by side): min x{min(speed):.0f}")
    if "blue_noise" in out and model is not None:
        for n, v in out["blue_noise"].items():
            ok = (
                v["net"]["peak"] <= v["wvs"]["peak"]
                and v["net"]["anisotropy_db"] <= v["wvs"]["anisotropy_db"]
            )
            print(f"blue noise N={n} net peak/anisotropy <= WVS: {'met' if ok else 'NOT met'}")
    print(
        f"checkpoint {ckpt_path}: {ckpt['provenance'].get('command', '?')} | threads {args.threads} | "
        f"{_load()}"
    )
    if args.json:
        save_json(out, args.json)
    return 0


if __name__ == "__main__":
    run_main(main)
