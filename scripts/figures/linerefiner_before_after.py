"""Before/after figures of the line refiner, like the original release's README.

    python scripts/figures/linerefiner_before_after.py
    python scripts/figures/linerefiner_before_after.py --output_dir results/figures --styles taper nib

Writes three PNGs into ``--output_dir`` (default ``results/figures/``), each row: input | one column per
style:
- ``linerefiner_rough.png``: a held-out synthetic drawing with jitter, doubled strokes, speckle and gaps;
- ``linerefiner_gaps.png``: clean thin lines with many small disc gaps punched in;
- ``linerefiner_photo_lines.png``: line art made from bundled photos (XDoG, thinned to 1 px by
  skeletonisation) restyled.
"""

from __future__ import annotations

import numpy as np
import torch

from common.cli import ArgumentParser, prepare_output_dir, run_main
from common.data import bundled_photos
from linerefiner.inference import load_refiner, refine_tiled
from linerefiner.synth import (
    HELDOUT_SEED_BASE,
    STYLES,
    disc_coverage,
    make_pair,
    points_on_strokes,
    random_drawing,
    render_input,
)


def xdog_lines(
    rgb: np.ndarray, sigma: float = 1.2, k: float = 1.6, tau: float = 0.98, side: int = 384
) -> np.ndarray:
    """Thin line art from a photo ``(H0, W0, 3)`` uint8, resized so the longer side is ``side`` px.

    XDoG-style edges (Winnemoeller 2012: difference of Gaussians ``G_sigma - tau G_{k sigma}`` below 0),
    small blobs removed, skeletonised to 1 px lines. Returns ``(H, W)`` float32 in [0, 1], black on white.
    """
    import cv2
    from skimage.morphology import remove_small_objects, skeletonize

    h, w = rgb.shape[:2]
    s = side / max(h, w)
    gray = cv2.resize(
        cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA
    )
    g = gray.astype(np.float32) / 255.0
    dog = cv2.GaussianBlur(g, (0, 0), sigma) - tau * cv2.GaussianBlur(g, (0, 0), sigma * k)
    edges = remove_small_objects(dog < 0, max_size=24)
    skel = skeletonize(edges)
    return np.where(skel, 0.0, 1.0).astype(np.float32)


def gap_drawing(seed: int, size: int = 256) -> np.ndarray:
    """Clean thin lines (no other damage) with ~40 disc gaps of radius 1-2.5 px: (H, W) [0, 1]."""
    strokes = random_drawing(seed, size, size, density=6)
    rng = np.random.default_rng(seed)
    img = render_input(strokes, rng, size, size, damage=False)
    gaps = disc_coverage(rng, points_on_strokes(strokes, rng, 40), 1.0, 2.5, size, size)
    return np.clip(img + (1 - img) * gaps, 0, 1)


def figure(rows: list[tuple[str, np.ndarray]], models: dict, path) -> None:
    """Grid: one row per drawing, columns input | refined per style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 1 + len(models)
    fig, axes = plt.subplots(len(rows), cols, figsize=(3.2 * cols, 3.2 * len(rows)), squeeze=False)
    for r, (name, img) in enumerate(rows):
        x = torch.from_numpy(img)[None, None]
        panels = [("input: " + name, img)]
        for style, (g, cfg) in models.items():
            panels.append((f"refined: {style}", refine_tiled(g, x, cfg, 512)[0, 0].numpy()))
        for c, (title, im) in enumerate(panels):
            axes[r, c].imshow(im, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            axes[r, c].set_title(title, fontsize=9)
            axes[r, c].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--output_dir", default="results/figures")
    p.add_argument("--styles", nargs="+", default=sorted(STYLES), choices=sorted(STYLES))
    args = p.parse_args(argv)
    out = prepare_output_dir(args.output_dir)
    models = {s: load_refiner(None, s)[:2] for s in args.styles}
    rough = [
        (f"rough #{i}", make_pair(HELDOUT_SEED_BASE + 100 + i, 224, 224, "taper")[0][0].numpy())
        for i in range(2)
    ]
    figure(rough, models, out / "linerefiner_rough.png")
    figure(
        [(f"gaps #{i}", gap_drawing(HELDOUT_SEED_BASE + 200 + i, 224)) for i in range(2)],
        models,
        out / "linerefiner_gaps.png",
    )
    photos = bundled_photos(["rocket", "coffee"])
    figure(
        [(f"XDoG {n}", xdog_lines(a)) for n, a in photos.items()], models, out / "linerefiner_photo_lines.png"
    )
    return 0


if __name__ == "__main__":
    run_main(main)
