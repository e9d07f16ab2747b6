"""Figure: input | WVS | LBG | network stipples on bundled photos (same point count, black dots on white).

    python scripts/figures/stipple_comparison.py
    python scripts/figures/stipple_comparison.py --photos astronaut camera --points 4096 --output_dir figs

Writes ``stipple_comparison.png`` into --output_dir (default results/figures): one row per photo, each panel
titled with the method, its seconds and its tone PSNR.
"""

from __future__ import annotations

import torch

from common.checkpoint import default_checkpoint
from common.cli import ArgumentParser, positive_int, prepare_output_dir, run_main
from common.data import bundled_photo_tensor
from stipple.evaluate import render_stipples, tone_metrics
from stipple.inference import load_stipple_net
from stipple.run import stipple_one


def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--photos", nargs="+", default=["astronaut", "coffee", "camera"])
    p.add_argument("--points", type=positive_int, default=4096)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--side", type=positive_int, default=384, help="longer side of each panel, pixels")
    p.add_argument("--output_dir", default="results/figures")
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = prepare_output_dir(args.output_dir)
    model, _ = load_stipple_net(args.checkpoint or default_checkpoint("stipple_net.pt"))
    fig, axes = plt.subplots(len(args.photos), 4, figsize=(16, 4 * len(args.photos)), squeeze=False)
    for row, name in enumerate(args.photos):
        image = bundled_photo_tensor(name, max_side=args.side)
        _, _, h, w = image.shape
        axes[row, 0].imshow(image[0].permute(1, 2, 0).numpy())
        axes[row, 0].set_title(f"{name}\ninput", fontsize=11)
        for col, method in enumerate(("wvs", "lbg", "net"), start=1):
            st, sec = stipple_one(
                method, image, args.points, 50, 1.0, model, torch.Generator().manual_seed(0)
            )
            render = render_stipples(st, h, w)
            axes[row, col].imshow(render[0].permute(1, 2, 0).numpy())
            tone = tone_metrics(st, image)["tone_psnr"]
            # two short lines: one line was wider than the panel and got clipped
            axes[row, col].set_title(
                f"{method.upper()}, {len(st)} points\n{sec:.2f} s, tone {tone:.1f} dB", fontsize=11
            )
        for ax in axes[row]:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "stipple_comparison.png", dpi=100, bbox_inches="tight", pad_inches=0.1)
    print(f"wrote {out / 'stipple_comparison.png'}")
    return 0


if __name__ == "__main__":
    run_main(main)
