"""Training data for the CNP painter and compositor: random square crops of photos, resized to a patch.

Crops have a random side between ``min_frac`` and 1 of the photo's shorter side, so the networks see
the range of scales that the compositor's regions have at test time; random horizontal flips.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def load_photos(
    dataset: str | None, max_side: int = 512, exclude: tuple[str, ...] = ()
) -> list[torch.Tensor]:
    """Photos as a list of (3, H, W) float tensors in [0, 1].

    Args:
        dataset: a folder (or file) of images, or None for the photos bundled with scikit-image and
            scikit-learn (``common.data.bundled_photos``) minus ``common.data.BENCH_PHOTOS``.
        max_side: photos are downscaled (aspect kept) to at most this long side.
        exclude: bundled photo names left out in addition to the benchmark photos.

    Raises:
        ImageLoadError: missing/empty folder or unreadable image.
    """
    from common.image_io import image_to_tensor, list_images, load_image

    if dataset is not None:
        return [load_image(p, max_side=max_side)[0] for p in list_images(dataset)]
    from common.data import BENCH_PHOTOS, bundled_photos

    photos = bundled_photos(exclude=tuple(BENCH_PHOTOS) + tuple(exclude))
    out = []
    for arr in photos.values():
        t = image_to_tensor(arr)
        t = t[0] if t.dim() == 4 else t
        if t.shape[0] == 1:
            t = t.expand(3, -1, -1)
        scale = max_side / max(t.shape[-2:])
        if scale < 1:
            t = F.interpolate(t[None], scale_factor=scale, mode="area")[0]
        out.append(t.contiguous())
    return out


class CropSampler:
    """Draws batches of random crops from photos.

    Args:
        photos: list of (3, H, W) tensors in [0, 1].
        size: output patch side (128).
        min_frac: smallest crop side as a fraction of the photo's shorter side.
        seed: seed of the sampler's own generator.
    """

    def __init__(self, photos: list[torch.Tensor], size: int = 128, min_frac: float = 0.1, seed: int = 0):
        if not photos:
            raise ValueError("no photos to sample from")
        self.photos, self.size, self.min_frac = photos, size, min_frac
        self.gen = torch.Generator().manual_seed(seed)

    def _rand(self) -> float:
        return float(torch.rand(1, generator=self.gen))

    def sample(self, batch: int) -> torch.Tensor:
        """(batch, 3, size, size) float crops in [0, 1]."""
        out = []
        for _ in range(batch):
            img = self.photos[int(torch.randint(len(self.photos), (1,), generator=self.gen))]
            h, w = img.shape[-2:]
            short = min(h, w)
            side = max(8, int(short * (self.min_frac + (1 - self.min_frac) * self._rand() ** 2)))
            y = int(self._rand() * (h - side + 1))
            x = int(self._rand() * (w - side + 1))
            crop = img[None, :, y : y + side, x : x + side]
            crop = F.interpolate(
                crop, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False
            )
            if self._rand() < 0.5:
                crop = crop.flip(-1)
            out.append(crop.clamp(0, 1))
        return torch.cat(out)
