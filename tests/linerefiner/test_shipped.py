"""The shipped checkpoints do what the README promises: bridge a 4-px gap, white paper, tiled == whole."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from linerefiner.damage import ArcStroke, Gap
from linerefiner.inference import load_refiner, refine_tiled, refine_whole
from linerefiner.metrics import gap_connected, ink
from linerefiner.synth import heldout_samples, render_segments

STYLES = ("taper", "nib")


@pytest.fixture(scope="module", params=STYLES)
def shipped(request):
    torch.set_num_threads(1)
    g, cfg, _ = load_refiner(None, request.param)
    return g, cfg


def _drawing_with_4px_gaps(size: int = 96, pen: float = 1.5) -> tuple[np.ndarray, list[Gap]]:
    """Three clean strokes (horizontal, diagonal, a circle arc), each cut by one gap of 4 px of paper."""
    c = size / 2
    arc = np.array([[c + 30 * math.cos(a), c + 30 * math.sin(a)] for a in np.linspace(0.3, 2.6, 12)])
    strokes = [
        np.array([[[10, 20], [30, 20], [60, 20], [86, 20]]], float),
        np.array([[[12, 84], [30, 66], [50, 46], [70, 26]]], float),
        np.stack(
            [
                np.stack([p, p + (q - p) / 3, p + 2 * (q - p) / 3, q])
                for p, q in zip(arc[:-1], arc[1:], strict=True)
            ]
        ),
    ]
    segs, gaps = [], []
    for s in strokes:
        st = ArcStroke(s)
        a = st.length / 2 - 2 - pen / 2  # 4 px of paper between the two round caps
        b = st.length / 2 + 2 + pen / 2
        segs += [st.piece(0, a), st.piece(b, st.length)]
        gaps.append(Gap(st.point(a), st.point(b), 4.0, "stroke"))
    segs = np.concatenate(segs)
    img = render_segments(segs, np.full(len(segs), pen), np.full(len(segs), 0.1), size, size)
    return img, gaps


def test_known_4px_gap_comes_out_connected(shipped):
    g, _ = shipped
    img, gaps = _drawing_with_4px_gaps()
    assert not any(gap_connected(ink(img), gp) for gp in gaps)  # the input really is open
    out = refine_whole(g, torch.from_numpy(img)[None, None])[0, 0].numpy()
    assert all(gap_connected(ink(out), gp) for gp in gaps)


def test_paper_comes_out_exactly_white(shipped):
    g, _ = shipped
    blank = torch.full((1, 1, 64, 64), 0.9)  # gray paper, no lines
    assert (refine_whole(g, blank) == 1.0).all()
    white = []
    for smp in heldout_samples("taper", 6, 128, offset=900_000):
        out = refine_whole(g, torch.from_numpy(smp.input)[None, None])[0, 0].numpy()
        far = ~ink(smp.target)
        far = cv2.distanceTransform(far.astype(np.uint8), cv2.DIST_L2, 5) > 4
        white.append(float((out[far] == 1.0).mean()))
    assert np.mean(white) > 0.99


def test_shipped_tiled_equals_whole(shipped):
    g, cfg = shipped
    smp = heldout_samples("taper", 1, 160, offset=900_100)[0]
    x = torch.from_numpy(smp.input)[None, None]
    whole = refine_whole(g, x)
    tiled = refine_tiled(g, x, cfg, tile=48)
    assert (tiled - whole).abs().max() < 1e-4
