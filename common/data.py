"""Image data: the real photos bundled with scikit-image / scikit-learn, and an image-folder dataset with
random crops for training.

Every bundled photo loads without network access (checked in ``tests/common/test_data.py``). The four
:data:`BENCH_PHOTOS` are held out of every shipped training run because the benchmarks measure on them:
pass ``exclude=BENCH_PHOTOS`` (the default of :class:`ImageFolderDataset` with ``root=None``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from common.errors import ImageLoadError, UserError

__all__ = [
    "BENCH_PHOTOS",
    "BUNDLED_PHOTO_NAMES",
    "bundled_photos",
    "bundled_photo_tensor",
    "ImageFolderDataset",
]

#: Photos the benchmarks measure on; never used for training shipped checkpoints.
BENCH_PHOTOS = ("astronaut", "coffee", "chelsea", "camera")


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _motorcycle() -> np.ndarray:
    import skimage.data

    return skimage.data.stereo_motorcycle()[0]  # left view


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


_SOURCES: dict[str, Callable[[], np.ndarray]] = {
    # scikit-image (files shipped inside the package)
    "astronaut": _skimage("astronaut"),  # 512x512 colour portrait
    "coffee": _skimage("coffee"),  # 400x600 colour
    "chelsea": _skimage("chelsea"),  # 300x451 colour (cat)
    "camera": _skimage("camera"),  # 512x512 gray
    "rocket": _skimage("rocket"),  # 427x640 colour
    "coins": _skimage("coins"),  # 303x384 gray
    "hubble_deep_field": _skimage("hubble_deep_field"),  # 872x1000 colour
    "immunohistochemistry": _skimage("immunohistochemistry"),  # 512x512 colour microscopy
    "moon": _skimage("moon"),  # 512x512 gray
    "retina": _skimage("retina"),  # 1411x1411 colour
    "motorcycle": _motorcycle,  # 500x741 colour
    "clock": _skimage("clock"),  # 300x400 gray
    # scikit-learn (files shipped inside the package)
    "china": _sklearn("china.jpg"),  # 427x640 colour
    "flower": _sklearn("flower.jpg"),  # 427x640 colour
}

#: Names accepted by :func:`bundled_photos`.
BUNDLED_PHOTO_NAMES = tuple(_SOURCES)


def _as_rgb_uint8(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr.astype(np.float64), 0, 1) * 255).round().astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr[..., :3])


def bundled_photos(names: Iterable[str] | None = None, exclude: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Real photographs that ship inside scikit-image and scikit-learn (no network needed).

    Args:
        names: which photos (see :data:`BUNDLED_PHOTO_NAMES`); None = all of them.
        exclude: names to leave out (e.g. :data:`BENCH_PHOTOS` for training).

    Returns:
        ``{name: (H, W, 3) uint8 RGB array}`` in the order of ``names``; gray photos are repeated to 3
        channels.

    Raises:
        UserError: an unknown name.
    """
    wanted = list(BUNDLED_PHOTO_NAMES if names is None else names)
    unknown = [n for n in wanted if n not in _SOURCES]
    if unknown:
        raise UserError(f"unknown bundled photo(s) {unknown}; known: {', '.join(BUNDLED_PHOTO_NAMES)}")
    skip = set(exclude)
    return {n: _as_rgb_uint8(_SOURCES[n]()) for n in wanted if n not in skip}


