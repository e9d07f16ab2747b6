"""Figures of the CNP paper, reproduced on bundled photos with the shipped checkpoints.

    python scripts/figures/cnp_figures.py                         # all figures into results/figures/
    python scripts/figures/cnp_figures.py --which process counts --image chelsea --size 384

Figures (PNG grids, one row each, with a caption file):
- ``boundary``: uniform grid (mode 3) vs mode 1's regions (multi-scale look-ahead) at the same stroke
  count, with the regions' boxes drawn (the paper's boundary-inconsistency comparison);
- ``process``: the painting after 5 / 100 / 500 / 2000 / 5000 strokes;
- ``counts``: 200 / 500 / 1000 / 5000 strokes;
- ``stylize``: content painting, stylized with and without the DT loss (random VGG-19 unless its weights
  are cached; see compositor/stylize.py).
"""

from __future__ import annotations

from pathlib import Path


def _row(images, labels, path):
    import numpy as np
    from PIL import Image, ImageDraw

    tiles = []
    for img, label in zip(images, labels, strict=True):
        arr = (img[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
        tile = Image.fromarray(arr)
        draw = ImageDraw.Draw(tile)
        draw.rectangle([0, 0, 8 + 7 * len(label), 14], fill=(0, 0, 0))
        draw.text((4, 2), label, fill=(255, 255, 255))
        tiles.append(tile)
    w = sum(t.width for t in tiles) + 4 * (len(tiles) - 1)
    canvas = Image.new("RGB", (w, max(t.height for t in tiles)), (255, 255, 255))
    x = 0
    for t in tiles:
        canvas.paste(t, (x, 0))
        x += t.width + 4
    canvas.save(path)
    Path(str(path) + ".txt").write_text(" | ".join(labels) + "\n")


def _boxes(canvas, regions):
    import torch

    out = canvas.clone()
    h, w = out.shape[-2:]
    for x0, y0, x1, y1 in regions.tolist():
        c0, c1 = int(x0 * (w - 1)), int(x1 * (w - 1))
        r0, r1 = int(y0 * (h - 1)), int(y1 * (h - 1))
        color = torch.tensor([1.0, 1.0, 0.0])[:, None]
        out[0, :, r0, c0 : c1 + 1] = color
        out[0, :, r1, c0 : c1 + 1] = color
        out[0, :, r0 : r1 + 1, c0] = color
        out[0, :, r0 : r1 + 1, c1] = color
    return out


def main(argv=None) -> int:
    from common.cli import ArgumentParser, add_common_args, positive_int, prepare_output_dir

    parser = ArgumentParser(description=__doc__)
    add_common_args(parser, output_dir_default="results/figures")
    parser.add_argument(
        "--which",
        nargs="+",
        default=["boundary", "process", "counts", "stylize"],
        choices=["boundary", "process", "counts", "stylize"],
    )
    parser.add_argument("--image", default="chelsea", help="skimage photo name")
    parser.add_argument("--size", type=positive_int, default=384)
    args = parser.parse_args(argv)
    import skimage.data
    import torch

    from common.checkpoint import default_checkpoint
    from common.device import get_device, seed_everything
    from common.image_io import image_to_tensor
    from compositor.model import load_actor
    from compositor.paint import paint_image
    from painter.model import load_painter

    device = get_device(args.device)
    out = prepare_output_dir(args.output_dir)
    painter = load_painter(default_checkpoint("cnp_painter.pt"), device)
    actor = load_actor(default_checkpoint("cnp_compositor.pt"), device)
    img = image_to_tensor(getattr(skimage.data, args.image)())
    scale = args.size / max(img.shape[-2:])
    size = (round(img.shape[-2] * scale), round(img.shape[-1] * scale))
    target = torch.nn.functional.interpolate(img, size=size, mode="area").clamp(0, 1).to(device)
    seed_everything(args.seed)
    if "boundary" in args.which:
        grid = paint_image(target, painter, actor, 1000, mode=3)
        ours = paint_image(target, painter, actor, 1000, mode=1)
        _row(
            [target, grid.canvas, ours.canvas, _boxes(ours.canvas, ours.regions)],
            ["target", "uniform grid (mode 3)", "multi-scale regions (mode 1)", "mode 1 regions, boxes"],
            out / "cnp_boundary.png",
        )
    if "process" in args.which:
        res = paint_image(target, painter, actor, 5000, mode=1)
        from common.renderers.oil import render_oil
        from compositor.paint import ground_canvas

        base = ground_canvas(target, res.ground)
        shots = [render_oil(res.strokes[:n][None], base) for n in (5, 100, 500, 2000, 5000)]
        _row(shots, ["5", "100", "500", "2000", "5000 strokes"], out / "cnp_process.png")
    if "counts" in args.which:
        counts = (200, 500, 1000, 5000)
        _row(
            [target] + [paint_image(target, painter, actor, n, mode=1).canvas for n in counts],
            ["target"] + [f"{n} strokes" for n in counts],
            out / "cnp_counts.png",
        )
    if "stylize" in args.which:
        from common.image_io import save_image
        from compositor.stylize import main as stylize_main

        content = out / "_content.png"
        style = out / "_style.png"
        save_image(target.cpu(), content)
        save_image(image_to_tensor(skimage.data.rocket()), style)
        from common.pretrained import weights_available

        offline = [] if weights_available("vgg19", "IMAGENET1K_V1") else ["--random_vgg"]
        rows = []
        for flag, sub in (([], "dt"), (["--no-dt"], "nodt")):
            stylize_main(
                [
                    "--content",
                    str(content),
                    "--style",
                    str(style),
                    "--size",
                    str(min(args.size, 256)),
                    "--output_dir",
                    str(out / f"_stylize_{sub}"),
                ]
                + flag
                + offline
            )
            rows.append(sub)
        from common.image_io import load_image

        _row(
            [
                load_image(out / "_stylize_dt" / "_content" / "initial.png"),
                load_image(out / "_stylize_dt" / "_content" / "stylized.png"),
                load_image(out / "_stylize_nodt" / "_content" / "stylized.png"),
            ],
            ["CNP painting", "stylized + DT", "stylized, no DT"],
            out / "cnp_stylize.png",
        )
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    from common.cli import run_main

    run_main(main)
