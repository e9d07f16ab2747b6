"""Semantic regions for segmentation-based painting.

1. DETR panoptic segmentation (``facebook/detr-resnet-50-panoptic`` through transformers'
   ``DetrForSegmentation``), loaded from the local Hugging Face cache only (``local_files_only=True``): one
   binary mask per COCO category, instances of a category merged, ordered back to front as in the release.
2. Offline path (no weights): SLIC superpixels from scikit-image on the Lab image with a generic budget of
   ``max_regions`` regions, ordered by area (largest first, a stand-in for "background first").

Which one ran is recorded by the caller in the log and in ``metrics.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

DETR_NAME = "facebook/detr-resnet-50-panoptic"
# back-to-front painting order of the release (Painter.__init__), matched by substring
PAINT_ORDER = (
    "background",
    "sky",
    "mountain",
    "sea",
    "river",
    "rock",
    "building",
    "house",
    "pavement",
    "wall",
    "roof",
    "bridge",
    "floor",
    "dirt",
    "road",
    "sand",
    "snow",
    "water",
    "grass",
    "window",
    "curtain",
    "tree",
    "fence",
    "light",
    "car",
    "bus",
    "truck",
    "chair",
    "table",
    "bottle",
    "person",
    "dog",
    "bird",
    "backpack",
    "potted plant",
)


@dataclass
class Segmentation:
    """Regions of an image: ``masks`` list of (H, W) bool tensors with their ``names``, painting order."""

    masks: list[torch.Tensor]
    names: list[str]
    method: str
    note: str = ""
    extra: dict = field(default_factory=dict)


def _order_key(name: str) -> int:
    hits = [i for i, key in enumerate(PAINT_ORDER) if key in name]
    return hits[-1] if hits else len(PAINT_ORDER)


def detr_segment(image: torch.Tensor) -> Segmentation:
    """DETR panoptic masks of ``image (1, 3, H, W)`` in [0, 1], from the local HF cache only.

    Raises:
        OSError / ImportError / ValueError: model not in the local cache (nothing is downloaded).
    """
    from transformers import DetrForSegmentation, DetrImageProcessor

    processor = DetrImageProcessor.from_pretrained(DETR_NAME, local_files_only=True)
    model = DetrForSegmentation.from_pretrained(DETR_NAME, local_files_only=True).eval()
    H, W = image.shape[-2:]
    arr = (image[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy() * 255).astype(np.uint8)
    with torch.no_grad():
        inputs = processor(images=arr, return_tensors="pt")
        out = model(**inputs)
    result = processor.post_process_panoptic_segmentation(out, target_sizes=[(H, W)])[0]
    seg = result["segmentation"]
    by_name: dict[str, torch.Tensor] = {}
    for info in result["segments_info"]:
        name = model.config.id2label[info["label_id"]].split("-")[0]
        m = seg == info["id"]
        by_name[name] = by_name.get(name, torch.zeros_like(m)) | m
    names = sorted(by_name, key=_order_key)
    return Segmentation(
        [by_name[n] for n in names], names, "detr-panoptic", f"{DETR_NAME} from the local cache"
    )


def slic_segment(image: torch.Tensor, max_regions: int = 8, seed: int = 0) -> Segmentation:
    """Offline regions: SLIC superpixels (scikit-image) on ``image (1, 3, H, W)``, about ``max_regions`` of
    them, largest first. Regions smaller than 1% of the image are merged into their largest neighbour."""
    from skimage.color import rgb2lab
    from skimage.segmentation import slic

    arr = image[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy().astype(np.float64)
    labels = slic(
        rgb2lab(arr),
        n_segments=max_regions,
        compactness=20,
        start_label=0,
        convert2lab=False,
        enforce_connectivity=True,
    )
    areas = np.bincount(labels.ravel())
    small = [k for k in range(len(areas)) if 0 < areas[k] < 0.01 * labels.size]
    for k in small:  # merge into the most frequent neighbouring label
        m = labels == k
        ring = np.zeros_like(m)
        ring[1:] |= m[:-1]
        ring[:-1] |= m[1:]
        ring[:, 1:] |= m[:, :-1]
        ring[:, :-1] |= m[:, 1:]
        neigh = labels[ring & ~m]
        if neigh.size:
            labels[m] = np.bincount(neigh).argmax()
    ids = [k for k in np.unique(labels)]
    ids.sort(key=lambda k: -(labels == k).sum())
    masks = [torch.from_numpy(labels == k) for k in ids]
    return Segmentation(
        masks,
        [f"region_{i}" for i in range(len(ids))],
        "slic",
        f"offline SLIC regions (scikit-image), budget {max_regions}",
    )


def segment(image: torch.Tensor, max_regions: int = 8, log=print) -> Segmentation:
    """DETR panoptic when its weights are in the local HF cache, else SLIC; logs which one is used."""
    try:
        seg = detr_segment(image)
        if seg.masks:
            log(f"segmentation: {seg.note}")
            return seg
    except Exception as err:  # noqa: BLE001 - any failure to load the optional model means: offline path
        reason = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        log(
            f"segmentation: DETR ({DETR_NAME}) not in the local Hugging Face cache ({reason}); "
            f"using offline SLIC regions"
        )
    seg = slic_segment(image, max_regions)
    seg.extra["detr_missing"] = True
    return seg
