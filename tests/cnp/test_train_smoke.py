"""A few steps of each CNP training script on a tiny dataset, then resuming from what it wrote."""

import re

import numpy as np
import pytest
import torch
from PIL import Image

from common.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    import skimage.data

    root = tmp_path_factory.mktemp("photos")
    rocket = skimage.data.rocket()[::3, ::3]
    Image.fromarray(np.ascontiguousarray(rocket)).save(root / "rocket.png")
    Image.fromarray(np.ascontiguousarray(rocket[:, ::-1])).save(root / "rocket_flip.jpg")
    return root


@pytest.fixture(scope="module")
def painter_run(tiny_dataset, tmp_path_factory):
    from painter.train import main

    out = tmp_path_factory.mktemp("painter")
    args = [
        "--dataset",
        str(tiny_dataset),
        "--batch_size",
        "2",
        "--rollout",
        "2",
        "--save_every",
        "1",
        "--pretrain_steps",
        "1",
        "--pyramid",
        "2",
        "--patch",
        "32",
        "--output_dir",
        str(out),
        "--threads",
        "1",
    ]
    assert main(args + ["--steps", "2"]) == 0  # one warm-start update, then one update of the paper's loss
    return out, args


def test_painter_trains_and_resumes(painter_run):
    from painter.model import load_painter
    from painter.train import main

    out, args = painter_run
    first = load_checkpoint(out / "last.pt")
    assert first["step"] == 2 and np.isfinite(first["metrics"]["val_mse"])
    assert main(args + ["--steps", "3"]) == 0
    assert load_checkpoint(out / "last.pt")["step"] == 3
    assert (out / "config.json").is_file()
    painter = load_painter(out / "painter_best.pt")
    strokes = painter(torch.rand(1, 3, 32, 32), torch.zeros(1, 3, 32, 32))
    assert strokes.shape == (1, 5, 8) and 0 <= strokes.min() and strokes.max() <= 1


def test_compositor_trains_and_resumes(painter_run, tiny_dataset, tmp_path):
    from compositor.model import load_actor
    from compositor.train import main

    painter_dir, _ = painter_run
    args = [
        "--dataset",
        str(tiny_dataset),
        "--painter",
        str(painter_dir / "painter_best.pt"),
        "--env_batch",
        "2",
        "--max_step",
        "2",
        "--updates",
        "1",
        "--batch_size",
        "2",
        "--warmup",
        "2",
        "--bc_episodes",
        "1",
        "--patch",
        "64",
        "--critic_warmup",
        "1",
        "--val_every",
        "1",
        "--val_crops",
        "2",
        "--val_strokes",
        "20",
        "--output_dir",
        str(tmp_path),
        "--threads",
        "1",
    ]
    assert main(args + ["--episodes", "1"]) == 0
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 1
    # resumed: episode 2 (its first update trains the critic only), then episode 3 (DDPG updates)
    assert main(args + ["--episodes", "2"]) == 0
    assert main(args + ["--episodes", "3"]) == 0
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["step"] == 3 and np.isfinite(ckpt["metrics"]["critic"]) and ckpt["metrics"]["critic"] > 0
    # keep-best: compositor_best.pt holds the lowest held-out validation MSE that the log reported
    reported = [
        float(v)
        for v in re.findall(
            r"^step \d+ .* val_mse_actor ([0-9.e-]+)", (tmp_path / "log.txt").read_text(), flags=re.M
        )
    ]
    assert len(reported) == 3  # one validation per episode
    best = load_checkpoint(tmp_path / "compositor_best.pt")
    assert best["metrics"]["val_mse_actor"] == pytest.approx(min(reported), rel=1e-4)
    assert load_checkpoint(tmp_path / "best.pt")["step"] == best["step"]
    assert ckpt["metrics"]["val_mse_grid"] > 0 and ckpt["metrics"]["val_mse_lookahead"] > 0
    actor = load_actor(tmp_path / "compositor_best.pt")
    assert actor(torch.rand(1, 3, 64, 64), torch.zeros(1, 3, 64, 64)).shape == (1, 4)


