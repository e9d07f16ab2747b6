"""Stroke-based style transfer (CNP paper Sec. 3.4, Eq. 11): paint the content with CNP, then optimise the
strokes with a VGG-19 Gram style loss, a content loss and the distance-transform (DT) edge loss.

    python compositor/stylize.py --content photo.jpg --style painting.jpg
    python compositor/stylize.py --content photo.jpg --style painting.jpg --no-dt      # ablation
    python compositor/stylize.py --content photo.jpg --style painting.jpg --random_vgg # offline, see below
    python compositor/stylize.py --content photos/ --style painting.jpg               # a folder of images

VGG-19 weights come through torchvision's weights API from torch.hub's cache
($TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth), downloaded on first use when the machine is online (not
with --offline). Without them the script stops and says which file to fetch and where to put it, unless
--random_vgg is given: the documented offline path uses a randomly initialised VGG-19 (Gram statistics of
random convolutional features still transfer colour and coarse texture, but not the learned style of
the pretrained network); metrics.json records which was used.

Per content image, into --output_dir/<image name>/ (compositor.stylize_run.stylize_file): stylized.png,
initial.png (the CNP painting), strokes.json, stylized.svg and metrics.json (losses before/after, Gram
distance to the style, seconds, VGG weights used). A folder run ends with "painted N, failed M".
"""

from __future__ import annotations

from common.cli import (
    ArgumentParser,
    add_common_args,
    config_kwargs,
    int_in,
    non_negative_float,
    positive_float,
    positive_int,
    run_main,
)


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    add_common_args(parser, output_dir_default="results/cnp_stylize")
    parser.add_argument("--content", required=True, help="content image, or a folder of them")
    parser.add_argument("--style", required=True, help="style image")
    parser.add_argument("--stroke_num", type=positive_int, default=500)
    parser.add_argument("--size", type=int_in(64, 2048), default=256, help="canvas long side in pixels")
    parser.add_argument("--iters", type=positive_int, default=200, help="Adam iterations [paper 1001]")
    parser.add_argument("--lr", type=positive_float, default=0.005)
    parser.add_argument("--style_weight", type=non_negative_float, default=1.0)
    parser.add_argument("--content_weight", type=non_negative_float, default=1.0)
    parser.add_argument("--dt_weight", type=non_negative_float, default=0.5)
    parser.add_argument("--no-dt", dest="no_dt", action="store_true", help="ablation: no DT loss")
    parser.add_argument("--random_vgg", action="store_true", help="offline path: random VGG-19 weights")
    parser.add_argument("--painter", default=None)
    parser.add_argument("--compositor", default=None)
    args = parser.parse_args(argv)

    from common.checkpoint import default_checkpoint
    from common.device import get_device, seed_everything
    from common.image_io import list_images
    from common.losses.perceptual import VGGFeatures
    from common.outputs import list_inputs, paint_images
    from compositor.model import load_actor
    from compositor.run import load_target
    from compositor.stylize_run import STYLE_LAYERS, StylizeConfig, stylize_file
    from painter.model import load_painter

    cfg = StylizeConfig(**config_kwargs(StylizeConfig, vars(args)))
    contents, is_folder = list_inputs(args.content)
    style_path = list_images(args.style)[0]
    device = get_device(args.device)
    seed_everything(cfg.seed)  # the random VGG-19 of --random_vgg
    vgg = VGGFeatures("vgg19", STYLE_LAYERS, random_weights=cfg.random_vgg, pool="avg").to(device)
    painter = load_painter(args.painter or default_checkpoint("cnp_painter.pt"), device)
    actor = load_actor(args.compositor or default_checkpoint("cnp_compositor.pt"), device)
    style = load_target(style_path, cfg.size, device)

    def paint_one(path, folder):
        seed_everything(cfg.seed)
        m = stylize_file(path, folder, style, str(style_path), vgg, painter, actor, cfg)
        print(
            f"stylized {path.name} with {style_path.name}: Gram distance {m['gram_before']:.4f} -> "
            f"{m['gram_after']:.4f}, DT loss {m['dt_before']:.3f} -> {m['dt_after']:.3f} px, "
            f"{m['seconds']:.1f} s -> {folder}"
        )

    return paint_images(contents, paint_one, args.output_dir, is_folder)


if __name__ == "__main__":
    run_main(main)
