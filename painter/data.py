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


# Held-out validation photos of the painter (Debian opencv-doc, never trained on): colour photos that are
# neither benchmark photos (common.debian_data.OPENCV_BENCH_PHOTOS) nor training photos.
VAL_OPENCV = ("baboon.jpg", "butterfly.jpg", "squirrel_cls.jpg", "orange.jpg", "building.jpg")


def train_opencv_names() -> tuple[str, ...]:
    """opencv-doc photos used for training (``--opencv``): every ``.jpg`` except the benchmark photos,
    :data:`VAL_OPENCV` and the gray chessboard calibration shots ``left*/right*``."""
    import re

    from common.debian_data import OPENCV_BENCH_PHOTOS, opencv_doc_photos

    names = opencv_doc_photos(exclude=tuple(OPENCV_BENCH_PHOTOS) + VAL_OPENCV)
    return tuple(n for n in names if not re.match(r"(left|right)\d", n))


def load_opencv_photos(names: tuple[str, ...], max_side: int = 512) -> list[torch.Tensor]:
    """Photos from Debian's opencv-doc package (``common.debian_data``) as (3, H, W) float tensors in
    [0, 1], downscaled (aspect kept) to at most ``max_side``; gray photos are expanded to 3 channels.

    Raises:
        whatever :func:`common.debian_data.opencv_doc_photos` raises when the package cannot be had;
        ImageLoadError for an unreadable file.
    """
    from common.debian_data import opencv_doc_photos
    from common.image_io import load_image

    out = []
    for path in opencv_doc_photos(tuple(names)).values():
        t = load_image(path, max_side=max_side)[0]
        t = t[0] if t.dim() == 4 else t
        out.append((t.expand(3, -1, -1) if t.shape[0] == 1 else t).contiguous())
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

    def _resize(self, crop: torch.Tensor) -> torch.Tensor:
        return F.interpolate(
            crop, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False
        ).clamp(0, 1)

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
            crop = self._resize(img[None, :, y : y + side, x : x + side])
            if self._rand() < 0.5:
                crop = crop.flip(-1)
            out.append(crop)
        return torch.cat(out)

    def sample_nested(self, batch: int, max_zoom: float = 4.0):
        """Crops with a parent region around each: what a sub-region sees after its region was painted.

        Returns:
            child, parent: (batch, 3, size, size) crops in [0, 1]; boxes: (batch, 4) normalised
            ``(x0, y0, x1, y1)`` of the child inside its parent (side 1 / zoom, zoom uniform in
            [1.5, max_zoom] where the photo allows).
        """
        children, parents, boxes = [], [], []
        for _ in range(batch):
            img = self.photos[int(torch.randint(len(self.photos), (1,), generator=self.gen))]
            h, w = img.shape[-2:]
            short = min(h, w)
            side = max(16, int(short * (0.3 + 0.7 * self._rand())))  # parent side
            zoom = min(1.5 + (max_zoom - 1.5) * self._rand(), side / 8)
            child = max(8, int(side / zoom))
            y = int(self._rand() * (h - side + 1))
            x = int(self._rand() * (w - side + 1))
            cy = int(self._rand() * (side - child + 1))
            cx = int(self._rand() * (side - child + 1))
            parents.append(self._resize(img[None, :, y : y + side, x : x + side]))
            children.append(self._resize(img[None, :, y + cy : y + cy + child, x + cx : x + cx + child]))
            boxes.append(torch.tensor([cx, cy, cx + child, cy + child], dtype=torch.float32) / side)
        return torch.cat(children), torch.cat(parents), torch.stack(boxes)


def strokes_into_box(strokes: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Express ``oil`` strokes of a square patch in the coordinates of a square sub-box of it.

    Args:
        strokes: (B, N, 8) in the parent patch's coordinates. boxes: (B, 4) square sub-boxes
            ``(x0, y0, x1, y1)``, normalised to the parent.

    Returns:
        (B, N, 8) strokes in the sub-box's coordinates (positions may leave [0, 1] and sizes exceed 1:
        render them with full-canvas maps, ``render_oil(..., use_boxes=False)``).
    """
    x0, y0 = boxes[:, None, 0], boxes[:, None, 1]
    side = (boxes[:, None, 2] - boxes[:, None, 0]).clamp_min(1e-6)
    out = strokes.clone()
    out[..., 0] = (strokes[..., 0] - x0) / side
    out[..., 1] = (strokes[..., 1] - y0) / side
    out[..., 2] = strokes[..., 2] / side
    out[..., 3] = strokes[..., 3] / side
    return out


class SyntheticStrokes:
    """Stroke-supervised warm-start samples (not in the paper; Paint Transformer's self-training idea).

    Each sample: a canvas painted with 0 to ``max_old`` random ``oil`` strokes on black, and a target
    equal to that canvas plus 5 more random strokes, whose parameters are the labels. Stroke colours are
    read from a random photo crop at the stroke centre (so colours follow photo statistics); lengths are
    uniform in [0.05, 0.8] of the patch, thicknesses in [0.3, 1] of the length (``w >= h``, the
    canonical form of the length/thickness swap symmetry), angles uniform.

    Args:
        photos: list of (3, H, W) tensors in [0, 1] (colour source). size: patch side in pixels.
        strokes: labelled strokes per sample (the painter's strokes per call). max_old: most canvas
            strokes. seed: generator seed.
    """

    def __init__(self, photos, size: int = 128, strokes: int = 5, max_old: int = 40, seed: int = 0):
        self.crops = CropSampler(photos, size=size, min_frac=0.1, seed=seed)
        self.size, self.strokes, self.max_old = size, strokes, max_old
        self.gen = torch.Generator().manual_seed(seed + 1)

    def _random_strokes(self, photo: torch.Tensor, n: int) -> torch.Tensor:
        g = self.gen
        xy = torch.rand(n, 2, generator=g)
        length = 0.05 + 0.75 * torch.rand(n, 1, generator=g) ** 1.5  # more small strokes than large
        thick = length * (0.3 + 0.7 * torch.rand(n, 1, generator=g))
        theta = torch.rand(n, 1, generator=g)
        px = (xy * (self.size - 1)).round().long()
        rgb = photo[:, px[:, 1], px[:, 0]].T  # (n, 3) colour under the centre
        return torch.cat([xy, length, thick, theta, rgb], 1)

    @torch.no_grad()
    def sample(self, batch: int):
        """Returns target, canvas (batch, 3, S, S) in [0, 1] and labels (batch, strokes, 8) in [0, 1]."""
        from common.renderers.oil import render_oil

        photos = self.crops.sample(batch)
        targets, canvases, labels = [], [], []
        for i in range(batch):
            canvas = torch.zeros(1, 3, self.size, self.size)
            n_old = int(torch.randint(self.max_old + 1, (1,), generator=self.gen))
            if n_old:
                canvas = render_oil(self._random_strokes(photos[i], n_old)[None], canvas)
            new = self._random_strokes(photos[i], self.strokes)
            targets.append(render_oil(new[None], canvas))
            canvases.append(canvas)
            labels.append(new)
        return torch.cat(targets), torch.cat(canvases), torch.stack(labels)
