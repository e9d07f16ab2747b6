"""Figures of linerefiner/README.md: synthetic input/target pairs, and a real clip-art drawing refined.

    python -m linerefiner.figures --output_dir linerefiner/figures

Writes ``synth_pairs.png`` (held-out synthetic pairs: damaged input | the same input with each scored gap's
two stroke ends marked (red / blue) and specks outlined (green) | target taper | target nib) and, with the
shipped checkpoints, ``clipart_before_after.png``: the public-domain openclipart drawing
``buildings/church_building_01_01.svg`` (Aaron Johnson, Debian package ``openclipart-svg``) rasterised with
resvg, as is and damaged (the same kind of damage as the training data, applied to the raster), next to
the refined outputs, with the number of connected ink components of each panel in its title (the clean
drawing's count is what a refiner that bridges gaps and removes specks should come back to).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from common.cli import ArgumentParser, prepare_output_dir, run_main

if TYPE_CHECKING:  # numpy, OpenCV and torch are imported by the functions that use them (--help stays fast)
    import numpy as np

#: The real drawing of the README (public domain, see the module docstring).
CLIPART = "buildings/church_building_01_01.svg"


def synth_pairs_figure(path: str | Path, n: int = 4, size: int = 160, offset: int = 300) -> Path:
    """Write the synthetic-pair figure (``n`` rows of 4 panels of ``size`` px) as a PNG; returns the path."""
    import cv2
    import numpy as np

    from linerefiner.metrics import gap_connected, ink
    from linerefiner.synth import HELDOUT_SEED_BASE, make_sample

    rows = []
    for i in range(n):
        seed = HELDOUT_SEED_BASE + offset + i
        smp = make_sample(seed, size, size, "taper", density=20)
        nib = make_sample(seed, size, size, "nib", density=20).target
        gray = lambda a: cv2.cvtColor((a * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)  # noqa: E731
        marked = gray(smp.input)
        contours, _ = cv2.findContours(
            (smp.specks > 0).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
        )
        cv2.drawContours(marked, contours, -1, (0, 170, 0), 1)
        for g in smp.gaps:
            if gap_connected(ink(smp.target), g) and not gap_connected(ink(smp.input), g):
                for p, colour in ((g.a, (0, 0, 255)), (g.b, (255, 0, 0))):
                    cv2.circle(marked, (int(p[0]), int(p[1])), 2, colour, -1)
        panels = [gray(smp.input), marked, gray(smp.target), gray(nib)]
        rows.append(
            np.concatenate([np.pad(p, ((2, 2), (2, 2), (0, 0)), constant_values=160) for p in panels], 1)
        )
    _save_small_png(np.concatenate(rows, 0)[..., ::-1], path)
    return Path(path)


def _save_small_png(rgb: np.ndarray, path: str | Path, colours: int = 48) -> None:
    """Save ``(H, W, 3)`` uint8 RGB as a palette PNG of ``colours`` colours (a small file to commit)."""
    import numpy as np
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(rgb)).quantize(colours).save(path, optimize=True)


def rasterize_clipart(svg: Path, width: int) -> np.ndarray:
    """Gray raster ``(H, W)`` float32 in [0, 1] of an SVG, ``width`` px wide (height from its aspect)."""
    import numpy as np
    import resvg_py
    from PIL import Image

    png = resvg_py.svg_to_bytes(
        svg_string=svg.read_text(errors="ignore"), width=width, skip_system_fonts=True
    )
    with Image.open(io.BytesIO(bytes(png))) as im:
        rgba = np.asarray(im.convert("RGBA"), np.float32) / 255.0
    gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    return (gray * rgba[..., 3] + 1.0 - rgba[..., 3]).astype(np.float32)


def damage_raster(img: np.ndarray, seed: int = 0, n_gaps: int = 30) -> np.ndarray:
    """Damage a clean raster drawing ``(H, W)`` [0, 1]: ``n_gaps`` gaps (paper discs of radius 2-4 px on
    random ink pixels), specks, gray paper (0.85) and scanner blur (sigma 0.6 px)."""
    import cv2
    import numpy as np

    from linerefiner.damage import draw_dots

    rng = np.random.default_rng(seed)
    h, w = img.shape
    ys, xs = np.nonzero(img < 0.5)
    pick = rng.choice(len(ys), size=min(n_gaps, len(ys)), replace=False)
    erase = np.zeros_like(img)
    draw_dots(erase, None, np.stack([xs[pick] + 0.5, ys[pick] + 0.5], 1), rng.uniform(2, 4, len(pick)),
              np.ones(len(pick)))  # fmt: skip
    out = img + (1 - img) * erase
    specks = np.zeros_like(img)
    m = int(h * w / 65536 * 25)
    draw_dots(
        specks, None, rng.uniform([0, 0], [w, h], (m, 2)), rng.uniform(0.5, 2.0, m), rng.uniform(0.4, 1, m)
    )
    out = out * (1 - specks) * 0.85
    return np.clip(cv2.GaussianBlur(out, (0, 0), 0.6), 0, 1).astype(np.float32)


def components(img: np.ndarray) -> int:
    """Number of 8-connected ink components (pixels < 0.5) of ``(H, W)`` [0, 1]."""
    import cv2
    import numpy as np

    from linerefiner.metrics import ink

    return cv2.connectedComponents(ink(img).astype(np.uint8), connectivity=8)[0] - 1


def clipart_figure(path: str | Path, width: int = 640, styles=("taper", "nib")) -> tuple[Path, dict]:
    """Write the real-drawing figure; returns (path, ``{panel title: ink components}``)."""
    import matplotlib
    import numpy as np
    import torch

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.debian_data import openclipart_svgs
    from linerefiner.inference import load_refiner, refine_tiled

    svg = next(p for p in openclipart_svgs() if p.as_posix().endswith("/svg/" + CLIPART))
    clean = rasterize_clipart(svg, width)
    damaged = damage_raster(clean)
    models = {s: load_refiner(None, s)[:2] for s in styles}
    rows, counts = [], {}
    for name, img in (("as is", clean), ("damaged", damaged)):
        panels = [(f"input ({name})", img)]
        for style, (g, cfg) in models.items():
            out = refine_tiled(g, torch.from_numpy(img)[None, None], cfg, 512)[0, 0].numpy()
            panels.append((f"{style}, from {name}", out))
        rows.append(panels)
    fig, axes = plt.subplots(
        2, 1 + len(styles), figsize=(4.2 * (1 + len(styles)), 4.2 * 2 * clean.shape[0] / width)
    )
    for r, panels in enumerate(rows):
        for c, (title, im) in enumerate(panels):
            counts[title] = components(im)
            axes[r, c].imshow(im, cmap="gray", vmin=0, vmax=1, interpolation="antialiased")
            axes[r, c].set_title(f"{title}: {counts[title]} components", fontsize=8)
            axes[r, c].axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=110, format="png")
    plt.close(fig)
    from PIL import Image

    _save_small_png(np.asarray(Image.open(buf).convert("RGB")), path)
    return Path(path), counts


def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--output_dir", default="linerefiner/figures")
    p.add_argument("--skip_clipart", action="store_true", help="only the synthetic-pair figure")
    args = p.parse_args(argv)
    out = prepare_output_dir(args.output_dir)
    print(f"wrote {synth_pairs_figure(out / 'synth_pairs.png')}")
    if not args.skip_clipart:
        path, counts = clipart_figure(out / "clipart_before_after.png")
        print(f"wrote {path}; ink components: {counts}")
    return 0


if __name__ == "__main__":
    run_main(main)
