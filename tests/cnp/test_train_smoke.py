"""A few steps of each CNP training script on a tiny dataset, then resuming from what it wrote."""

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
    assert first["step"] == 2 and np.isfinite(first["metrics"]["pixel"])
    assert main(args + ["--steps", "3"]) == 0
    assert load_checkpoint(out / "last.pt")["step"] == 3
    assert (out / "config.json").is_file()
    painter = load_painter(out / "painter.pt")
    strokes = painter(torch.rand(1, 3, 128, 128), torch.zeros(1, 3, 128, 128))
    assert strokes.shape == (1, 5, 8) and 0 <= strokes.min() and strokes.max() <= 1


def test_compositor_trains_and_resumes(painter_run, tiny_dataset, tmp_path):
    from compositor.model import load_actor
    from compositor.train import main

    painter_dir, _ = painter_run
    args = [
        "--dataset",
        str(tiny_dataset),
        "--painter",
        str(painter_dir / "painter.pt"),
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
        "--output_dir",
        str(tmp_path),
        "--threads",
        "1",
    ]
    assert main(args + ["--episodes", "1"]) == 0
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 1
    assert main(args + ["--episodes", "2"]) == 0  # second episode: a DDPG update with the critic
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["step"] == 2 and np.isfinite(ckpt["metrics"]["critic"])
    actor = load_actor(tmp_path / "compositor.pt")
    assert actor(torch.rand(1, 3, 128, 128), torch.zeros(1, 3, 128, 128)).shape == (1, 4)


def test_fcn_renderer_trains_and_resumes(tmp_path):
    from compositor.train_renderer_FCN import main

    args = ["--batch_size", "2", "--save_every", "1", "--output_dir", str(tmp_path), "--threads", "1"]
    assert main(args + ["--steps", "2"]) == 0
    assert main(args + ["--steps", "3"]) == 0
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["step"] == 3 and ckpt["config"]["model"] == {"in_dim": 5, "out_channels": 3}
    assert load_checkpoint(tmp_path / "renderer_last.pt")["half"]
