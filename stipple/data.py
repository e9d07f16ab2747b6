"""Stippling datasets: the release's layout (``source/``, ``target/`` with matching names) plus exact
point lists in ``points/`` (stroke JSON, format ``dots``), training images from photo crops and synthetic
tone images, and the per-cell occupancy targets of the density head.

Layout of a dataset folder::

    source/NAME.png   the input image (RGB)
    target/NAME.png   black anti-aliased dots on white, same size as the source
    points/NAME.json  the exact stipples: dots rows (x, y, radius, R, G, B), normalised (optional)

A dataset made elsewhere has only ``source/`` and ``target/``: then the dot centres are the centroids of
the connected components of the dark pixels of the target (never the dark pixels themselves, the release's
bug that over-weights large dots).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from common.errors import ImageLoadError, UserError
from common.image_io import IMAGE_EXTENSIONS, load_image, load_strokes

__all__ = ["StippleDataset", "points_from_target", "occupancy_grid", "random_crops", "synthetic_tones"]


def points_from_target(target: torch.Tensor, threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Dot centres and radii from a rendered stipple image (black dots on white).

    Args:
        target: (1, C, H, W) float in [0, 1].
        threshold: pixels darker than this belong to dots.

    Returns:
        (positions (N, 2) normalised (x, y) of component centroids weighted by darkness, radii (N,) as
        fractions of min(H, W) from the component's ink, r = sqrt(ink / pi)).
    """
    from scipy import ndimage

    gray = target[0].mean(0).numpy()
    h, w = gray.shape
    labels, n = ndimage.label(gray < threshold)
    if n == 0:
        return torch.zeros(0, 2), torch.zeros(0)
    ink = 1.0 - gray
    idx = np.arange(1, n + 1)
    grown = ndimage.grey_dilation(labels, size=3)  # take in the anti-aliased rim
    mass = ndimage.sum(ink, grown, idx)
    cy, cx = np.array(ndimage.center_of_mass(ink, grown, idx)).T
    pos = np.stack([(cx + 0.5) / w, (cy + 0.5) / h], 1)
    radii = np.sqrt(np.maximum(mass, 0) / math.pi) / min(h, w)
    return torch.from_numpy(pos).float(), torch.from_numpy(radii).float()


