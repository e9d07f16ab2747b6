"""Every trainer on TrainLoop, on 2 gloo ranks: a few steps, a resume, a wall-time stop (tests/multiproc.py).

Per trainer, one forked pair of processes runs ``main`` three times into one folder: ``--steps 2``, then
``--steps 3`` (resumes at 2), then a huge ``--steps`` with ``--max_minutes 0.02`` (resumes at 3, stops on
the wall-time limit on both ranks). Checked: parameters identical across ranks after each run, rank 1
writes nothing, one last.pt, step counts (``check_two_rank_runs``).
"""

from __future__ import annotations

import pytest

from tests.multiproc import check_two_rank_runs, run_trainer, three_runs

FCN_ARGS = [
    "--batch_size",
    "2",
    "--val_size",
    "2",
    "--val_every",
    "2",
    "--save_every",
    "2",
    "--device",
    "cpu",
]


@pytest.mark.parametrize(
    "module",  # the same trainer (common.renderers.neural_training): the second script only under -m slow
    ["compositor.train_renderer_FCN", pytest.param("segpaint.train", marks=pytest.mark.slow)],
)
def test_fcn_renderer_trainers_on_two_ranks(tmp_path, module):
    out = tmp_path / "run"
    base = ["--output_dir", str(out), *FCN_ARGS]
    ranks = run_trainer(module, three_runs(base), tmp_path / "record")
    check_two_rank_runs(ranks, out, [2, 3])


