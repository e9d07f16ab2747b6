"""The one FCN renderer trainer (common.renderers.neural_training) behind both neural-renderer scripts."""

from __future__ import annotations

import json

import pytest
import torch

from common.checkpoint import default_checkpoint, load_checkpoint, load_model_state
from common.fcn_config import FCNTrainConfig
from common.renderers.neural import FCNRenderer
from common.renderers.neural_training import sample_batch, validation_mse

SHIPPED = {"oil": "cnp_renderer_fcn.pt", "bezier13": "segpaint_renderer_bezier13.pt"}


def _load(path):
    ckpt = load_checkpoint(path)
    return load_model_state(FCNRenderer.from_config(ckpt["config"]), ckpt).eval(), ckpt


@pytest.mark.parametrize(("stroke", "limit"), [("oil", 0.03), ("bezier13", 0.2)])
def test_shipped_checkpoints_of_the_old_trainers_still_load_and_render(stroke, limit):
    """Old schemas: CNP stored {"model", "train", "channels"}; segpaint the flat {"in_dim", ...}."""
    torch.set_num_threads(1)
    model, ckpt = _load(default_checkpoint(SHIPPED[stroke]))
    cfg = FCNTrainConfig(stroke=stroke)
    assert (model.in_dim, model.out_channels) == (cfg.build_model().in_dim, len(cfg.channels))
    params, target = sample_batch(cfg, 16, torch.Generator().manual_seed(5), "cpu")
    # the trained weights, not a random net: MSE near the training figure (0.0148 / 0.102)
    trained = validation_mse(model, params, target)
    untrained = validation_mse(FCNRenderer.from_config(ckpt["config"]), params, target)
    assert trained < limit and trained < 0.6 * untrained, (trained, untrained)


def _train(main, out, *extra):
    args = [
        "--output_dir",
        str(out),
        "--batch_size",
        "2",
        "--val_size",
        "4",
        "--save_every",
        "2",
        "--threads",
        "1",
    ]
    return main([*args, *extra])


@pytest.mark.parametrize("stroke", ["oil", "bezier13"])
def test_both_scripts_train_resume_keep_best_and_export(tmp_path, stroke, capsys):
    if stroke == "oil":
        from compositor.train_renderer_FCN import main
    else:
        from segpaint.train import main
    out = tmp_path / "run"
    assert _train(main, out, "--steps", "2", "--val_every", "2") == 0
    assert load_checkpoint(out / "last.pt")["step"] == 2
    assert _train(main, out, "--steps", "3", "--val_every", "2", "--export", str(tmp_path / "r.pt")) == 0
    assert "resumed from" in capsys.readouterr().out
    last = load_checkpoint(out / "last.pt")
    assert last["step"] == 3 and last["extra"]["loop"]["best_step"] in (2, 3)
    best = load_checkpoint(out / "best.pt")
    assert best["step"] == last["extra"]["loop"]["best_step"]
    assert best["metrics"]["val_mse"] == last["extra"]["loop"]["best"]
    shipped = load_checkpoint(
        tmp_path / "r.pt"
    )  # --export = renderer_best.pt: fp16, loads like the shipped one
    assert shipped["half"] and shipped["step"] == best["step"]
    assert {"command", "wall_s", "world_size", "data"} <= set(shipped["provenance"])  # for checkpoints/README
    assert next(iter(shipped["model"].values())).dtype == torch.float16
    model, _ = _load(tmp_path / "r.pt")
    cfg = FCNTrainConfig(stroke=stroke)
    assert (model.in_dim, model.out_channels) == (cfg.build_model().in_dim, len(cfg.channels))
    # one config schema for both renderers
    config = json.loads((out / "config.json").read_text())
    assert sorted(config) == ["channels", "model", "stroke", "train"] and config["stroke"] == stroke
    assert sorted(config["train"]) == sorted(f for f in FCNTrainConfig.__dataclass_fields__)


def test_new_export_loads_in_the_methods(tmp_path):
    from painter.training import build_renderer
    from segpaint.run import load_neural_renderer
    from segpaint.train import main as segpaint_main

    assert _train(segpaint_main, tmp_path / "s", "--steps", "1", "--export", str(tmp_path / "s.pt")) == 0
    alpha = load_neural_renderer(torch.device("cpu"), str(tmp_path / "s.pt"))(torch.rand(1, 2, 10), 32, 32)
    assert alpha.shape == (1, 2, 32, 32)
    from compositor.train_renderer_FCN import main as cnp_main

    assert (
        _train(cnp_main, tmp_path / "c", "--steps", "1", "--no_edge", "--export", str(tmp_path / "c.pt")) == 0
    )
    assert build_renderer(str(tmp_path / "c.pt"), "cpu").fcn.out_channels == 2


def test_bad_flag_is_one_line(tmp_path):
    from segpaint.train import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--output_dir", str(tmp_path), "--steps", "0"])
    assert exit_info.value.code == 2
