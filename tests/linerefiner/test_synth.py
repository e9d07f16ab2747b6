"""Synthetic pair generator: deterministic per seed, input and target share geometry, styles differ."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import binary_dilation

from common.errors import ImageLoadError, UserError
from common.image_io import save_image
from linerefiner.synth import STYLES, FolderPairs, make_pair, training_batch


def _mask(img: torch.Tensor, grow: int = 2) -> np.ndarray:
    return binary_dilation(img[0].numpy() < 0.6, iterations=grow)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_same_seed_same_pair():
    x1, y1 = make_pair(3, 96, 128, "taper")
    x2, y2 = make_pair(3, 96, 128, "taper")
    assert x1.shape == (1, 96, 128) and y1.shape == (1, 96, 128)
    assert x1.dtype == torch.float32 and 0 <= float(x1.min()) and float(x1.max()) <= 1
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    x3, _ = make_pair(4, 96, 128, "taper")
    assert not torch.equal(x1, x3)


@pytest.mark.parametrize("style", sorted(STYLES))
def test_input_and_target_share_geometry(style):
    same, other = [], []
    for seed in range(4):
        x, y = make_pair(seed, 96, 96, style)
        _, y_other = make_pair(seed + 100, 96, 96, style)
        same.append(_overlap(_mask(x), _mask(y)))
        other.append(_overlap(_mask(x), _mask(y_other)))
    assert np.mean(same) > 0.5
    assert np.mean(same) > 3 * np.mean(other)


def test_target_is_bolder_than_input_and_styles_differ():
    x, y_taper = make_pair(1, 128, 128, "taper", damage=False)
    _, y_nib = make_pair(1, 128, 128, "nib", damage=False)
    ink = lambda im: float((1 - im).sum())  # noqa: E731
    assert ink(y_taper) > 1.3 * ink(x)
    assert (y_taper - y_nib).abs().max() > 0.3


def test_unknown_style():
    with pytest.raises(UserError, match="unknown line style"):
        make_pair(0, 32, 32, "crayon")


def test_training_batch_shapes_and_determinism():
    x, y = training_batch(5, 2, 32, "nib")
    assert x.shape == (2, 1, 32, 32) and y.shape == (2, 1, 32, 32)
    x2, _ = training_batch(5, 2, 32, "nib")
    assert torch.equal(x, x2)


def test_folder_pairs(tmp_path):
    for sub in ("inputs", "targets"):
        (tmp_path / sub).mkdir()
    x, y = make_pair(0, 40, 48)
    save_image(x[None], tmp_path / "inputs" / "a.png")
    save_image(y[None], tmp_path / "targets" / "a.png")
    pairs = FolderPairs(tmp_path)
    xs, ys = pairs.sample(np.random.default_rng(0), 32)
    assert xs.shape == ys.shape == (1, 32, 32)
    xb, _ = training_batch(0, 3, 64, "taper", real=pairs, real_fraction=1.0)  # padded with paper
    assert xb.shape == (3, 1, 64, 64)
    save_image(x[None], tmp_path / "inputs" / "b.png")
    with pytest.raises(ImageLoadError, match="no target"):
        FolderPairs(tmp_path)


def test_damage_records_real_gaps_and_specks():
    from linerefiner.metrics import gap_connected, ink
    from linerefiner.synth import make_sample

    kinds, lengths, target_joins, input_splits, specks_dark = set(), [], [], [], []
    for seed in range(10**9, 10**9 + 12):
        s = make_sample(seed, 128, 128, "taper", density=20)
        for g in s.gaps:
            kinds.add(g.kind)
            lengths.append(g.length)
            target_joins.append(gap_connected(ink(s.target), g))
            input_splits.append(not gap_connected(ink(s.input), g))
        for k in range(1, int(s.specks.max()) + 1):
            specks_dark.append(float(s.input[s.specks == k].min()) < 0.9)
    assert kinds == {"stroke", "junction"} and len(lengths) > 20
    assert 1.0 <= min(lengths) and max(lengths) <= 12.0 and max(lengths) > 9 and min(lengths) < 3
    assert np.mean(target_joins) > 0.9  # the target draws the stroke through every gap
    assert np.mean(input_splits) > 0.6  # most cut gaps are open in the thresholded input
    assert specks_dark and np.mean(specks_dark) > 0.9


def test_pen_width_and_paper_vary_between_drawings():
    from linerefiner.damage import damage_drawing
    from linerefiner.synth import drawing_geometry, render_segments

    pens, papers = [], []
    for seed in range(40):
        strokes, joins = drawing_geometry(seed, 64, 64, 10)
        d = damage_drawing(strokes, joins, np.random.default_rng(seed), 64, 64, render_segments)
        pens.append(d.pen_width)
        papers.append(d.paper)
    assert 1.0 <= min(pens) < 1.5 and 3.0 < max(pens) <= 4.0
    assert min(papers) < 0.85 and max(papers) == 1.0
