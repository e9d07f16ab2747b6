"""compositor/test.py through its real command line: a real photo with the shipped checkpoints, and bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def _run(args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "compositor.test", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    import skimage.data

    path = tmp_path_factory.mktemp("in") / "coffee.png"
    Image.fromarray(skimage.data.coffee()).save(path)
    return path


def test_paints_real_photo_with_shipped_checkpoints(photo, tmp_path):
    res = _run(["--img_path", str(photo), "--stroke_num", "120", "--size", "160", "--video", "--video_format",
                "gif", "--output_dir", str(tmp_path), "--no_progress", "--threads", "1"])
    assert res.returncode == 0, res.stderr
    out = tmp_path / "coffee"
    for name in ("painting.png", "strokes.json", "painting.svg", "metrics.json", "process.gif"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    strokes = json.loads((out / "strokes.json").read_text())
    assert strokes["format"] == "oil" and len(strokes["strokes"]) == 120
    assert strokes["canvas"] == {"height": 107, "width": 160}  # aspect ratio kept
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["strokes"] == 120
    assert metrics["mse"] < 0.25 * metrics["blank_canvas_mse"]  # much closer than the black canvas
    img = np.asarray(Image.open(out / "painting.png"))
    assert img.shape == (107, 160, 3) and img.std() > 10


def test_grid_baseline_exact_count(photo, tmp_path):
    res = _run(["--img_path", str(photo), "--stroke_num", "37", "--mode", "3", "--size", "96",
                "--output_dir", str(tmp_path), "--no_progress", "--threads", "1"])
    assert res.returncode == 0, res.stderr
    assert len(json.loads((tmp_path / "coffee" / "strokes.json").read_text())["strokes"]) == 37


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--img_path", "/nonexistent/photo.jpg"], "photo.jpg"),
        (["--mode", "4"], "--mode"),
        (["--stroke_num", "0"], "--stroke_num"),
        (["--compositor", "/nonexistent/actor.pt"], "checkpoints/cnp_compositor.pt"),
    ],
)
def test_bad_input_one_line_nothing_written(photo, tmp_path, args, needle):
    full = ["--img_path", str(photo), "--output_dir", str(tmp_path / "out")]
    full = [a for a in full if not (args and args[0] == "--img_path" and a in full[:2])] + args
    res = _run(full)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
