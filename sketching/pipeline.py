"""One image from file to sketch: load and fit the target, resolve the regions and the stroke budget, run
the best of several seeds. The entry script (``sketching/test.py``) only parses flags and writes files.

Shape letters: C canvas side; masks ``(C, C)`` bool numpy arrays; images ``(1, 3, C, C)`` in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from common.errors import UserError
from common.image_io import load_image
from sketching.edges import canny_edges
from sketching.regions import (
    allocate_strokes,
    auto_rois,
    content_mask,
    find_roi_files,
    fit_to_canvas,
    load_roi_mask,
    mask_to_canvas,
)
from sketching.sketcher import SketchConfig, SketchResult, optimize_sketch

__all__ = ["PreparedImage", "prepare_image", "clip_saliency", "best_of_seeds", "DEFAULT_AUTO_ROUNDS"]

DEFAULT_AUTO_ROUNDS = 3  # --auto_roi without --region_round: the whole image + 2 regions


@dataclass
class PreparedImage:
    """A target ready to sketch.

    Attributes:
        path: the image file.
        original_size: ``(H, W)`` of the file.
        target: ``(1, 3, C, C)`` float in [0, 1] (padded to a square with white, resized to the canvas).
        edges: ``(C, C)`` bool Canny edges (MROSS's detector) of ``target``, inside ``content``.
        content: ``(C, C)`` bool, where the photo lies (not its white padding).
        round_masks: per round a ``(C, C)`` bool mask; round 1 is the whole image.
        round_sources: per round where its region came from (``"whole image"``, a file, ``"auto k"``).
        edge_counts: per round the Canny edge pixels in its region.
        budgets: per round the strokes it adds (sums to the total).
        notes: log lines for metrics.json.
    """

    path: Path
    original_size: tuple[int, int]
    target: torch.Tensor
    edges: np.ndarray
    content: np.ndarray
    round_masks: list[np.ndarray]
    round_sources: list[str]
    edge_counts: list[int]
    budgets: list[int]
    notes: list[str] = field(default_factory=list)


def prepare_image(
    path: Path,
    canvas: int,
    num_strokes: int,
    region_round: int | None = None,
    roi_paths: list[Path] | None = None,
    auto_roi: bool = False,
) -> PreparedImage:
    """Load a target and resolve its rounds (no file is written).

    Rounds: with ``roi_paths``, one round per mask after the whole-image round; with ``auto_roi``,
    ``region_round - 1`` (default 2) automatic regions; otherwise ``region_round - 1`` masks named
    ``<stem>_roi{k}.*`` beside the image (the MROSS release's convention), none for ``region_round`` 1.

    Raises:
        ImageLoadError: unreadable target or mask, or a mask of another size.
        UserError: inconsistent round/ROI flags, or more rounds than strokes.
    """
    image = load_image(path)
    _, _, h, w = image.shape
    target = fit_to_canvas(image, canvas).clamp(0, 1)
    content = content_mask(h, w, canvas)
    edges = canny_edges(target, mask=content)
    notes: list[str] = []
    if roi_paths and auto_roi:
        raise UserError("use either --roi MASK... or --auto_roi, not both")
    if roi_paths:
        if region_round is not None and region_round != len(roi_paths) + 1:
            raise UserError(
                f"--region_round {region_round} needs {region_round - 1} ROI mask(s), "
                f"got {len(roi_paths)} (--roi)"
            )
        masks = [mask_to_canvas(load_roi_mask(p, h, w), canvas) for p in roi_paths]
        sources = [str(p) for p in roi_paths]
    elif auto_roi:
        wanted = (region_round or DEFAULT_AUTO_ROUNDS) - 1
        masks = auto_rois(edges, wanted)
        sources = [f"auto {k + 1} (edge density)" for k in range(len(masks))]
        if len(masks) < wanted:
            notes.append(f"--auto_roi found {len(masks)} region(s) of {wanted} asked for; fewer rounds run")
    else:
        rounds = region_round or 1
        files = find_roi_files(path, rounds - 1) if rounds > 1 else []
        masks = [mask_to_canvas(load_roi_mask(p, h, w), canvas) for p in files]
        sources = [str(p) for p in files]
    whole = np.ones((canvas, canvas), dtype=bool)
    round_masks = [whole, *masks]
    if num_strokes < len(round_masks):
        raise UserError(f"--num_strokes {num_strokes} is fewer than the {len(round_masks)} rounds")
    counts = [int(edges.sum())] + [int((edges & m).sum()) for m in masks]
    return PreparedImage(
        path=path,
        original_size=(h, w),
        target=target,
        edges=edges,
        content=content,
        round_masks=round_masks,
        round_sources=["whole image", *sources],
        edge_counts=counts,
        budgets=allocate_strokes(num_strokes, counts),
        notes=notes,
    )


def clip_saliency(visual: torch.nn.Module, target: torch.Tensor) -> np.ndarray:
    """A CLIP RN101 saliency map for CLIPasso-style seeding: ``|d ||CLIP_fc(I)|| / dI|`` summed over colour,
    blurred (sigma 4 px) and min-max normalised. (CLIPasso uses ViT-B/32 attention; see the package notes.)

    Args:
        visual: CLIP image encoder (``common.losses.clip_loss.load_clip_rn101``).
        target: ``(1, 3, C, C)`` in [0, 1].

    Returns:
        ``(C, C)`` float64 in [0, 1].
    """
    import cv2
    from torch.nn import functional as F

    from common.losses.clip_loss import CLIP_MEAN, CLIP_STD

    x = target.detach().clone().requires_grad_(True)
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    inp = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
    visual((inp - mean) / std).norm().backward()
    sal = x.grad.abs().sum(1)[0].cpu().numpy().astype(np.float64)
    sal = cv2.GaussianBlur(sal, (0, 0), 4.0)
    return (sal - sal.min()) / max(sal.max() - sal.min(), 1e-12)


def best_of_seeds(
    prepared: PreparedImage,
    objective,
    config: SketchConfig,
    seeds: list[int],
    device: torch.device,
    saliency: np.ndarray | None = None,
    on_eval=None,
    progress: bool = True,
) -> tuple[SketchResult, list[SketchResult]]:
    """Run one sketch per seed (CLIPasso: seeds s, s + 1000, s + 2000) and keep the lowest best objective.

    Returns:
        ``(best result, all results in seed order)``. ``on_eval(image, step, loss)`` gets each seed's frames
        tagged by seed through a closure made by the caller.
    """
    results = []
    for seed in seeds:
        callback = on_eval(seed) if on_eval is not None else None
        results.append(
            optimize_sketch(
                objective,
                prepared.round_masks,
                prepared.budgets,
                prepared.edges,
                config,
                seed,
                device,
                saliency=saliency,
                on_eval=callback,
                progress=progress,
            )
        )
    best = min(results, key=lambda r: r.best_loss)
    return best, results
