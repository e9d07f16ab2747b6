"""Make a stippling dataset: source images, rendered stipple targets and the exact point lists.

    python stipple/make_dataset.py --images photos/ --out data/stipple --points 1024 --method wvs
    python stipple/make_dataset.py --bundled --crops 300 --synthetic 60 --out data/stipple --points 1024
    python stipple/make_dataset.py --bundled --opencv --exclude butterfly.jpg --crops 800 --out data/train
    python stipple/make_dataset.py --opencv --include butterfly.jpg --crops 24 --out data/val

Writes ``OUT/source/NAME.png``, ``OUT/target/NAME.png`` (black anti-aliased dots on white, same size) and
``OUT/points/NAME.json`` (stroke JSON, format ``dots``: x, y, radius, R, G, B per stipple, normalised), the
layout of the deep-stippling release plus exact points. ``--images DIR`` takes every image of a folder
(centre square crop, or ``--crops K`` random crops with flips per image); ``--bundled`` takes the photos
that ship with scikit-image / scikit-learn except the benchmark photos (common.data.BENCH_PHOTOS);
``--opencv`` adds the photos of Debian's opencv-doc package except its benchmark photos
(common.debian_data.OPENCV_BENCH_PHOTOS: fruits, home, messi5), fetched once into the data cache.
``--exclude NAME ...`` leaves photos out (e.g. a validation set), ``--include NAME ...`` keeps only those.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from common.cli import (
    ArgumentParser,
    int_in,
    non_negative_int,
    positive_float,
    positive_int,
    prepare_output_dir,
    run_main,
)
from common.errors import UserError

if TYPE_CHECKING:
    import torch


def build_parser() -> ArgumentParser:
    p = ArgumentParser(description=__doc__)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--images", help="folder (or file) of input images")
    src.add_argument(
        "--bundled", action="store_true", help="use the bundled photos (benchmark photos held out)"
    )
    p.add_argument(
        "--opencv", action="store_true", help="add opencv-doc's photos (its benchmark photos held out)"
    )
    p.add_argument("--exclude", nargs="+", default=[], help="photo names to leave out")
    p.add_argument("--include", nargs="+", default=None, help="use only these photo names")
    p.add_argument("--out", required=True, help="dataset folder to write")
    p.add_argument("--points", type=positive_int, default=1024, help="stipples per image")
    p.add_argument("--method", choices=("wvs", "lbg"), default="wvs")
    p.add_argument(
        "--size", type=int_in(16, 4096), default=128, help="side of the square sources/targets, px"
    )
    p.add_argument(
        "--crops",
        type=non_negative_int,
        default=0,
        help="random crops (with flips): per image for --images, in total for --bundled",
    )
    p.add_argument("--synthetic", type=non_negative_int, default=0, help="extra synthetic tone images")
    p.add_argument(
        "--n_iter", type=non_negative_int, default=40, help="WVS Lloyd iterations / LBG max iterations"
    )
    p.add_argument(
        "--pixels_per_point", type=positive_float, default=32.0, help="stippler working resolution"
    )
    p.add_argument("--batch", type=positive_int, default=8, help="images stippled together (WVS)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    return p


def _square(image: torch.Tensor, size: int) -> torch.Tensor:
    import torch.nn.functional as F

    _, _, h, w = image.shape
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return F.interpolate(image[:, :, y0 : y0 + s, x0 : x0 + s], size=(size, size), mode="area").clamp(0, 1)


def collect_images(args) -> list[tuple[str, torch.Tensor]]:
    """(name, (1, 3, S, S)) inputs from --images / --bundled, crops and synthetic images."""
    from common.data import BENCH_PHOTOS, bundled_photos
    from common.debian_data import OPENCV_BENCH_PHOTOS, opencv_doc_photos
    from common.image_io import list_images, load_image, tensor_to_uint8
    from stipple.data import random_crops, synthetic_tones

    items: list[tuple[str, torch.Tensor]] = []
    if args.bundled or args.opencv:
        photos = bundled_photos(exclude=BENCH_PHOTOS) if args.bundled else {}
        if args.opencv:
            for name, path in opencv_doc_photos(exclude=OPENCV_BENCH_PHOTOS).items():
                photos[name] = tensor_to_uint8(load_image(path))
        skip = set(args.exclude)
        photos = {
            k: v for k, v in photos.items() if k not in skip and (args.include is None or k in args.include)
        }
        if not photos:
            raise UserError("no photos left after --include/--exclude")
        items += random_crops(photos, args.crops or len(photos), args.size, seed=args.seed)
    elif args.images:
        paths = list_images(args.images)
        for path in paths:
            image = load_image(path)
            if args.crops:
                arr = {path.stem: tensor_to_uint8(image)}
                items += random_crops(arr, args.crops, args.size, seed=args.seed + len(items))
            else:
                items.append((path.stem, _square(image, args.size)))
    elif not args.synthetic:
        raise UserError("give --images DIR, --bundled, --opencv or --synthetic N")
    items += synthetic_tones(args.synthetic, args.size, seed=args.seed)
    return items


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import torch  # heavy imports after the flags: --help and flag errors stay fast
    from tqdm import tqdm

    from common.device import get_device, seed_everything
    from common.image_io import save_image, save_json, save_strokes
    from common.renderers.dots import render_dots
    from stipple.stipplers import lbg_stippling, weighted_voronoi_stippling

    seed_everything(args.seed)
    device = get_device(args.device)
    out = prepare_output_dir(args.out)
    items = collect_images(args)
    if not items:
        raise UserError("no input images")
    for sub in ("source", "target", "points"):
        prepare_output_dir(out / sub)
    gen = torch.Generator().manual_seed(args.seed)
    start = time.time()
    bar = tqdm(total=len(items), desc=f"stippling ({args.method}, {args.points} points)")
    step = args.batch if args.method == "wvs" else 1
    for s in range(0, len(items), step):
        chunk = items[s : s + step]
        images = torch.cat([im for _, im in chunk]).to(device)
        if args.method == "wvs":
            results = weighted_voronoi_stippling(
                images, args.points, n_iter=args.n_iter, pixels_per_point=args.pixels_per_point, generator=gen
            )
        else:
            results = [
                lbg_stippling(
                    images,
                    args.points,
                    max_iter=max(args.n_iter, 1),
                    pixels_per_point=args.pixels_per_point,
                    generator=gen,
                )
            ]
        for (name, image), st in zip(chunk, results, strict=True):
            n = len(st)
            canvas = torch.ones(1, 3, args.size, args.size)
            target = render_dots(st.positions[None], st.radii[None], torch.zeros(1, n, 3), canvas)
            params = torch.cat([st.positions, st.radii[:, None], st.colors], 1)  # (N, 6)
            save_image(image, out / "source" / f"{name}.png")
            save_image(target, out / "target" / f"{name}.png")
            save_strokes(
                out / "points" / f"{name}.json",
                "dots",
                params,
                args.size,
                args.size,
                background=[1.0, 1.0, 1.0],
                extra={"method": args.method},
            )
        bar.update(len(chunk))
    bar.close()
    save_json(
        {
            "images": len(items),
            "points": args.points,
            "method": args.method,
            "size": args.size,
            "n_iter": args.n_iter,
            "pixels_per_point": args.pixels_per_point,
            "seed": args.seed,
            "bundled": bool(args.bundled),
            "opencv": bool(args.opencv),
            "exclude": args.exclude,
            "include": args.include,
            "crops": args.crops,
            "synthetic": args.synthetic,
            "seconds": round(time.time() - start, 1),
        },
        out / "dataset.json",
    )
    print(f"wrote {len(items)} pairs to {out}")
    return 0


if __name__ == "__main__":
    run_main(main)
