"""Build a stippling dataset (what ``stipple/make_dataset.py`` runs): input images from photos, crops and
synthetic tones, their classical stipples (weighted Voronoi stippling or LBG, :mod:`stipple.stipplers`) as
targets, in the layout :class:`stipple.data.StippleDataset` reads.

Layout written into the dataset folder::

    source/NAME.png   the input, (S, S) RGB
    target/NAME.png   black anti-aliased dots on white, same size (common.renderers.dots)
    points/NAME.json  the exact stipples: stroke JSON, format ``dots`` (x, y, radius, R, G, B), normalised
    dataset.json      how it was made (counts, method, size, iterations, seed, photo sets, seconds)

Images here are ``(1, 3, S, S)`` float in [0, 1].
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from common.errors import UserError

if TYPE_CHECKING:
    import torch

__all__ = ["DatasetConfig", "collect_images", "write_dataset"]


@dataclass
class DatasetConfig:
    """Options of one dataset (the flags of ``stipple/make_dataset.py``).

    Attributes:
        images: a folder (or file) of input images, or None. bundled: the photos bundled with
            scikit-image / scikit-learn, minus the benchmark photos. opencv: add opencv-doc's photos, minus
            its benchmark photos. exclude / include: photo names to leave out / to keep only (None: all).
        points: stipples per image. method: ``"wvs"`` or ``"lbg"``. size: side S of the square images, px.
        crops: random crops with flips, per image for ``images``, in total for the photo sets (0: one
            centre square per image / one crop per photo). synthetic: extra synthetic tone images.
        n_iter: WVS Lloyd iterations / LBG maximum iterations. pixels_per_point: LBG's working
            resolution (WVS integrates the image's own pixels exactly and ignores it). batch: images
            stippled together (WVS). seed: random seed.
    """

    images: str | None = None
    bundled: bool = False
    opencv: bool = False
    exclude: list[str] = field(default_factory=list)
    include: list[str] | None = None
    points: int = 1024
    method: str = "wvs"
    size: int = 128
    crops: int = 0
    synthetic: int = 0
    n_iter: int = 40
    pixels_per_point: float = 32.0
    batch: int = 8
    seed: int = 0


def _square(image: torch.Tensor, size: int) -> torch.Tensor:
    """Centre square crop of ``(1, 3, H, W)``, area-resized to ``(1, 3, size, size)``."""
    import torch.nn.functional as F

    _, _, h, w = image.shape
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return F.interpolate(image[:, :, y0 : y0 + s, x0 : x0 + s], size=(size, size), mode="area").clamp(0, 1)


def collect_images(cfg: DatasetConfig) -> list[tuple[str, torch.Tensor]]:
    """The dataset's inputs, ``(name, (1, 3, S, S))`` each: photos or a folder, crops, synthetic tones.

    Raises:
        UserError: no source given, or no photo left after ``include`` / ``exclude``.
        ImageLoadError: an unreadable image in ``cfg.images``.
    """
    from common.data import BENCH_PHOTOS, bundled_photos
    from common.debian_data import OPENCV_BENCH_PHOTOS, opencv_doc_photos
    from common.image_io import list_images, load_image, tensor_to_uint8
    from stipple.data import random_crops, synthetic_tones

    items: list[tuple[str, torch.Tensor]] = []
    if cfg.bundled or cfg.opencv:
        photos = bundled_photos(exclude=BENCH_PHOTOS) if cfg.bundled else {}
        if cfg.opencv:
            for name, path in opencv_doc_photos(exclude=OPENCV_BENCH_PHOTOS).items():
                photos[name] = tensor_to_uint8(load_image(path))
        skip = set(cfg.exclude)
        photos = {
            k: v for k, v in photos.items() if k not in skip and (cfg.include is None or k in cfg.include)
        }
        if not photos:
            raise UserError("no photos left after --include/--exclude")
        items += random_crops(photos, cfg.crops or len(photos), cfg.size, seed=cfg.seed)
    elif cfg.images:
        for path in list_images(cfg.images):
            image = load_image(path)
            if cfg.crops:
                arr = {path.stem: tensor_to_uint8(image)}
                items += random_crops(arr, cfg.crops, cfg.size, seed=cfg.seed + len(items))
            else:
                items.append((path.stem, _square(image, cfg.size)))
    elif not cfg.synthetic:
        raise UserError("give --images DIR, --bundled, --opencv or --synthetic N")
    items += synthetic_tones(cfg.synthetic, cfg.size, seed=cfg.seed)
    return items


def write_dataset(items: list[tuple[str, torch.Tensor]], out: Path, cfg: DatasetConfig, device) -> None:
    """Stipple every item (``cfg.points`` stipples, ``cfg.method``) and write the dataset folder ``out``.

    Args:
        items: from :func:`collect_images`. out: the dataset folder (exists). cfg: the options.
        device: where the stippler runs (``torch.device`` or name).
    """
    import torch
    from tqdm import tqdm

    from common.cli import prepare_output_dir
    from common.image_io import save_image, save_json, save_strokes
    from common.renderers.dots import render_dots
    from stipple.stipplers import lbg_stippling, weighted_voronoi_stippling

    for sub in ("source", "target", "points"):
        prepare_output_dir(out / sub)
    gen = torch.Generator().manual_seed(cfg.seed)
    start = time.time()
    bar = tqdm(total=len(items), desc=f"stippling ({cfg.method}, {cfg.points} points)")
    step = cfg.batch if cfg.method == "wvs" else 1
    for s in range(0, len(items), step):
        chunk = items[s : s + step]
        images = torch.cat([im for _, im in chunk]).to(device)
        if cfg.method == "wvs":
            results = weighted_voronoi_stippling(
                images, cfg.points, n_iter=cfg.n_iter, pixels_per_point=cfg.pixels_per_point, generator=gen
            )
        else:
            iters = max(cfg.n_iter, 1)
            results = [
                lbg_stippling(
                    images, cfg.points, max_iter=iters, pixels_per_point=cfg.pixels_per_point, generator=gen
                )
            ]
        for (name, image), st in zip(chunk, results, strict=True):
            n = len(st)
            canvas = torch.ones(1, 3, cfg.size, cfg.size)
            target = render_dots(st.positions[None], st.radii[None], torch.zeros(1, n, 3), canvas)
            params = torch.cat([st.positions, st.radii[:, None], st.colors], 1)  # (N, 6)
            save_image(image, out / "source" / f"{name}.png")
            save_image(target, out / "target" / f"{name}.png")
            save_strokes(
                out / "points" / f"{name}.json",
                "dots",
                params,
                cfg.size,
                cfg.size,
                background=[1.0, 1.0, 1.0],
                extra={"method": cfg.method},
            )
        bar.update(len(chunk))
    bar.close()
    record = {"images": len(items), "points": cfg.points, "method": cfg.method, "size": cfg.size}
    record.update(n_iter=cfg.n_iter, pixels_per_point=cfg.pixels_per_point, seed=cfg.seed)
    record.update(bundled=cfg.bundled, opencv=cfg.opencv, exclude=cfg.exclude, include=cfg.include)
    record.update(crops=cfg.crops, synthetic=cfg.synthetic, seconds=round(time.time() - start, 1))
    save_json(record, out / "dataset.json")
