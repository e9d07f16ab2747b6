"""Stipple an image or a folder of images with weighted Voronoi stippling, weighted LBG or the network.

    python stipple/test.py --method wvs photo.jpg --points 4096
    python stipple/test.py --method lbg photos/ --points 2500 --size_mm 150
    python stipple/test.py --method net photo.jpg --points 1024 --checkpoint checkpoints/stipple_net.pt

Per image NAME, into --output_dir/NAME/ (default results/stipple): stipple.png (anti-aliased dots, longer
side --render_side px), stipple.svg (one <circle> per stipple, --size_mm wide, for pen plotters),
points.csv (one row per stipple), strokes.json (format ``dots``) and metrics.json (count, seconds, tone
PSNR/SSIM of the blurred render against the grayscale input). The network takes 256..16384 points (any
count); --radius tone uses tone-matched radii, --relax N adds N Lloyd steps, --calibrate N as many
tone-calibration steps on the radii (default 1; 0 = the raw network). A folder run stipples every
readable image, reports each bad one in one line, ends with "painted N, failed M" and exits 1 if any
failed.
"""

from __future__ import annotations

from common.cli import ArgumentParser, add_common_args, positive_float, positive_int, run_main


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
    p.add_argument(
        "--radius",
        choices=("net", "tone"),
        default="net",
        help="net: the network's radii; tone: tone-matched",
    )
    p.add_argument("--relax", type=int, default=0, help="Lloyd steps on the network's points (net)")
    p.add_argument(
        "--calibrate",
        type=int,
        default=1,
        help="tone-calibration steps on the network's radii (net; 0 = raw network)",
    )
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    add_common_args(p, "results/stipple")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    # heavy imports after the flags: --help and flag errors stay fast
    from common.checkpoint import default_checkpoint
    from common.device import get_device, seed_everything
    from common.errors import UserError
    from common.outputs import list_inputs, paint_images
    from stipple.model import MAX_POINTS, MIN_POINTS
    from stipple.run import StippleConfig, stipple_file

    cfg = StippleConfig(
        args.method, args.points, args.n_iter, args.gamma, args.size_mm, args.render_side, args.max_side,
        args.color, args.seed, args.radius, args.relax, not args.no_progress, args.calibrate,
    )  # fmt: skip
    if cfg.method == "net" and not MIN_POINTS <= cfg.points <= MAX_POINTS:
        raise UserError(f"--points must be in {MIN_POINTS}..{MAX_POINTS} for --method net, got {cfg.points}")
    if cfg.relax < 0:
        raise UserError(f"--relax must be >= 0, got {cfg.relax}")
    if cfg.calibrate < 0:
        raise UserError(f"--calibrate must be >= 0, got {cfg.calibrate}")
    images, is_folder = list_inputs(args.input)
    device = get_device(args.device)
    seed_everything(cfg.seed)
    model, provenance = None, None
    if cfg.method == "net":
        from stipple.inference import load_stipple_net

        model, ckpt = load_stipple_net(args.checkpoint or default_checkpoint("stipple_net.pt"), device)
        provenance = ckpt["provenance"]

    def paint_one(path, folder):
        m = stipple_file(path, folder, cfg, model, device, provenance)
        print(
            f"{path.name}: {m['points']} stipples in {m['seconds']:.3f} s, "
            f"tone PSNR {m['tone_psnr']:.2f} dB -> {folder}"
        )

    return paint_images(images, paint_one, args.output_dir, is_folder)


if __name__ == "__main__":
    run_main(main)
