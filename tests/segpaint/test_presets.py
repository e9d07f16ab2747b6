"""segpaint's budgets (--preset default|paper) and its time-left estimate across passes."""

from __future__ import annotations

import pytest
import torch

from segpaint.config import PAPER_STEPS, STYLES, SegPaintConfig, style_config
from segpaint.painter import paint, pass_costs
from segpaint.test import build_parser


@pytest.mark.parametrize("style", STYLES)
def test_default_preset_is_a_sixth_of_the_papers_steps(style):
    assert style_config(style, preset="paper").iter_steps == PAPER_STEPS[style]
    assert style_config(style).iter_steps == round(PAPER_STEPS[style] / 6)
    assert style_config(style, preset="paper", iter_steps=7).iter_steps == 7  # the explicit flag wins
    # only the step count differs between the presets
    fast, paper = style_config(style).to_dict(), style_config(style, preset="paper").to_dict()
    assert {k for k in fast if fast[k] != paper[k]} == {"iter_steps"}


def test_default_is_the_former_iter_steps_50_run():
    assert style_config("realistic") == style_config("realistic", preset="paper", iter_steps=50)
    assert SegPaintConfig().iter_steps == 50
    assert style_config("realistic").strokes_per_patch == (16, 36, 49, 64)
    with pytest.raises(ValueError, match="preset"):
        style_config("realistic", preset="fast")


def test_preset_flag():
    parser = build_parser()
    assert parser.parse_args(["--image_path", "x.png"]).preset == "default"
    assert parser.parse_args(["--image_path", "x.png", "--preset", "paper"]).preset == "paper"


def test_pass_costs_follow_strokes_brush_and_attention_windows():
    cfg = style_config("expressionist")  # 2 passes of 9 strokes, brush 0.8; pass 2 uses attention windows
    costs = pass_costs(cfg, grid_windows=25)
    assert costs[0] == pytest.approx(cfg.iter_steps * 25 * (9 * 0.8**1.75 + 1.5))
    assert costs[1] == pytest.approx(costs[0] * 15 / 25)  # floor(25 * (0.7 - 0.1)) windows
    realistic = pass_costs(style_config("realistic"), 25)
    assert realistic == sorted(realistic, reverse=True)  # the brush halves faster than the strokes grow


def test_paint_prints_time_left(capsys, photo):
    cfg = style_config("realistic", iter_steps=5, strokes_per_patch=(4, 4), brush_sizes=(0.8, 0.4))
    lines = []
    res = paint(photo[..., :64, :64].contiguous(), cfg, seed=0, log=lines.append)
    assert res.canvas.shape == (1, 3, 64, 64) and torch.isfinite(res.canvas).all()
    assert "all 2 passes: about" in capsys.readouterr().out  # the first estimate, 5 steps in
    assert "left (estimate)" in lines[0] and "left" not in lines[-1]  # after pass 1, none after the last
