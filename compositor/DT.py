"""Write the differentiable distance transform (DT) of an image's Canny edges as an image (no window).

    python compositor/DT.py --img_path photo.jpg
    python compositor/DT.py --img_path photo.jpg --size 512 --kernel_size 31 --output_dir results/cnp_dt

Writes into --output_dir: <name>_edges.png (Canny edges, white on black) and <name>_dt.png (the soft,
truncated distance to the nearest edge, 0 = black on an edge, white = d_max = 15 * sqrt(2) px or more).
The DT itself is ``common.losses.dt.distance_transform`` (CNP paper Eq. 8-9).
"""

from __future__ import annotations

from common.cli import ArgumentParser, add_common_args, int_in, positive_float, prepare_output_dir, run_main


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    add_common_args(parser, output_dir_default="results/cnp_dt")
    parser.add_argument("--img_path", required=True, help="an image file or a folder of images")
    parser.add_argument("--size", type=int_in(16, 4096), default=256, help="long side in pixels")
    parser.add_argument("--kernel_size", type=int_in(3, 101), default=31, help="DT window K")
    parser.add_argument("--temperature", type=positive_float, default=0.3, help="soft-min temperature (px)")
    parser.add_argument("--blur", type=int_in(1, 31), default=7, help="Gaussian blur before Canny (odd)")
    args = parser.parse_args(argv)
    from common.device import get_device
    from common.image_io import list_images, load_image, save_image
    from common.losses.dt import canny_edges, distance_transform

    images = list_images(args.img_path)
    device = get_device(args.device)
    out = prepare_output_dir(args.output_dir)
    blur = args.blur if args.blur % 2 else args.blur + 1
    for path in images:
        img = load_image(path, max_side=args.size).to(device)
        edges = canny_edges(img, blur=blur)
        dt = distance_transform(edges, args.kernel_size, args.temperature)
        d_max = (args.kernel_size // 2) * 2**0.5
        save_image(edges.expand(-1, 3, -1, -1).cpu(), out / f"{path.stem}_edges.png")
        save_image((dt / d_max).clamp(0, 1).expand(-1, 3, -1, -1).cpu(), out / f"{path.stem}_dt.png")
        print(f"{path.name}: edges {edges.mean().item():.3f}, mean DT {dt.mean().item():.2f} px -> {out}")
    return 0


if __name__ == "__main__":
    run_main(main)
