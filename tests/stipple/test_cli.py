"""Command-line behaviour of stipple/test.py, train.py, make_dataset.py: outputs a user checks, bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch
from PIL import Image

from common.checkpoint import save_checkpoint
from common.cli import run_main
from stipple import make_dataset, train
from stipple import test as stipple_test
from stipple.model import StippleNet, StippleNetConfig

REPO = Path(__file__).resolve().parents[2]
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def camera_png(tmp_path):
    import skimage.data

    path = tmp_path / "in" / "camera.png"
    path.parent.mkdir()
    Image.fromarray(skimage.data.camera()).resize((96, 96)).save(path)
    return path


def _run(main, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        run_main(main, argv)
    return exc.value.code, capsys.readouterr()


def _check_outputs(out: Path, stem: str, points: int):
    out = out / stem  # one folder per image (common.outputs)
    rows = list(csv.DictReader(open(out / "points.csv")))
    root = ET.parse(out / "stipple.svg").getroot()  # valid XML
    circles = root.findall(f"{SVG_NS}circle")
    assert len(circles) == len(rows) == points
    assert root.get("width") == "120mm"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["points"] == points and metrics["seconds"] > 0 and metrics["tone_psnr"] > 8
    assert json.loads((out / "strokes.json").read_text())["format"] == "dots"
    png = Image.open(out / "stipple.png")
    assert max(png.size) == 256 and min(png.getextrema()[0]) < 50  # dark dots on white
    return metrics


def _stipple_camera(photo, out, points: int, capsys, *flags: str):
    """stipple/test.py on the camera photo (120 mm plotter SVG, 256 px PNG): it succeeds and writes the
    per-image outputs with exactly ``points`` stipples."""
    argv = [str(photo), "--points", str(points), *flags, "--size_mm", "120", "--render_side", "256"]
    code, _ = _run(stipple_test.main, [*argv, "--output_dir", str(out)], capsys)
    assert code == 0
    return _check_outputs(out, "camera", points)


@pytest.mark.parametrize("method", ["wvs", "lbg"])
def test_classical_on_real_photo(method, camera_png, tmp_path, capsys):
    _stipple_camera(camera_png, tmp_path / "out", 200, capsys, "--method", method, "--n_iter", "8")


@pytest.mark.parametrize("method", ["wvs", "lbg"])
def test_classical_progress_bar(method, camera_png, tmp_path, capsys):
    """A progress bar per image from the start of the work: 0/8 iterations first (issue 16; later redraws
    are throttled by tqdm, so they are not asserted)."""
    argv = [str(camera_png), "--method", method, "--points", "200", "--n_iter", "8"]
    code, captured = _run(stipple_test.main, [*argv, "--output_dir", str(tmp_path)], capsys)
    assert code == 0
    bar = captured.err.replace("\r", "\n")
    assert f"stippling camera.png ({method}, 200 points)" in bar and "0/8" in bar, captured.err


def test_net_on_real_photo(camera_png, tmp_path, capsys):
    cfg = StippleNetConfig(points=64, slots=4, image_size=32, width=16, blocks=2, style_dim=16)
    ckpt = tmp_path / "net.pt"
    save_checkpoint(
        ckpt,
        model_state=StippleNet(cfg).state_dict(),
        config={"model": cfg.to_dict()},
        step=0,
        metrics={},
        provenance={"offline_encoder": None},
        half=True,
    )
    flags = [
        "--method",
        "net",
        "--checkpoint",
        str(ckpt),
        "--radius",
        "tone",
        "--relax",
        "1",
        "--calibrate",
        "1",
    ]
    _stipple_camera(camera_png, tmp_path / "out", 300, capsys, *flags)  # any count, not only G x G


def test_module_entry_point_bad_input_one_line(tmp_path):
    """`python -m stipple.test` on a missing image: one `error:` line, exit 2, nothing written."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "stipple.test", str(tmp_path / "nope.jpg"), "--output_dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "nope.jpg" in lines[0]
    assert not out.exists()


def test_bad_inputs(camera_png, tmp_path, capsys):
    code, cap = _run(
        stipple_test.main,
        [str(camera_png), "--method", "net", "--points", "100", "--output_dir", str(tmp_path / "o")],
        capsys,
    )
    assert code == 2 and cap.err.startswith("error: --points must be in 256..16384")
    assert not (tmp_path / "o").exists()
    code, cap = _run(
        stipple_test.main,
        [str(camera_png), "--method", "net", "--calibrate", "-1", "--output_dir", str(tmp_path / "o")],
        capsys,
    )
    assert code == 2 and cap.err == "error: --calibrate must be >= 0, got -1\n"
    assert not (tmp_path / "o").exists()
    code, cap = _run(
        stipple_test.main,
        [
            str(camera_png),
            "--method",
            "net",
            "--checkpoint",
            str(tmp_path / "missing.pt"),
            "--output_dir",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    assert code == 2 and cap.err.count("\n") == 1 and "missing.pt" in cap.err
    bad = tmp_path / "bad"
    (bad / "source").mkdir(parents=True)
    (bad / "target").mkdir()
    Image.new("RGB", (16, 16)).save(bad / "source" / "a.png")
    Image.new("RGB", (16, 16)).save(bad / "target" / "b.png")
    code, cap = _run(train.main, ["--data", str(bad), "--checkpoint_dir", str(tmp_path / "run")], capsys)
    assert code == 2 and "no matching file names" in cap.err and cap.err.count("\n") == 1
    code, cap = _run(train.main, ["--data", str(bad), "--points", "9000"], capsys)
    assert code == 2 and "--points must be in 1..4096" in cap.err
    code, cap = _run(
        make_dataset.main, ["--images", str(tmp_path / "none"), "--out", str(tmp_path / "d")], capsys
    )
    assert code == 2 and cap.err.startswith("error:")


def test_make_dataset_writes_layout(camera_png, tmp_path, capsys):
    out = tmp_path / "ds"
    code, _ = _run(
        make_dataset.main,
        [
            "--images",
            str(camera_png.parent),
            "--out",
            str(out),
            "--points",
            "64",
            "--size",
            "48",
            "--n_iter",
            "4",
            "--synthetic",
            "2",
        ],
        capsys,
    )
    assert code == 0
    names = sorted(p.name for p in (out / "source").iterdir())
    assert (
        names
        == sorted(p.name for p in (out / "target").iterdir())
        == sorted(["camera.png", "synthetic_00000.png", "synthetic_00001.png"])
    )
    doc = json.loads((out / "points" / "camera.json").read_text())
    assert doc["format"] == "dots" and len(doc["strokes"]) == 64
    assert torch.tensor(doc["strokes"])[:, :2].min() >= 0
