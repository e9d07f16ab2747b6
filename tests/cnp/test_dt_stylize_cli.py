"""compositor/DT.py and compositor/stylize.py write the per-image output contract (common.outputs)."""

import json

import numpy as np
import pytest
from PIL import Image


def _run(module, args, capsys):
    import importlib

    from common.cli import run_main

    with pytest.raises(SystemExit) as exit_info:
        run_main(importlib.import_module(module).main, args)
    return exit_info.value.code, capsys.readouterr()


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A folder with two real photos and a truncated PNG between them."""
    import skimage.data

    folder = tmp_path_factory.mktemp("photos")
    Image.fromarray(skimage.data.chelsea()).save(folder / "a_chelsea.png")
    (folder / "b_broken.png").write_bytes((folder / "a_chelsea.png").read_bytes()[:200])
    Image.fromarray(skimage.data.rocket()).save(folder / "c_rocket.png")
    return folder


def test_dt_folder_one_folder_per_image_and_summary(photos, tmp_path, capsys):
    code, cap = _run(
        "compositor.DT", ["--img_path", str(photos), "--size", "96", "--output_dir", str(tmp_path)], capsys
    )
    assert code == 1  # one image failed
    assert "b_broken.png" in cap.err and "painted 2, failed 1" in cap.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_chelsea", "c_rocket"]  # no partial folder
    for name in ("a_chelsea", "c_rocket"):
        dt = np.asarray(Image.open(tmp_path / name / "dt.png"))
        edges = np.asarray(Image.open(tmp_path / name / "edges.png"))
        assert dt.shape == edges.shape and max(dt.shape[:2]) == 96
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        assert 0 < metrics["edge_fraction"] < 0.5 and metrics["files"] == [
            "edges.png",
            "dt.png",
            "metrics.json",
        ]
        assert (dt[edges > 127] < 60).mean() > 0.9  # the distance is ~0 on the edges (black)
        assert dt[edges < 128].mean() > dt[edges > 127].mean() + 20


def test_stylize_writes_the_image_folder(photos, tmp_path, capsys):
    args = ["--content", str(photos / "a_chelsea.png"), "--style", str(photos / "c_rocket.png")]
    args += [
        "--random_vgg",
        "--iters",
        "3",
        "--stroke_num",
        "20",
        "--size",
        "64",
        "--output_dir",
        str(tmp_path),
    ]
    code, cap = _run("compositor.stylize", args, capsys)
    assert code == 0, cap.err
    out = tmp_path / "a_chelsea"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["stylized.png", "initial.png", "strokes.json", "stylized.svg", "metrics.json"]
    )
    strokes = json.loads((out / "strokes.json").read_text())
    assert strokes["format"] == "oil" and len(strokes["strokes"]) == 20
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["vgg19_weights"] == "random (offline path)" and metrics["dt_loss_used"] is True
    assert np.asarray(Image.open(out / "stylized.png")).std() > 5  # a painting, not a flat canvas