@pytest.mark.slow
def test_fcn_trainer_under_real_torchrun_and_its_sigterm(tmp_path):
    """The launcher users type: ``torchrun --nproc_per_node=2``; then SIGTERM to torchrun mid-run (what a
    batch scheduler sends): both workers stop after the same step, save, and the launcher ends."""
    import signal
    import subprocess
    import time

    from common.checkpoint import load_checkpoint
    from tests.multiproc import run_torchrun, torchrun_command

    out = tmp_path / "run"
    args = ["--output_dir", str(out), *FCN_ARGS]
    proc = run_torchrun("compositor/train_renderer_FCN.py", [*args, "--steps", "2"], timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert load_checkpoint(out / "last.pt")["step"] == 2 and "world_size 2" in (out / "log.txt").read_text()

    cmd, env = torchrun_command(
        "compositor/train_renderer_FCN.py", [*args, "--steps", "100000", "--save_every", "1"]
    )
    with subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as p:
        deadline = time.monotonic() + 240
        while load_checkpoint(out / "last.pt")["step"] < 4 and time.monotonic() < deadline:
            time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        text = p.communicate(timeout=120)[0]
    assert "SIGTERM received: stopped cleanly" in text, text[-2000:]
    last = load_checkpoint(out / "last.pt")
    assert last["step"] >= 4 and "stopped (SIGTERM)" in (out / "log.txt").read_text()


def test_linerefiner_trainer_on_two_ranks(tmp_path):
    out = tmp_path / "run"
    base = ["--output_dir", str(out), "--device", "cpu", "--threads", "1", "--style", "taper"]
    base += ["--crop_size", "32", "--batch_size", "1", "--channels", "4", "--blocks", "1"]
    base += ["--val_pairs", "1", "--val_every", "2", "--save_every", "2", "--adv_warmup", "1"]
    ranks = run_trainer("linerefiner.train", three_runs(base), tmp_path / "record")
    check_two_rank_runs(ranks, out, [2, 3])
    assert set(ranks[0][0]["digests"]) == {"model", "D"}  # generator and discriminator both checked


@pytest.fixture(scope="module")
def photos_dir(tmp_path_factory):
    """Two small real photos (scikit-image's rocket and its mirror image) as a --dataset folder."""
    import numpy as np
    import skimage.data
    from PIL import Image

    root = tmp_path_factory.mktemp("photos")
    rocket = np.ascontiguousarray(skimage.data.rocket()[::3, ::3])
    Image.fromarray(rocket).save(root / "rocket.png")
    Image.fromarray(np.ascontiguousarray(rocket[:, ::-1])).save(root / "rocket_flip.png")
    return root


@pytest.mark.parametrize(
    "arch",
    [
        ["--arch", "resnet18"],  # the paper's loss (pixel + WGAN-GP critic)
        ["--arch", "anchors", "--objective", "gains", "--width", "8"],  # gains_loss through DDP's forward
    ],
)
def test_painter_trainer_on_two_ranks(tmp_path, photos_dir, arch):
    out = tmp_path / "run"
    base = [
        "--output_dir",
        str(out),
        "--device",
        "cpu",
        "--threads",
        "1",
        "--dataset",
        str(photos_dir),
        *arch,
    ]
    base += ["--batch_size", "2", "--rollout", "2", "--save_every", "100", "--patch", "32", "--warmup", "4"]
    ranks = run_trainer("painter.train", three_runs(base), tmp_path / "record")
    check_two_rank_runs(ranks, out, [2, 3])


def _refusal_worker(ctx, out: str, record: str):
    import contextlib
    import io
    import json
    from pathlib import Path

    from common.cli import run_main
    from compositor.train import main

    err, code = io.StringIO(), None
    with contextlib.redirect_stderr(err):
        try:
            run_main(main, ["--output_dir", out, "--episodes", "1", "--device", "cpu"])
        except SystemExit as exc:
            code = exc.code
    Path(record, f"rank{ctx.rank}.json").write_text(json.dumps({"code": code, "stderr": err.getvalue()}))


def test_compositor_trainer_refuses_torchrun_in_one_line(tmp_path):
    """Its DDPG actor/critic are not synchronised across ranks: under torchrun it must not train at all."""
    import json

    from tests.multiproc import run_ranks

    out = tmp_path / "run"
    run_ranks(_refusal_worker, (str(out), str(tmp_path)), timeout=60)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    assert r0["code"] == r1["code"] == 2
    lines = r0["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: compositor training runs on one process"), lines
    assert r1["stderr"] == ""  # one line in all, from rank 0
    assert not out.exists()  # refused before anything was written


@pytest.fixture(scope="module")
def stipple_data(tmp_path_factory):
    """4 tone ramps stippled with weighted Voronoi stippling (64 dots, 32 px): source/, target/, points/."""
    import torch

    from common.image_io import save_image, save_strokes
    from stipple.stipplers import weighted_voronoi_stippling

    root = tmp_path_factory.mktemp("stipple_data")
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    images = [((xx if i % 2 else yy) * (0.5 + 0.1 * i)).expand(1, 3, 32, 32).clone() for i in range(4)]
    stipples = weighted_voronoi_stippling(
        torch.cat(images), 64, n_iter=4, generator=torch.Generator().manual_seed(0)
    )
    for i, (img, st) in enumerate(zip(images, stipples, strict=True)):
        save_image(img, root / "source" / f"im{i}.png")
        save_image(torch.ones(1, 3, 32, 32), root / "target" / f"im{i}.png")
        rows = torch.cat([st.positions, st.radii[:, None], st.colors], 1)
        save_strokes(root / "points" / f"im{i}.json", "dots", rows, 32, 32)
    return root


def test_stipple_trainer_on_two_ranks(tmp_path, stipple_data):
    out = tmp_path / "run"
    base = ["--data", str(stipple_data), "--checkpoint_dir", str(out), "--device", "cpu", "--threads", "1"]
    base += ["--batch_size", "2", "--points", "64", "--slots", "4", "--image_size", "32", "--width", "16"]
    base += ["--blocks", "2", "--save_every", "1"]
    ranks = run_trainer("stipple.train", three_runs(base, "--epochs", ("1", "2")), tmp_path / "record")
    check_two_rank_runs(
        ranks, out, [1, 2]
    )  # DistributedSampler: 2 of the 4 pairs per rank, batch 2: 1 step/epoch
