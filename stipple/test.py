"""Stipple an image or a folder of images with weighted Voronoi stippling, weighted LBG or the network.

    python stipple/test.py --method wvs photo.jpg --points 4096
    python stipple/test.py --method lbg photos/ --points 2500 --size_mm 150
    python stipple/test.py --method net photo.jpg --points 1024 --checkpoint checkpoints/stipple_net.pt

Per image NAME, in --output_dir (default results/stipple): NAME_stipple.png (anti-aliased dots, longer side
--render_side px), NAME.svg (one <circle> per stipple, --size_mm wide, for pen plotters), NAME_points.csv (one
row per stipple), NAME_strokes.json (format ``dots``) and NAME_metrics.json (count, seconds, tone PSNR/SSIM
of the blurred render against the grayscale input). --points must be a square grid size for the network.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from common.cli import (
    ArgumentParser,
    add_common_args,
    positive_float,
    positive_int,
    prepare_output_dir,
    run_main,
)

if TYPE_CHECKING:
    import torch


def build_parser() -> ArgumentParser:
    p = ArgumentParser(description=__doc__)
    p.add_argument("input", help="an image file or a folder of images")
    p.add_argument("--method", choices=("wvs", "lbg", "net"), default="wvs")
    p.add_argument("--points", type=positive_int, default=1024, help="number of stipples")
    p.add_argument(
        "--n_iter", type=positive_int, default=50, help="WVS Lloyd iterations / LBG max iterations"
    )
    p.add_argument("--gamma", type=positive_float, default=1.0, help="density = (1 - gray)^gamma (wvs, lbg)")
    p.add_argument(
        "--checkpoint", default=None, help="network checkpoint (default checkpoints/stipple_net.pt)"
    )
    p.add_argument("--size_mm", type=positive_float, default=200.0, help="SVG width in millimetres")
    p.add_argument("--render_side", type=positive_int, default=1024, help="longer side of the PNG, pixels")
    p.add_argument("--max_side", type=positive_int, default=1024, help="inputs are downscaled to this first")
    p.add_argument("--color", action="store_true", help="coloured stipples (default: black)")
    add_common_args(p, "results/stipple")
    return p


def stipple_one(method: str, image: torch.Tensor, points: int, n_iter: int, gamma: float, model, gen):
    """Run one method on (1, 3, H, W); returns (Stipples, seconds)."""
    from stipple.stipplers import lbg_stippling, weighted_voronoi_stippling

    start = time.perf_counter()
    if method == "wvs":
        st = weighted_voronoi_stippling(image, points, n_iter=n_iter, gamma=gamma, generator=gen)[0]
    elif method == "lbg":
        st = lbg_stippling(image, points, max_iter=n_iter, gamma=gamma, generator=gen)
    else:
        from stipple.inference import predict_stipples

        st = predict_stipples(model, image, points)
    return st, time.perf_counter() - start


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import torch  # heavy imports after the flags: --help and flag errors stay fast
    from tqdm import tqdm

    from common.checkpoint import default_checkpoint
    from common.device import get_device, seed_everything
    from common.image_io import list_images, load_image, save_image, save_json
    from stipple.evaluate import render_stipples, tone_metrics, write_outputs
    from stipple.model import grid_for_points

    if args.method == "net":
        grid_for_points(args.points)
    paths = list_images(args.input)
    device = get_device(args.device)
    seed_everything(args.seed)
    model, provenance = None, None
    if args.method == "net":
        from stipple.inference import load_stipple_net

        model, ckpt = load_stipple_net(args.checkpoint or default_checkpoint("stipple_net.pt"), device)
        provenance = ckpt["provenance"]
    images = [(p, load_image(p, max_side=args.max_side)) for p in paths]  # all readable before writing
    out = prepare_output_dir(args.output_dir)
    for path, image in tqdm(images, desc=f"stippling ({args.method})", disable=len(images) < 2):
        gen = torch.Generator().manual_seed(args.seed)
        st, seconds = stipple_one(
            args.method, image.to(device), args.points, args.n_iter, args.gamma, model, gen
        )
        _, _, h, w = image.shape
        scale = args.render_side / max(h, w)
        rh, rw = max(1, round(h * scale)), max(1, round(w * scale))
        save_image(render_stipples(st, rh, rw, color=args.color), out / f"{path.stem}_stipple.png")
        files = write_outputs(st, out, path.stem, h, w, args.size_mm, color=args.color)
        metrics = {
            "method": args.method,
            "points": len(st),
            "seconds": round(seconds, 4),
            "height": h,
            "width": w,
            "device": str(device),
            **tone_metrics(st, image),
            "files": {k: v.name for k, v in files.items()},
        }
        if provenance is not None:
            metrics["checkpoint_offline_encoder"] = provenance.get("offline_encoder")
        save_json(metrics, out / f"{path.stem}_metrics.json")
        print(
            f"{path.name}: {len(st)} stipples in {seconds:.3f} s, "
            f"tone PSNR {metrics['tone_psnr']:.2f} dB -> {out}"
        )
    return 0


if __name__ == "__main__":
    run_main(main)