def bundled_photo_tensor(name: str, max_side: int | None = None) -> torch.Tensor:
    """One bundled photo as ``(1, 3, H, W)`` float32 in [0, 1], downscaled (area) so that its longer side is
    at most ``max_side`` pixels. Raises UserError for an unknown name."""
    import cv2

    arr = bundled_photos([name])[name]
    h, w = arr.shape[:2]
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
        arr = cv2.resize(
            arr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    return torch.from_numpy(arr).permute(2, 0, 1)[None].float().div(255.0).contiguous()


class ImageFolderDataset(Dataset):
    """Random square crops (and horizontal flips) from a folder of images, or from the bundled photos.

    Args:
        root: a folder of images (any Pillow format, see ``common.image_io.list_images``), or None for the
            bundled photos (then ``exclude`` defaults to :data:`BENCH_PHOTOS`).
        crop_size: side S of the square crops, in pixels (>= 8).
        flips: random horizontal flips.
        exclude: file names or stems (folder) / photo names (bundled) to leave out.
        length: samples per epoch (default: the number of images); indices wrap around the images.
        max_side: downscale each image first so its longer side is at most this many pixels.
        cache: keep decoded images in memory (default True; set False for large folders).

    Items:
        ``(3, S, S)`` float32 in [0, 1]. An image smaller than S is first upscaled (bilinear) so that its
        shorter side is S. Randomness comes from torch's RNG (seed it; DataLoader seeds its workers).

    Raises:
        ImageLoadError: a missing/empty folder, or every image excluded. UserError: crop_size < 8.
    """

    def __init__(
        self,
        root: str | os.PathLike | None,
        crop_size: int,
        flips: bool = True,
        exclude: Sequence[str] | None = None,
        length: int | None = None,
        max_side: int | None = None,
        cache: bool = True,
    ) -> None:
        if crop_size < 8:
            raise UserError(f"crop_size must be at least 8 px, got {crop_size}")
        self.crop_size = int(crop_size)
        self.flips = flips
        self.max_side = max_side
        self.cache = cache
        self._cached: dict[int, np.ndarray] = {}
        if root is None:
            skip = set(BENCH_PHOTOS if exclude is None else exclude)
            self.names = [n for n in BUNDLED_PHOTO_NAMES if n not in skip]
            self.paths: list[Path] | None = None
        else:
            from common.image_io import list_images

            if Path(root).exists() and not Path(root).is_dir():
                raise ImageLoadError(f"not a folder: {root}")
            skip = set(exclude or ())
            self.paths = [p for p in list_images(root) if p.name not in skip and p.stem not in skip]
            self.names = [p.stem for p in self.paths]
        if not self.names:
            raise ImageLoadError(
                f"no images left in {root or 'the bundled photos'} after excluding {sorted(skip)}"
            )
        self.length = int(length) if length is not None else len(self.names)

    def __len__(self) -> int:
        return self.length

    def _image(self, k: int) -> np.ndarray:
        """(H, W, 3) float32 in [0, 1], downscaled to max_side and upscaled to at least crop_size."""
        if k in self._cached:
            return self._cached[k]
        import cv2

        if self.paths is None:
            arr = bundled_photos([self.names[k]])[self.names[k]].astype(np.float32) / 255.0
        else:
            from common.image_io import load_image

            arr = load_image(self.paths[k])[0].permute(1, 2, 0).numpy()
        h, w = arr.shape[:2]
        scale = 1.0
        if self.max_side is not None and max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
        if min(h, w) * scale < self.crop_size:
            scale = self.crop_size / min(h, w)
        if scale != 1.0:
            size = (max(self.crop_size, round(w * scale)), max(self.crop_size, round(h * scale)))
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            arr = cv2.resize(arr, size, interpolation=interp)
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if self.cache:
            self._cached[k] = arr
        return arr

    def __getitem__(self, index: int) -> torch.Tensor:
        arr = self._image(index % len(self.names))
        h, w = arr.shape[:2]
        s = self.crop_size
        top = int(torch.randint(0, h - s + 1, ()).item())
        left = int(torch.randint(0, w - s + 1, ()).item())
        crop = (
            torch.from_numpy(arr[top : top + s, left : left + s]).permute(2, 0, 1).contiguous()
        )  # (3, S, S)
        if self.flips and bool(torch.rand(()) < 0.5):
            crop = crop.flip(-1)
        return crop.clamp(0.0, 1.0)
