"""segpaint end to end through the real CLI: a real photo, every output file, bad inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.image_io import load_strokes

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "segpaint/test.py", *args],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def photo_file(tmp_path_factory) -> Path:
    import skimage.data

    path = tmp_path_factory.mktemp("in") / "chelsea.png"
    Image.fromarray(skimage.data.chelsea()).resize((72, 48), Image.LANCZOS).save(path)
    return path


def test_paints_a_real_photo(photo_file, tmp_path):
    proc = _cli(
        "--image_path",
        str(photo_file),
        "--save_dir",
        str(tmp_path),
        "--exp_name",
        "t",
        "--iter_steps",
        "6",
        "--seed",
        "0",
        "--video",
        "--device",
        "cpu",
    )
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    folder = tmp_path / "t" / "chelsea"
    names = {p.name for p in folder.iterdir()}
    expected = {
        "painting.png",
        "painting.svg",
        "strokes.json",
        "metrics.json",
        "painting_texture.png",
        "process.mp4",
    } | {f"pass_{k}.png" for k in range(4)}
    assert expected <= names, names
    metrics = json.loads((folder / "metrics.json").read_text())
    strokes = load_strokes(folder / "strokes.json")
    assert strokes.fmt == "bezier13" and strokes.params.shape == (metrics["strokes"], 13)
    assert (strokes.height, strokes.width) == (48, 72)
    assert 0 <= strokes.params.min() and strokes.params.max() <= 1
    assert metrics["strokes"] == sum(metrics["strokes_per_pass"]) > 100
    # much closer to the photo than the blank (black) canvas
    assert metrics["l1"] < 0.4 * metrics["blank_canvas_l1"]
    assert metrics["strokes_rerender"]["l1"] < 0.5 * metrics["blank_canvas_l1"]
    assert metrics["perceptual"].startswith(("on", "off"))
    assert "<svg" in (folder / "painting.svg").read_text()[:500]
    img = np.asarray(Image.open(folder / "painting.png"))
    assert img.shape == (48, 72, 3)
    assert not [p for p in (tmp_path / "t").iterdir() if p.name.startswith(".")]


def test_bad_inputs_one_line_no_output(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(good)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "fake.png").write_text("not an image either")
    jpg = tmp_path / "full.jpg"
    Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)).save(jpg)
    (tmp_path / "cut.jpg").write_bytes(jpg.read_bytes()[:600])
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / "tiny.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "a_file").write_text("x")
    out = tmp_path / "out"
    cases = {
        "missing": ["--image_path", str(tmp_path / "nope.png"), "--save_dir", str(out)],
        "non-image": ["--image_path", str(tmp_path / "fake.png"), "--save_dir", str(out)],
        "text": ["--image_path", str(tmp_path / "notes.txt"), "--save_dir", str(out)],
        "truncated": ["--image_path", str(tmp_path / "cut.jpg"), "--save_dir", str(out)],
        "empty": ["--image_path", str(tmp_path / "empty"), "--save_dir", str(out)],
        "1x1": ["--image_path", str(tmp_path / "tiny.png"), "--save_dir", str(out)],
        "unwritable": ["--image_path", str(good), "--save_dir", str(tmp_path / "a_file" / "sub")],
        "bad style": ["--image_path", str(good), "--save_dir", str(out), "--style", "cubist"],
        "bad steps": ["--image_path", str(good), "--save_dir", str(out), "--iter_steps", "-3"],
        "bad lr": ["--image_path", str(good), "--save_dir", str(out), "--lr", "abc"],
    }
    # three cases through a real subprocess (in parallel), the rest through the same entry point in-process
    spawned = ("truncated", "unwritable", "bad style")
    procs = {name: _cli(*cases[name], "--iter_steps", "1") for name in spawned}
    for name, args in cases.items():
        if name in spawned:
            continue
        code, err = _in_process(args if "steps" in name else [*args, "--iter_steps", "1"])
        _check(name, code, err)
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        _check(name, proc.returncode, err)
    assert not out.exists() or not any(out.rglob("*")), list(out.rglob("*"))


def _in_process(argv):
    import contextlib
    import io

    from common.cli import run_main
    from segpaint.test import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        run_main(main, argv)
    return exc.value.code, err.getvalue()


def _check(name, code, err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code not in (0, None), name
    assert len(lines) == 1 and lines[0].startswith("error: "), (name, err[-1000:])
    assert "Traceback" not in err