def occupancy_grid(positions: torch.Tensor, grid: int, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-cell stipple counts on a grid x grid partition of the unit square (density-head target).

    Args:
        positions: (B, N, 2) normalised (x, y).
        grid: G cells per side.
        mask: optional (B, N) bool of valid points.

    Returns:
        (B, G, G) float counts (row = y cell, column = x cell).
    """
    b, n, _ = positions.shape
    cell = (positions.clamp(0, 1 - 1e-6) * grid).floor().long()  # (B, N, 2)
    flat = cell[..., 1] * grid + cell[..., 0]
    ones = torch.ones(b, n, device=positions.device) if mask is None else mask.float()
    counts = torch.zeros(b, grid * grid, device=positions.device).scatter_add_(1, flat, ones)
    return counts.view(b, grid, grid)


def _names(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS}


class StippleDataset(Dataset):
    """Pairs (image, stipples) from a dataset folder (layout in the module docstring).

    Args:
        root: the folder holding ``source/`` and ``target/`` (and optionally ``points/``).
        image_size: sources are resized to (S, S) for the network (S = image_size).
        max_points: the point lists are padded/truncated to this length (M).
        subset: use only the first ``subset`` pairs (sorted by name); None = all.
        augment: apply one of the 8 symmetries of the square (flips, transpose) to image and points
            together, drawn per item from a generator seeded with ``seed`` (WVS targets are equivariant).

    Items:
        dict with ``image`` (3, S, S) float in [0, 1], ``points`` (M, 2) normalised, ``radii`` (M,) fractions
        of the side, ``mask`` (M,) bool, ``name`` str.

    Raises:
        UserError: missing folders, or no file name common to source/ and target/.
    """

    def __init__(
        self,
        root: str | Path,
        image_size: int = 128,
        max_points: int = 1024,
        subset: int | None = None,
        augment: bool = False,
        seed: int = 0,
    ):
        root = Path(root)
        src, tgt = root / "source", root / "target"
        if not src.is_dir() or not tgt.is_dir():
            raise UserError(
                f"dataset folder {root} must contain source/ and target/ (see stipple/make_dataset.py)"
            )
        s_names, t_names = _names(src), _names(tgt)
        common = sorted(set(s_names) & set(t_names))
        if not common:
            raise UserError(
                f"no matching file names in {src} and {tgt} ({len(s_names)} sources, {len(t_names)} targets)"
            )
        if subset is not None:
            common = common[:subset]
        self.root, self.names = root, common
        self.sources, self.targets = s_names, t_names
        self.image_size, self.max_points = image_size, max_points
        self.augment, self._gen = augment, torch.Generator().manual_seed(seed)
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.names)

    def _points(self, name: str) -> torch.Tensor:
        """(M, 3): x, y, radius of the reference stipples."""
        js = self.root / "points" / f"{name}.json"
        if js.is_file():
            return load_strokes(js).params[:, :3].float()
        pos, radii = points_from_target(load_image(self.targets[name]))
        return torch.cat([pos, radii[:, None]], 1)

    def __getitem__(self, index: int) -> dict:
        name = self.names[index]
        if name not in self._cache:
            image = load_image(self.sources[name])
            image = F.interpolate(image, size=(self.image_size,) * 2, mode="area")[0]
            self._cache[name] = (image, self._points(name))
        image, pts = self._cache[name]
        if self.augment:
            image, pts = _symmetry(image, pts, int(torch.randint(8, (1,), generator=self._gen)))
        m = self.max_points
        out = torch.zeros(m, 3)
        mask = torch.zeros(m, dtype=torch.bool)
        k = min(m, pts.shape[0])
        out[:k], mask[:k] = pts[:k], True
        return {"image": image, "points": out[:, :2], "radii": out[:, 2], "mask": mask, "name": name}


def _symmetry(image: torch.Tensor, pts: torch.Tensor, code: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetry ``code`` in 0..7 of the square: bit 0 flips x, bit 1 flips y, bit 2 transposes.
    image (3, S, S), pts (M, 3) = (x, y, radius)."""
    pts = pts.clone()
    if code & 1:
        image, pts[:, 0] = image.flip(-1), 1 - pts[:, 0]
    if code & 2:
        image, pts[:, 1] = image.flip(-2), 1 - pts[:, 1]
    if code & 4:
        image, pts = image.transpose(-1, -2), pts[:, [1, 0, 2]]
    return image.contiguous(), pts


def random_crops(
    photos: dict[str, np.ndarray], count: int, size: int, seed: int = 0
) -> list[tuple[str, torch.Tensor]]:
    """Random square crops (side 35-100 % of the shorter side), random horizontal flips, resized to size.

    Returns:
        list of (name, (1, 3, size, size) float in [0, 1]).
    """
    if not photos:
        raise ImageLoadError("no photos to crop")
    rng = np.random.default_rng(seed)
    names = list(photos)
    out = []
    for i in range(count):
        name = names[i % len(names)]
        arr = photos[name]
        h, w = arr.shape[:2]
        side = int(min(h, w) * rng.uniform(0.35, 1.0))
        y0, x0 = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = torch.from_numpy(np.ascontiguousarray(arr[y0 : y0 + side, x0 : x0 + side])).permute(2, 0, 1)
        crop = crop[None].float() / 255.0
        if rng.random() < 0.5:
            crop = crop.flip(-1)
        crop = F.interpolate(crop, size=(size, size), mode="area").clamp(0, 1)
        out.append((f"{name}_{i:05d}", crop))
    return out


def synthetic_tones(count: int, size: int, seed: int = 0) -> list[tuple[str, torch.Tensor]]:
    """Synthetic gray images with known tone: linear ramps, radial gradients and soft discs on a flat
    background (teach the density head flat, graded and edged regions).

    Returns:
        list of (name, (1, 3, size, size) float in [0, 1]).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            a = rng.uniform(0, 2 * np.pi)
            t = np.cos(a) * (xx - 0.5) + np.sin(a) * (yy - 0.5) + 0.5
            lo, hi = sorted(rng.uniform(0, 1, 2))
            img = lo + (hi - lo) * np.clip(t, 0, 1)
        elif kind == 1:
            cx, cy = rng.uniform(0.2, 0.8, 2)
            r = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / rng.uniform(0.3, 0.8)
            img = rng.uniform(0, 0.4) + rng.uniform(0.4, 0.6) * np.clip(r, 0, 1)
        else:
            img = np.full_like(xx, rng.uniform(0.5, 1.0))
            for _ in range(rng.integers(1, 5)):
                cx, cy, r = *rng.uniform(0.1, 0.9, 2), rng.uniform(0.05, 0.3)
                disc = np.clip((r - np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)) * size / 2, 0, 1)
                img = img * (1 - disc) + rng.uniform(0, 0.5) * disc
        t = torch.from_numpy(np.clip(img, 0, 1).astype(np.float32))[None, None].expand(1, 3, size, size)
        out.append((f"synthetic_{i:05d}", t.contiguous()))
    return out
