"""Refine line drawings: thin uniform lines in, lines in a trained drawing style out.

    python linerefiner/test.py --input drawing.png --output results/linerefiner
    python linerefiner/test.py --input data/predict --output data/result --style nib
    python linerefiner/test.py --input scan.jpg --output out --curve 1.5 --threshold 0.6 --tile 512
    python linerefiner/test.py --input big.png --output out --checkpoint results/linerefiner/train/last.pt

Input: one image or a folder of images, dark lines (1-3 px, anti-aliased or not) on light paper. Colour is
converted to gray; a dark-background drawing is inverted first (a message says so). Output, per input image
NAME: ``OUTPUT/NAME/refined.png``, an 8-bit gray PNG of the same size (dark lines on light paper), and
``OUTPUT/NAME/metrics.json`` (size, seconds, tiles, notes). Inference runs in tiles of ``--tile`` px with
margins wider than the receptive field, so memory stays bounded on 4K drawings and the result equals
whole-image inference (``--tile 0``). ``--curve G`` applies ``out ** G`` and ``--threshold T`` binarises, the
post-processing the original left to an image editor. A folder run refines every readable image, reports
each bad one in one line, ends with "painted N, failed M" and exits 1 if any failed.
"""

from __future__ import annotations

from common.cli import ArgumentParser, add_common_args, float_in, non_negative_int, positive_float, run_main
from linerefiner.config import STYLE_NAMES  # the names of linerefiner.synth.STYLES, without torch


def build_parser() -> ArgumentParser:
    """Command-line flags."""
    p = ArgumentParser(description=__doc__)
    add_common_args(p, output_dir_default="results/linerefiner")
    p.add_argument(
        "--input", required=True, help="image file or folder of images (dark lines on light paper)"
    )
    p.add_argument("--output", default=None, help="output folder (same as --output_dir)")
    p.add_argument("--style", default="taper", choices=STYLE_NAMES, help="shipped style checkpoint to use")
    p.add_argument("--checkpoint", default=None, help="a checkpoint file (overrides --style)")
    p.add_argument(
        "--threshold", type=float_in(0.0, 1.0), default=None, help="binarise the output at this gray"
    )
    p.add_argument("--curve", type=positive_float, default=None, help="curves adjustment: out ** CURVE")
    p.add_argument("--tile", type=non_negative_int, default=512, help="tile core size in px; 0 = whole image")
    p.add_argument("--no_skip_blank", action="store_true", help="compute all-white tiles too")
    p.add_argument(
        "--bf16",
        action="store_true",
        help="bfloat16 autocast: ~3x faster on AVX512-BF16 CPUs, output within ~1e-2 of fp32",
    )
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from common.device import get_device, seed_everything  # heavy imports after the flags
    from common.outputs import list_inputs, paint_images
    from linerefiner.inference import load_refiner
    from linerefiner.run import RefineRunConfig, refine_file

    seed_everything(args.seed)
    run = RefineRunConfig(args.tile, not args.no_skip_blank, args.threshold, args.curve, args.bf16)
    images, is_folder = list_inputs(args.input)
    device = get_device(args.device)
    generator, model_cfg, ck = load_refiner(args.checkpoint, args.style, device)
    info = {"style": model_cfg.style, "checkpoint_step": ck["step"], "device": str(device)}

    def paint_one(path, folder):
        refine_file(path, folder, generator, model_cfg, run, info)

    return paint_images(images, paint_one, args.output or args.output_dir, is_folder)


if __name__ == "__main__":
    run_main(main)
