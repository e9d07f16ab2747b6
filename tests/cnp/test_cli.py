"""compositor/test.py through its entry point: a real photo with the shipped checkpoints, and bad input.

The painting runs call ``run_main(main, argv)`` in this process (the exact code path of the script, minus
a second torch import); the argparse errors also go through a real ``python -m compositor.test`` process.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def _cli(args, capsys):
    """The script's real entry point (``run_main(main)``): exit status and stderr."""
    from common.cli import run_main
    from compositor.test import main

    with pytest.raises(SystemExit) as exit_info:
        run_main(main, args)
    return exit_info.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    import skimage.data

    path = tmp_path_factory.mktemp("in") / "coffee.png"
    Image.fromarray(skimage.data.coffee()).save(path)
    return path


def test_paints_real_photo_with_shipped_checkpoints(photo, tmp_path, capsys):
    args = [
        "--img_path",
        str(photo),
        "--stroke_num",
        "120",
        "--size",
        "160",
        "--video",
        "--video_format",
        "gif",
        "--ground",
        "mean",
    ]
    code, err = _cli(args + ["--output_dir", str(tmp_path), "--no_progress"], capsys)
    assert code == 0, err
    out = tmp_path / "coffee"
    for name in ("painting.png", "strokes.json", "painting.svg", "metrics.json", "process.gif"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    strokes = json.loads((out / "strokes.json").read_text())
    assert strokes["format"] == "oil" and len(strokes["strokes"]) == 120
    assert strokes["canvas"] == {"height": 107, "width": 160}  # aspect ratio kept
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["strokes"] == 120
    # the toned ground (--ground mean): the photo's mean colour, recorded as the strokes' canvas colour
    mean = np.asarray(Image.open(photo).convert("RGB").resize((160, 107), Image.BILINEAR)).mean((0, 1)) / 255
    assert strokes["background"] == metrics["ground"] and np.allclose(metrics["ground"], mean, atol=0.02)
    from common.svg import svg_color

    assert f'fill="{svg_color(metrics["ground"])}"' in (out / "painting.svg").read_text()  # canvas <rect>
    assert metrics["mse"] < 0.35 * metrics["blank_canvas_mse"]  # > 4.5 dB closer than the black canvas
    img = np.asarray(Image.open(out / "painting.png"))
    assert img.shape == (107, 160, 3) and img.std() > 10
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no partial folder left


def test_grid_baseline_exact_count(photo, tmp_path, capsys):
    args = ["--img_path", str(photo), "--stroke_num", "37", "--mode", "3", "--size", "96"]
    code, err = _cli(args + ["--output_dir", str(tmp_path), "--no_progress"], capsys)
    assert code == 0, err
    strokes = json.loads((tmp_path / "coffee" / "strokes.json").read_text())
    assert len(strokes["strokes"]) == 37


def test_black_ground_by_default(photo, tmp_path, capsys):
    args = ["--img_path", str(photo), "--stroke_num", "10", "--size", "64"]
    code, err = _cli(args + ["--output_dir", str(tmp_path), "--no_progress"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "coffee" / "strokes.json").read_text())["background"] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--img_path", "/nonexistent/photo.jpg"], "photo.jpg"),
        (["--compositor", "/nonexistent/actor.pt"], "checkpoints/cnp_compositor.pt"),
        (["--painter", "/nonexistent/p.pt"], "checkpoints/cnp_painter.pt"),
    ],
)
def test_bad_input_one_line_nothing_written(photo, tmp_path, capsys, args, needle):
    base = [] if args[0] == "--img_path" else ["--img_path", str(photo)]
    code, err = _cli(base + args + ["--output_dir", str(tmp_path / "out")], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, needle", [(["--mode", "4"], "--mode"), (["--stroke_num", "0"], "--stroke_num")]
)
def test_bad_flags_real_process(photo, tmp_path, args, needle):
    cmd = [
        sys.executable,
        "-m",
        "compositor.test",
        "--img_path",
        str(photo),
        "--output_dir",
        str(tmp_path / "o"),
    ]
    res = subprocess.run(cmd + args, cwd=REPO, capture_output=True, text=True, timeout=120)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0]
    assert not (tmp_path / "o").exists()


def test_refine_shows_time_left(photo, tmp_path, capsys):
    """--refine: the painting bar carries the whole run's estimate, then the refinement's bar its own."""
    # 100 strokes: the painting must outlast tqdm's 0.1 s redraw interval (20 look-ahead strokes did not)
    args = ["--img_path", str(photo), "--stroke_num", "100", "--size", "96", "--refine", "3"]
    code, err = _cli(args + ["--output_dir", str(tmp_path)], capsys)
    assert code == 0, err
    lines = err.replace("\r", "\n").splitlines()
    painting = [line for line in lines if "stroke/s" in line and "with refinement about" in line]
    refining = [line for line in lines if "coffee.png: refine:" in line]
    assert painting and "left (estimate)" in painting[-1], err
    assert refining and any("left (estimate)" in line for line in refining), err
    assert json.loads((tmp_path / "coffee" / "metrics.json").read_text())["refine_steps"] == 3
