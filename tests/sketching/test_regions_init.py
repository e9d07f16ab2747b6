"""Unit tests of the sketching pieces: budgets, ROI masks, seeds, the edge objective."""

import numpy as np
import pytest
import torch
from PIL import Image

from common.errors import ImageLoadError
from common.image_io import image_to_tensor
from sketching.edges import canny_edges
from sketching.initialization import farthest_point_sampling, random_walk_strokes, seed_points
from sketching.objectives import EdgeObjective
from sketching.regions import allocate_strokes, auto_rois, fit_to_canvas, load_roi_mask
from sketching.sketcher import render_sketch


@pytest.mark.parametrize(
    "total,counts",
    [
        (48, [6217, 1605, 1023]),
        (48, [0, 0, 0]),
        (3, [0, 5, 5]),
        (2, [0, 9, 9, 9]),
        (96, [100, 1, 1, 1]),
        (7, [1]),
    ],
)
def test_budgets_add_up_to_the_total(total, counts):
    budget = allocate_strokes(total, counts)
    assert sum(budget) == total and len(budget) == len(counts)
    if total >= len(counts):
        assert min(budget) >= 1


def test_budgets_follow_edge_counts():
    assert allocate_strokes(48, [1000, 300, 200]) == [32, 10, 6]  # round(48 * E_k / 1500)


def test_roi_mask_rgba_and_size_check(tmp_path):
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[10:20, 5:25] = (200, 100, 50, 255)  # opaque inside the region, transparent outside
    Image.fromarray(rgba).save(tmp_path / "roi.png")
    mask = load_roi_mask(tmp_path / "roi.png", 40, 60)
    assert mask.shape == (40, 60) and mask.sum() == 200 and mask[15, 10] and not mask[0, 0]
    with pytest.raises(ImageLoadError, match="60x40 but the target is 64x64"):
        load_roi_mask(tmp_path / "roi.png", 64, 64)
    with pytest.raises(ImageLoadError, match="not found"):
        load_roi_mask(tmp_path / "missing.png", 40, 60)


def test_farthest_point_sampling_spreads_points():
    rng = np.random.default_rng(0)
    pts = rng.random((2000, 2)) * 100
    fps = farthest_point_sampling(pts, 16, np.random.default_rng(1))
    rand = pts[:16]
    gap = lambda p: np.min([np.linalg.norm(a - b) for i, a in enumerate(p) for b in p[i + 1 :]])  # noqa: E731
    assert len(fps) == 16 and gap(fps) > 2 * gap(rand)


def test_seeds_lie_on_edges_inside_the_region(photo_224):
    edges = canny_edges(photo_224)
    mask = np.zeros_like(edges)
    mask[50:150, 50:150] = True
    seeds = seed_points(mask, edges, 20, np.random.default_rng(0))
    ix = (seeds - 0.5).astype(int)
    assert seeds.shape == (20, 2) and edges[ix[:, 1], ix[:, 0]].all() and mask[ix[:, 1], ix[:, 0]].all()
    strokes = random_walk_strokes(seeds, 224, torch.Generator().manual_seed(0))
    assert strokes.shape == (20, 4, 2)
    assert (strokes[:, 1:] - strokes[:, :-1]).abs().max() <= 0.025 * 224 + 1e-4  # CLIPasso's walk steps


def test_auto_rois_find_edge_dense_regions(photo_224):
    edges = canny_edges(photo_224)
    rois = auto_rois(edges, 2)
    assert 1 <= len(rois) <= 2
    for roi in rois:
        assert roi.shape == edges.shape
        assert (edges & roi).mean() / roi.mean() > edges.mean()  # denser than the image on average


def test_edge_objective_prefers_lines_on_edges(photo_224):
    obj = EdgeObjective(photo_224)
    blank = torch.ones(1, 3, 224, 224)
    edge_drawing = (1 - obj.ink).expand(1, 3, -1, -1)
    assert obj(edge_drawing)["loss"] < 1e-4 < obj(blank)["loss"]
    strokes = torch.tensor([[[20.0, 20], [40, 60], [80, 40], [120, 90]]])
    sketch = render_sketch(strokes, 224, 1.5)
    assert sketch.shape == (1, 3, 224, 224)


@pytest.fixture(scope="module")
def photo_224():
    from skimage import data

    return fit_to_canvas(image_to_tensor(data.astronaut()), 224)


def test_padding_border_of_a_wide_photo_gives_no_edges(tmp_path):
    from skimage import data

    from sketching.objectives import EdgeObjective
    from sketching.pipeline import prepare_image

    Image.fromarray(data.chelsea()).save(tmp_path / "chelsea.png")  # 300 x 451: padded top and bottom
    prep = prepare_image(tmp_path / "chelsea.png", 224, 48)
    rows = np.nonzero(prep.edges.any(1))[0]
    assert rows.min() >= 38 + 2 and rows.max() <= 186 - 2  # photo rows are about 37..186
    ink = EdgeObjective(prep.target, content_mask=prep.content).ink[0, 0]
    assert ink[:36].sum() == 0 and ink[-36:].sum() == 0


def test_saliency_seeds_follow_the_saliency_map(photo_224):
    from sketching.initialization import saliency_sampling
    from sketching.pipeline import clip_saliency

    nn = torch.nn
    visual = nn.Sequential(nn.Conv2d(3, 8, 5, stride=4), nn.Flatten(), nn.LazyLinear(16))
    sal = clip_saliency(visual, photo_224)  # any encoder (1, 3, 224, 224) -> (1, D) works
    assert sal.shape == (224, 224) and sal.min() == 0 and sal.max() == pytest.approx(1.0)
    ramp = np.tile(np.linspace(0, 1, 224), (224, 1))  # salient on the right
    seeds = saliency_sampling(ramp, np.ones((224, 224), bool), 30, np.random.default_rng(0), tau=0.1)
    assert seeds.shape == (30, 2) and np.median(seeds[:, 0]) > 150
