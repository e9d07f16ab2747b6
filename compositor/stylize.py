"""Stroke-based style transfer (CNP paper Sec. 3.4, Eq. 11): paint the content with CNP, then optimise the
strokes with a VGG-19 Gram style loss, a content loss and the distance-transform (DT) edge loss.

    python compositor/stylize.py --content photo.jpg --style painting.jpg
    python compositor/stylize.py --content photo.jpg --style painting.jpg --no-dt      # ablation
    python compositor/stylize.py --content photo.jpg --style painting.jpg --random_vgg # offline, see below

VGG-19 weights are read from torch.hub's cache ($TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth); nothing
is downloaded. Without them the script stops and says which file to fetch and where to put it, unless
--random_vgg is given: the documented offline path uses a randomly initialised VGG-19 (Gram statistics of
random convolutional features still transfer colour and coarse texture, but not the learned style of
the pretrained network); metrics.json records which was used.

Writes into --output_dir: stylized.png, initial.png (the CNP painting), strokes.json, stylized.svg and
metrics.json (losses before/after, Gram distance to the style, seconds, VGG weights used).
"""

from __future__ import annotations

from common.cli import (
    ArgumentParser,
    add_common_args,
    int_in,
    non_negative_float,
    positive_float,
    positive_int,
    prepare_output_dir,
    run_main,
)

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYERS = ("relu4_1", "relu5_1")


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    add_common_args(parser, output_dir_default="results/cnp_stylize")
    parser.add_argument("--content", required=True, help="content image")
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

    import torch

    from common.checkpoint import default_checkpoint
    from common.device import get_device, seed_everything
    from common.image_io import list_images, save_image, save_json, save_strokes
    from common.losses.perceptual import VGGFeatures
    from common.svg import strokes_to_svg, write_svg
    from compositor.model import load_actor
    from compositor.run import load_target
    from compositor.stylize_loss import StyleObjective, optimise_strokes
    from painter.model import load_painter

    content_path, style_path = list_images(args.content)[0], list_images(args.style)[0]
    device = get_device(args.device)
    seed_everything(args.seed)
    vgg = VGGFeatures("vgg19", STYLE_LAYERS, random_weights=args.random_vgg, pool="avg").to(device)
    painter = load_painter(args.painter or default_checkpoint("cnp_painter.pt"), device)
    actor = load_actor(args.compositor or default_checkpoint("cnp_compositor.pt"), device)
    content = load_target(content_path, args.size, device)
    style = load_target(style_path, args.size, device)
    out = prepare_output_dir(args.output_dir)

    from compositor.paint import paint_image

    init = paint_image(content, painter, actor, args.stroke_num, mode=1)
    objective = StyleObjective(
        vgg,
        content,
        style,
        STYLE_LAYERS,
        CONTENT_LAYERS,
        args.style_weight,
        args.content_weight,
        0.0 if args.no_dt else args.dt_weight,
    )
    strokes, log = optimise_strokes(init.strokes, objective, args.iters, args.lr)
    with torch.no_grad():
        from common.renderers.oil import render_oil

        final = render_oil(strokes[None], torch.zeros_like(content)).clamp(0, 1)
    h, w = content.shape[-2:]
    save_image(init.canvas.cpu(), out / "initial.png")
    save_image(final.cpu(), out / "stylized.png")
    save_strokes(out / "strokes.json", "oil", strokes.cpu(), h, w, background=[0.0, 0.0, 0.0])
    write_svg(out / "stylized.svg", strokes_to_svg("oil", strokes.cpu(), h, w, background=[0.0, 0.0, 0.0]))
    log.update(
        {
            "content": str(content_path),
            "style": str(style_path),
            "strokes": int(strokes.shape[0]),
            "dt_loss_used": not args.no_dt,
            "vgg19_weights": "random (offline path)" if args.random_vgg else "IMAGENET1K_V1",
        }
    )
    save_json(log, out / "metrics.json")
    print(
        f"stylized {content_path.name} with {style_path.name}: Gram distance {log['gram_before']:.4f} -> "
        f"{log['gram_after']:.4f}, DT loss {log['dt_before']:.3f} -> {log['dt_after']:.3f} px, "
        f"{log['seconds']:.1f} s -> {out}"
    )
    return 0


if __name__ == "__main__":
    run_main(main)
