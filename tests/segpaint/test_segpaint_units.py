"""segpaint building blocks: windows, pasting, stroke coordinates, initialisation, train.py + resume."""

from __future__ import annotations

import torch

from common.renderers.bezier13 import render_bezier13
from segpaint.config import STYLES, style_config
from segpaint.painter import analytic_alpha, constrain, init_strokes, render_windows, to_canvas
from segpaint.patches import crop, grid_starts, paste_blend, uniform_windows


def test_grid_covers_with_overlap():
    for size in (48, 128, 300, 512, 777):
        starts = grid_starts(size, min(128, size), 20)
        p = min(128, size)
        assert starts[0] == 0 and starts[-1] + p == size
        assert all(b - a <= p - 20 for a, b in zip(starts, starts[1:], strict=False))
    assert len(uniform_windows(512, 512)) == 25


def test_paste_of_unchanged_crops_is_identity(photo):
    wins = uniform_windows(128, 128, patch=48, overlap=20)
    out = paste_blend(torch.zeros_like(photo), crop(photo, wins), wins, 20)
    torch.testing.assert_close(out, photo, atol=1e-5, rtol=0)


def test_window_strokes_in_canvas_coordinates_render_the_same(photo):
    torch.set_num_threads(1)
    wins = [(40, 30, 64, 64)]
    gen = torch.Generator().manual_seed(0)
    raw = init_strokes(crop(photo, wins), 9, 0.1, 0.3, gen)
    params = constrain(raw, 0.01, 0.3)
    base = torch.zeros(1, 3, 64, 64)
    win_img = render_windows(params, base, analytic_alpha)
    full = render_bezier13(to_canvas(params, wins, 128, 128)[None], torch.zeros(1, 3, 128, 128))
    assert (full[..., 40:104, 30:94] - win_img).abs().max() < 0.05


def test_styles():
    for s in STYLES:
        cfg = style_config(s, iter_steps=3)
        assert cfg.iter_steps == 3 and cfg.passes == len(cfg.brush_sizes)


def test_train_few_steps_and_resume(tmp_path, capsys):
    from common.checkpoint import load_checkpoint
    from segpaint.train import main

    out = tmp_path / "run"
    main(["--output_dir", str(out), "--steps", "2", "--batch_size", "4", "--device", "cpu"])
    assert load_checkpoint(out / "last.pt")["step"] == 2
    main(
        [
            "--output_dir",
            str(out),
            "--steps",
            "3",
            "--batch_size",
            "4",
            "--device",
            "cpu",
            "--export",
            str(tmp_path / "r.pt"),
        ]
    )
    assert "resumed" in capsys.readouterr().out
    ck = load_checkpoint(tmp_path / "r.pt")
    assert ck["step"] == 3 and ck["config"]["model"]["in_dim"] == 10
    assert next(iter(ck["model"].values())).dtype == torch.float16


def test_shipped_neural_renderer_loads():
    from segpaint.run import load_neural_renderer

    alpha_fn = load_neural_renderer(torch.device("cpu"))
    a = alpha_fn(torch.rand(2, 3, 10), 64, 96)
    assert a.shape == (2, 3, 64, 96) and 0 <= a.min() and a.max() <= 1


def test_attention_and_region_passes_paint(photo):
    """expressionist (error-driven windows) and abstract (regions from pass 0, offline SLIC) both improve."""
    from segpaint.painter import paint
    from segpaint.segmentation import slic_segment

    torch.set_num_threads(1)
    image = torch.nn.functional.interpolate(photo, size=(48, 64), mode="area")
    blank = image.abs().mean().item()
    for style in ("expressionist", "abstract"):
        cfg = style_config(style, iter_steps=3)
        seg = slic_segment(image, 4) if cfg.mask_from_pass is not None else None
        res = paint(image, cfg, segmentation=seg, log=lambda _m: None)
        assert res.strokes.shape[0] == sum(res.pass_counts) > 0
        assert (res.canvas - image).abs().mean().item() < 0.7 * blank, style
        assert len(res.pass_canvases) == cfg.passes
