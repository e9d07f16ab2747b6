"""linerefiner/test.py: a same-size 8-bit PNG per input, in its own folder; one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.cli import run_main
from common.image_io import save_image
from linerefiner import test as test_script
from linerefiner.model import RefinerConfig
from linerefiner.synth import make_pair
from linerefiner.training import Trainer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ck") / "tiny.pt"
    Trainer(RefinerConfig(channels=8, blocks=1, crop_size=32, batch_size=2)).export(path, {"data": "test"})
    return path


@pytest.fixture
def drawings(tmp_path):
    folder = tmp_path / "predict"
    folder.mkdir()
    x, _ = make_pair(1, 40, 64)
    save_image(x[None], folder / "a.png")
    save_image((1 - x[None]).expand(1, 3, -1, -1), folder / "b_dark.jpg")  # light lines on black, RGB
    return folder


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        run_main(test_script.main, argv)
    return exc.value.code, capsys.readouterr()


def test_folder_gives_one_same_size_png_each(drawings, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "result"
    code, cap = _run(
        [
            "--input",
            str(drawings),
            "--output",
            str(out),
            "--checkpoint",
            str(tiny_checkpoint),
            "--tile",
            "24",
            "--curve",
            "1.2",
        ],
        capsys,
    )
    assert code == 0
    assert "inverted" in cap.out
    assert sorted(p.name for p in out.iterdir()) == ["a", "b_dark"]  # one folder per drawing
    for name in ("a", "b_dark"):
        with Image.open(out / name / "refined.png") as im:
            assert im.size == (64, 40) and im.mode == "L"
        assert json.loads((out / name / "metrics.json").read_text())["width"] == 64


def test_threshold_gives_binary_output(drawings, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "bin"
    code, _ = _run(
        [
            "--input",
            str(drawings / "a.png"),
            "--output",
            str(out),
            "--checkpoint",
            str(tiny_checkpoint),
            "--threshold",
            "0.5",
            "--tile",
            "0",
        ],
        capsys,
    )
    assert code == 0
    assert set(np.unique(np.asarray(Image.open(out / "a" / "refined.png")))) <= {0, 255}


@pytest.mark.parametrize("case", ["missing_folder", "non_image", "empty_folder", "missing_checkpoint"])
def test_bad_input_one_line_error(case, drawings, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    inp, ck = str(drawings), str(tiny_checkpoint)
    if case == "missing_folder":
        inp = str(tmp_path / "nope")
    elif case == "non_image":
        (tmp_path / "notes.txt").write_text("hello")
        inp = str(tmp_path / "notes.txt")
    elif case == "empty_folder":
        (tmp_path / "empty").mkdir()
        inp = str(tmp_path / "empty")
    else:
        ck = str(tmp_path / "missing.pt")
    code, cap = _run(["--input", inp, "--output", str(out), "--checkpoint", ck], capsys)
    assert code == 2
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert not out.exists()


def test_module_entry_point(drawings, tiny_checkpoint, tmp_path):
    out = tmp_path / "m"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "linerefiner.test",
            "--input",
            str(drawings / "a.png"),
            "--output",
            str(out),
            "--checkpoint",
            str(tiny_checkpoint),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert (out / "a" / "refined.png").is_file()
