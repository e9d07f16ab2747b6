"""Gap, speck, line and paper metrics on drawings whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from linerefiner.damage import Gap
from linerefiner.metrics import gap_connected, ink, score_drawing, summarise


def _line(h=40, w=80, row=20, x0=5, x1=75, gap=None, width=3):
    img = np.ones((h, w), np.float32)
    img[row - width // 2 : row + width // 2 + 1, x0:x1] = 0.0
    if gap is not None:
        img[:, gap[0] : gap[1]] = 1.0
    return img


GAP4 = Gap(np.array([37.5, 20.5]), np.array([42.5, 20.5]), 4.0, "stroke")  # ink ends at x = 38 and 42


def test_gap_connected_by_construction():
    target, gapped = _line(), _line(gap=(38, 42))
    assert gap_connected(ink(target), GAP4)
    assert not gap_connected(ink(gapped), GAP4)
    ellipse_like = gapped.copy()  # a path around through rows far away does not count
    ellipse_like[2:4, 5:75] = 0.0
    ellipse_like[2:21, 5:7] = 0.0
    ellipse_like[2:21, 73:75] = 0.0
    assert not gap_connected(ink(ellipse_like), GAP4)


def test_score_counts_closed_gaps_removed_specks_and_white_paper():
    target, gapped = _line(), _line(gap=(38, 42))
    specks = np.zeros_like(target, np.int32)
    specks[32:35, 60:63] = 1
    inp = gapped.copy()
    inp[32:35, 60:63] = 0.1
    perfect = score_drawing(target, inp, target, [GAP4], specks)
    assert (perfect.gaps_short, perfect.gaps_short_closed) == (1, 1)
    assert (perfect.specks, perfect.specks_removed) == (1, 1)
    identity = score_drawing(inp, inp, target, [GAP4], specks)
    assert (identity.gaps_short_closed, identity.specks_removed) == (0, 0)
    s = summarise([perfect])
    assert s["precision"] == s["recall"] == 1.0 and s["paper_white"] == 1.0
    assert summarise([identity])["precision"] < 1.0  # the speck is ink far from any target line
    gray = score_drawing(np.where(target < 1, target, 0.98), inp, target, [GAP4], specks)
    assert summarise([gray])["paper_white"] == 0.0 and summarise([gray])["paper_mean"] == pytest.approx(0.98)


def test_line_tolerance_is_two_pixels():
    target = _line()
    near, far = np.roll(target, 2, axis=0), np.roll(target, 5, axis=0)
    empty = np.zeros_like(target, np.int32)
    s_near = summarise([score_drawing(near, target, target, [], empty)])
    s_far = summarise([score_drawing(far, target, target, [], empty)])
    assert s_near["precision"] == s_near["recall"] == 1.0
    assert s_far["precision"] < 0.1 and s_far["recall"] < 0.1


def test_gaps_the_target_does_not_connect_are_not_scored():
    gapped = _line(gap=(38, 42))
    s = score_drawing(gapped, gapped, gapped, [GAP4], np.zeros_like(gapped, np.int32))
    assert s.gaps_short == 0 and s.gaps_long == 0