def test_fcn_renderer_trains_and_resumes(tmp_path):
    from compositor.train_renderer_FCN import main

    args = ["--batch_size", "2", "--save_every", "1", "--output_dir", str(tmp_path), "--threads", "1"]
    assert main(args + ["--steps", "2"]) == 0
    assert main(args + ["--steps", "3"]) == 0
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["step"] == 3 and ckpt["config"]["model"] == {"in_dim": 5, "out_channels": 3}
    assert load_checkpoint(tmp_path / "renderer_last.pt")["half"]


def test_painter_keep_best_writes_the_best_snapshot(tiny_dataset, tmp_path):
    """Anchor painter, gains objective, validation after every update: best.pt / painter_best.pt hold the
    lowest reported validation MSE, and resuming keeps that figure."""
    import re

    from painter.model import load_painter
    from painter.train import main

    args = ["--dataset", str(tiny_dataset), "--arch", "anchors", "--objective", "gains", "--patch", "32"]
    args += ["--batch_size", "2", "--rollout", "2", "--warmup", "2", "--save_every", "1", "--lr", "3e-3"]
    args += ["--output_dir", str(tmp_path), "--threads", "1"]
    assert main(args + ["--steps", "4"]) == 0
    log = (tmp_path / "log.txt").read_text()
    reported = [float(v) for v in re.findall(r"^step \d+ .* val_mse ([0-9.e-]+)", log, flags=re.M)]
    assert len(reported) == 4
    best = load_checkpoint(tmp_path / "painter_best.pt")
    assert best["metrics"]["val_mse"] == pytest.approx(min(reported), rel=1e-4)
    assert load_checkpoint(tmp_path / "best.pt")["step"] == best["step"]
    assert main(args + ["--steps", "5"]) == 0  # resume: one more update, the best figure is kept
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["step"] == 5 and last["extra"]["loop"]["best"] <= best["metrics"]["val_mse"]
    strokes = load_painter(tmp_path / "painter_best.pt")(torch.rand(1, 3, 32, 32), torch.zeros(1, 3, 32, 32))
    assert strokes.shape == (1, 5, 8) and 0 <= strokes.min() and strokes.max() <= 1


def test_stroke_ratio_fine_tune_from_a_square_painter(tiny_dataset, tmp_path):
    """--init from a painter without --stroke_ratio, fine-tuned with it: the result keeps the ratio in
    its stored config, and every proposal's thickness is between r/2 and r times its length; the
    shipped painter (no ratio) still loads as before."""
    from common.checkpoint import default_checkpoint
    from painter.model import load_painter
    from painter.train import main

    args = ["--dataset", str(tiny_dataset), "--arch", "anchors", "--objective", "gains", "--patch", "64"]
    args += ["--batch_size", "2", "--rollout", "2", "--warmup", "2", "--save_every", "1", "--steps", "2"]
    args += ["--init", str(default_checkpoint("cnp_painter.pt")), "--stroke_ratio", "0.4"]
    assert main(args + ["--output_dir", str(tmp_path), "--threads", "1"]) == 0
    tuned = load_painter(tmp_path / "painter_last.pt")
    assert tuned.config.stroke_ratio == 0.4 and tuned.config.levels == (1, 2, 4, 8, 16)
    target, canvas = torch.rand(2, 3, 64, 64), torch.zeros(2, 3, 64, 64)
    with torch.no_grad():
        strokes, _ = tuned.proposals(target, canvas)
        ratio = strokes[..., 3] / strokes[..., 2]
        assert (ratio >= 0.2 - 1e-4).all() and (ratio <= 0.4 + 1e-4).all(), (ratio.min(), ratio.max())
        square = load_painter(default_checkpoint("cnp_painter.pt"))
        assert square.config.stroke_ratio == 0.0
        ratio = (lambda s: s[..., 3] / s[..., 2])(square.proposals(target, canvas)[0])
        assert ratio.max() > 0.6  # without the ratio the thickness is bounded by the cell only
