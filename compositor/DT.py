"""Write the differentiable distance transform (DT) of an image's Canny edges as an image (no window).

    python compositor/DT.py --img_path photo.jpg
    python compositor/DT.py --img_path photo.jpg --size 512 --kernel_size 31 --output_dir results/cnp_dt

Per image, into --output_dir/<image name>/ (common.outputs): edges.png (Canny edges, white on black),
dt.png (the soft, truncated distance to the nearest edge, 0 = black on an edge, white = d_max =
(K // 2) * sqrt(2) px or more) and metrics.json (edge fraction, mean DT in px, K, temperature, blur).
The DT itself is ``common.losses.dt.distance_transform`` (CNP paper Eq. 8-9).
"""

from __future__ import annotations

from common.cli import ArgumentParser, add_common_args, int_in, positive_float, run_main


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
    from common.image_io import load_image
    from common.losses.dt import canny_edges, distance_transform
    from common.outputs import image_output, list_inputs, paint_images

    images, is_folder = list_inputs(args.img_path)
    device = get_device(args.device)
    blur = args.blur if args.blur % 2 else args.blur + 1
    d_max = (args.kernel_size // 2) * 2**0.5

    def paint_one(path, folder):
        img = load_image(path, max_side=args.size).to(device)
        edges = canny_edges(img, blur=blur)  # (1, 1, H, W) in {0, 1}
        dt = distance_transform(edges, args.kernel_size, args.temperature)  # (1, 1, H, W) px
        metrics = {"edge_fraction": edges.mean().item(), "mean_dt_px": dt.mean().item(), "d_max_px": d_max}
        metrics.update(kernel_size=args.kernel_size, temperature=args.temperature, blur=blur, input=str(path))
        with image_output(folder) as out:
            out.image("edges.png", edges.expand(-1, 3, -1, -1))
            out.image("dt.png", (dt / d_max).clamp(0, 1).expand(-1, 3, -1, -1))
            out.metrics(metrics)
        edge, mean = metrics["edge_fraction"], metrics["mean_dt_px"]
        print(f"{path.name}: edges {edge:.3f}, mean DT {mean:.2f} px -> {folder}")

    return paint_images(images, paint_one, args.output_dir, is_folder)


if __name__ == "__main__":
    run_main(main)
