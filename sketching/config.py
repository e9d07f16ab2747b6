"""The options of ``sketching/test.py``: its flags and the typed run config (no torch import, so ``--help``
stays fast; the optimiser's own settings are ``sketching.sketcher.SketchConfig``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.cli import (
    ArgumentParser,
    add_common_args,
    int_in,
    non_negative_int,
    positive_float,
    positive_int,
)

__all__ = ["SketchRunConfig", "build_parser"]


@dataclass
class SketchRunConfig:
    """Options of one sketching run besides the optimiser's :class:`SketchConfig`.

    Attributes:
        loss: the objective asked for (``auto``, ``clip``, ``edge``). region_round: rounds (None: from the
        ROI options). roi: ROI mask files (one image only). auto_roi: choose regions by edge density.
        num_sketches: best of this many seeds. edge_method: edge drawing of the edge objective.
        num_augs: augmented views per CLIP step. random_weights: random CLIP/VGG (tests, timing).
        video: write ``process.mp4``. seed: first seed. progress: show a progress bar.
    """

    loss: str = "auto"
    region_round: int | None = None
    roi: list[Path] | None = None
    auto_roi: bool = False
    num_sketches: int = 1
    edge_method: str = "contour"
    num_augs: int = 4
    random_weights: bool = False
    video: bool = False
    seed: int = 0
    progress: bool = True


def build_parser(description: str | None = None) -> ArgumentParser:
    """The flags of ``sketching/test.py`` (the MROSS release's ``--target``, ``--num_strokes``,
    ``--region_round``, ``--num_sketches`` plus the shared ones)."""
    p = ArgumentParser(description=description)
    p.add_argument("--target", required=True, help="an image file or a folder of images")
    p.add_argument("--num_strokes", type=positive_int, default=48, help="total strokes over all rounds (48)")
    p.add_argument(
        "--region_round",
        type=positive_int,
        default=None,
        help="rounds: 1 = whole image only; R > 1 adds R-1 regions (--roi, --auto_roi or NAME_roi{k}.png)",
    )
    p.add_argument("--num_sketches", type=positive_int, default=1, help="best of N seeds (CLIPasso: 3)")
    p.add_argument("--num_iter", type=positive_int, default=300, help="iterations per round (MROSS: 801)")
    p.add_argument(
        "--roi",
        nargs="+",
        type=Path,
        default=None,
        metavar="MASK",
        help="ROI masks: full-frame RGBA images of the target's size, transparent outside the region",
    )
    p.add_argument("--auto_roi", action="store_true", help="choose the regions by Canny edge density")
    p.add_argument(
        "--loss",
        choices=("auto", "clip", "edge"),
        default="auto",
        help="clip: CLIP RN101 + VGG16 (MROSS), exit 2 without CLIP weights; edge: offline multi-scale "
        "edge objective; auto (default): clip when its weights can be had, else edge (logged)",
    )
    p.add_argument("--clip_weights", type=Path, default=None, help="CLIP RN101 weights file (RN101.pt)")
    p.add_argument(
        "--clip_random_weights",
        action="store_true",
        help="random CLIP/VGG weights (timing and tests only; the objective is then meaningless)",
    )
    p.add_argument(
        "--edge_method",
        choices=("canny", "contour", "xdog"),
        default="contour",
        help="edge drawing of --loss edge: contour (smoothed Canny, long chains), canny (MROSS), xdog",
    )
    p.add_argument(
        "--init",
        choices=("fps", "saliency", "random"),
        default="fps",
        help="seed points: farthest points on Canny edges (MROSS), CLIP saliency (CLIPasso), random",
    )
    p.add_argument("--stroke_width", type=positive_float, default=1.5, help="stroke width in canvas pixels")
    p.add_argument("--canvas", type=int_in(16, 4096), default=224, help="canvas side in pixels (224)")
    p.add_argument("--lr", type=positive_float, default=1.0, help="Adam learning rate, pixels (1.0)")
    p.add_argument("--no_vgg", action="store_true", help="--loss clip without MROSS's VGG16 term (CLIPasso)")
    p.add_argument(
        "--num_augs", type=non_negative_int, default=4, help="augmented views per step of --loss clip (4)"
    )
    p.add_argument("--video", action="store_true", help="also write the optimisation as process.mp4")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_common_args(p, output_dir_default="results/sketching")
    return p
