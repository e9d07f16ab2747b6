"""Semantic regions for segmentation-based painting.

1. DETR panoptic segmentation (``facebook/detr-resnet-50-panoptic`` through transformers'
   ``DetrForSegmentation.from_pretrained``: the Hugging Face cache, downloaded into it on first use when the
   machine is online and ``--offline`` is not set; ``common.pretrained.hf_from_pretrained``), loaded once
   per run by :func:`load_detr`: one binary mask per COCO category, instances of a category merged, ordered
   back to front as in the release.
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


@dataclass
class DetrSegmenter:
    """DETR panoptic segmentation, loaded once (:func:`load_detr`): its image processor and model."""

    processor: object
    model: object


def load_detr() -> DetrSegmenter:
    """Load DETR panoptic (``facebook/detr-resnet-50-panoptic``) once for a run, eval mode, CPU.

    Raises:
        WeightsMissingError: not in the Hugging Face cache and not downloadable (one line: what, where).
    """
    from transformers import DetrForSegmentation, DetrImageProcessor

    from common.pretrained import hf_from_pretrained

    processor = hf_from_pretrained(DetrImageProcessor, DETR_NAME)
    model = hf_from_pretrained(DetrForSegmentation, DETR_NAME).eval()
    return DetrSegmenter(processor, model)


def detr_segment(image: torch.Tensor, detr: DetrSegmenter) -> Segmentation:
    """DETR panoptic masks of ``image (1, 3, H, W)`` in [0, 1]."""
    processor, model = detr.processor, detr.model
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
    return Segmentation([by_name[n] for n in names], names, "detr-panoptic", f"{DETR_NAME} panoptic masks")


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


def segment(
    image: torch.Tensor,
    max_regions: int = 8,
    detr: DetrSegmenter | None = None,
    detr_note: str = "",
    log=print,
) -> Segmentation:
    """DETR panoptic masks when ``detr`` is loaded and finds regions, else SLIC; logs which one is used.

    Args:
        image: ``(1, 3, H, W)`` float in [0, 1]. max_regions: SLIC budget. detr: from :func:`load_detr`, or
        None (offline path). detr_note: why DETR is absent (recorded in ``metrics.json``).
    """
    if detr is not None:
        seg = detr_segment(image, detr)
        if seg.masks:
            log(f"segmentation: {seg.note}")
            return seg
        detr_note = "DETR found no regions"
    seg = slic_segment(image, max_regions)
    log(f"segmentation: offline SLIC regions ({detr_note})")
    seg.note = f"{seg.note}; {detr_note}"
    seg.extra["detr_missing"] = detr is None
    return seg
