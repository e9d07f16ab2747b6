"""Sketching figures: levels of abstraction (16, 32, 64, 128 strokes) and MROSS's round-by-round progression.

    python scripts/figures/sketching_figures.py                       # both figures, edge objective
    python scripts/figures/sketching_figures.py --figure rounds --photo coffee --num_iter 300
    python scripts/figures/sketching_figures.py --loss clip --clip_weights ~/RN101.pt --output_dir figs/

Writes into --output_dir (default results/figures/): ``sketching_abstraction.png`` (the photo, then one
sketch per stroke count) and ``sketching_rounds.png`` (the photo with its regions outlined, then the sketch
after each round; 48 strokes split over the whole image and 2 automatic regions by their edge counts).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import torch

from common.cli import ArgumentParser, positive_int, prepare_output_dir, run_main
from common.image_io import image_to_tensor, save_image, tensor_to_uint8
from sketching.edges import canny_edges
from sketching.objectives import build_objective
from sketching.pipeline import PreparedImage
from sketching.regions import allocate_strokes, auto_rois, content_mask, fit_to_canvas
from sketching.sketcher import SketchConfig, optimize_sketch, render_sketch


def _photo(name: str) -> np.ndarray:
    try:
        from common.data import bundled_photos

        return bundled_photos([name])[name]
    except (ImportError, KeyError):
        from skimage import data

        return getattr(data, name)()


def _prepared(
    target: torch.Tensor, content: np.ndarray, canvas: int, strokes: int, regions: int
) -> PreparedImage:
    edges = canny_edges(target, mask=content)
    masks = auto_rois(edges, regions)
    counts = [int(edges.sum())] + [int((edges & m).sum()) for m in masks]
    return PreparedImage(
        path=Path("bundled"),
        original_size=tuple(target.shape[-2:]),
        target=target,
        edges=edges,
        content=content,
        round_masks=[np.ones((canvas, canvas), bool), *masks],
        round_sources=["whole image"] + [f"auto {k + 1}" for k in range(len(masks))],
        edge_counts=counts,
        budgets=allocate_strokes(strokes, counts),
    )


def _seeded(prep: PreparedImage, objective) -> PreparedImage:
    """Seed on the edges the edge objective rewards (as sketching/test.py does)."""
    if getattr(objective, "edges", None) is not None and objective.edges.any():
        return dataclasses.replace(prep, edges=objective.edges)
    return prep


def _label(image: torch.Tensor, text: str) -> np.ndarray:
    tile = np.ascontiguousarray(tensor_to_uint8(image))
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (200, 30, 30), 1, cv2.LINE_AA)
    return tile


def _row(tiles: list[np.ndarray]) -> torch.Tensor:
    gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
    strip = np.concatenate([t for tile in tiles for t in (tile, gap)][:-1], 1)
    return torch.from_numpy(strip).permute(2, 0, 1).float().div(255)[None]


def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--figure", choices=("abstraction", "rounds", "all"), default="all")
    p.add_argument("--photo", default="chelsea", help="bundled photo (default chelsea)")
    p.add_argument("--loss", choices=("edge", "clip"), default="edge")
    p.add_argument("--clip_weights", default=None)
    p.add_argument("--num_iter", type=positive_int, default=200, help="iterations per round (default 200)")
    p.add_argument("--canvas", type=positive_int, default=224)
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument("--output_dir", default="results/figures")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = prepare_output_dir(args.output_dir)
    photo = _photo(args.photo)
    target = fit_to_canvas(image_to_tensor(photo), args.canvas).clamp(0, 1)
    content = content_mask(photo.shape[0], photo.shape[1], args.canvas)
    objective, notes = build_objective(
        args.loss, target, clip_weights=args.clip_weights, content_mask=content
    )
    tag = f"{objective.name} objective"
    device = torch.device("cpu")
    if args.figure in ("abstraction", "all"):
        tiles = [_label(target, args.photo)]
        for n in (16, 32, 64, 128):
            cfg = SketchConfig(num_strokes=n, num_iter=args.num_iter, canvas=args.canvas)
            prep = _seeded(_prepared(target, content, args.canvas, n, 0), objective)
            res = optimize_sketch(objective, prep.round_masks, prep.budgets, prep.edges, cfg, 0, device)
            tiles.append(
                _label(render_sketch(res.control_points, args.canvas, cfg.stroke_width), f"{n} strokes")
            )
            print(f"abstraction: {n} strokes, {tag} {res.best_loss:.4g}, {res.seconds:.0f} s")
        save_image(_row(tiles), out / "sketching_abstraction.png")
    if args.figure in ("rounds", "all"):
        cfg = SketchConfig(num_strokes=48, num_iter=args.num_iter, canvas=args.canvas)
        prep = _seeded(_prepared(target, content, args.canvas, 48, 2), objective)
        res = optimize_sketch(objective, prep.round_masks, prep.budgets, prep.edges, cfg, 0, device)
        outlined = np.ascontiguousarray(tensor_to_uint8(target))
        colours = [(230, 60, 60), (60, 90, 230)]
        for k, mask in enumerate(prep.round_masks[1:]):
            contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(outlined, contours, -1, colours[k % 2], 2)
        tiles = [outlined]
        for r, points in enumerate(res.round_points):
            text = f"round {r + 1}: +{prep.budgets[r]} = {points.shape[0]}"
            tiles.append(_label(render_sketch(points, args.canvas, cfg.stroke_width), text))
        save_image(_row(tiles), out / "sketching_rounds.png")
        print(f"rounds: budgets {prep.budgets}, {tag} per round {[round(v, 4) for v in res.round_losses]}")
    for note in notes:
        print("note:", note)
    return 0


if __name__ == "__main__":
    run_main(main)
