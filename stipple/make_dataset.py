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
The work is done by :mod:`stipple.build_dataset`.
"""

from __future__ import annotations

from common.cli import (
    ArgumentParser,
    config_kwargs,
    int_in,
    non_negative_int,
    positive_float,
    positive_int,
    prepare_output_dir,
    run_main,
)
from common.errors import UserError


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
        "--pixels_per_point", type=positive_float, default=32.0, help="LBG resolution (WVS ignores it)"
    )
    p.add_argument("--batch", type=positive_int, default=8, help="images stippled together (WVS)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from common.device import get_device, seed_everything  # torch after the flags: --help stays fast
    from stipple.build_dataset import DatasetConfig, collect_images, write_dataset

    cfg = DatasetConfig(**config_kwargs(DatasetConfig, vars(args)))
    seed_everything(cfg.seed)
    device = get_device(args.device)
    out = prepare_output_dir(args.out)
    items = collect_images(cfg)
    if not items:
        raise UserError("no input images")
    write_dataset(items, out, cfg, device)
    print(f"wrote {len(items)} pairs to {out}")
    return 0


if __name__ == "__main__":
    run_main(main)
