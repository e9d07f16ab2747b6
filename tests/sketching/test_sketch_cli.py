"""End-to-end runs of ``sketching/test.py`` on a real photo (small canvas, few iterations)."""

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.cli import run_main
from common.image_io import load_image
from common.losses import clip_loss
from common.svg import rasterize_svg
from sketching.test import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from skimage import data

    path = tmp_path_factory.mktemp("photos") / "coffee.png"
    Image.fromarray(data.coffee()).save(path)  # 400 x 600, not square
    return path


def _run(argv, capsys=None):
    with pytest.raises(SystemExit) as info:
        run_main(main, [str(a) for a in argv])
    err = capsys.readouterr().err if capsys is not None else ""
    return info.value.code, err


def _paths(svg_file):
    root = ET.parse(svg_file).getroot()  # parses: valid XML
    assert root.tag.endswith("svg")
    return [e for e in root.iter() if e.tag.endswith("path")]


def test_edge_sketch_outputs_and_objective_decreases(photo, tmp_path):
    code, _ = _run(
        [
            "--target",
            photo,
            "--loss",
            "edge",
            "--num_strokes",
            12,
            "--num_iter",
            30,
            "--canvas",
            96,
            "--output_dir",
            tmp_path,
            "--quiet",
            "--video",
        ]
    )
    assert code == 0
    out = tmp_path / "coffee"
    for name in ("sketch.svg", "sketch.png", "strokes.json", "round1.svg", "metrics.json", "process.mp4"):
        assert (out / name).is_file(), name
    assert len(_paths(out / "sketch.svg")) == 12  # one cubic <path> per stroke
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["objective_used"] == "edge" and metrics["num_strokes"] == 12
    first = metrics["eval_curve"][0][1]
    assert metrics["final_objective"] < 0.8 * first  # the optimisation lowers the objective
    assert len(metrics["loss_curve"]) == metrics["iterations"] > 0
    # The SVG's rasterization matches the PNG (the tensor render).
    png = load_image(out / "sketch.png")
    svg = rasterize_svg((out / "sketch.svg").read_text(), 96, 96)
    assert png.shape == svg.shape == (1, 3, 96, 96)
    assert (png - svg).abs().mean() < 0.01
    assert (1 - png).sum() > 0.5 * 12  # ink was drawn


def test_roi_rounds_budgets_and_round_svgs(photo, tmp_path):
    h, w = 400, 600
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[100:300, 150:450] = 255  # the cup, opaque; transparent elsewhere
    roi = tmp_path / "cup_roi.png"
    Image.fromarray(rgba).save(roi)
    code, _ = _run(
        [
            "--target",
            photo,
            "--loss",
            "edge",
            "--num_strokes",
            10,
            "--num_iter",
            10,
            "--canvas",
            64,
            "--roi",
            roi,
            "--num_sketches",
            2,
            "--output_dir",
            tmp_path / "out",
            "--quiet",
        ]
    )
    assert code == 0
    metrics = json.loads((tmp_path / "out" / "coffee" / "metrics.json").read_text())
    rounds = metrics["rounds"]
    assert len(rounds) == 2 and sum(r["strokes_added"] for r in rounds) == 10
    assert [r["strokes_total"] for r in rounds] == [rounds[0]["strokes_added"], 10]
    assert len(_paths(tmp_path / "out" / "coffee" / "round1.svg")) == rounds[0]["strokes_added"]
    assert len(_paths(tmp_path / "out" / "coffee" / "round2.svg")) == 10
    assert [s["seed"] for s in metrics["seeds"]] == [0, 1000]
    assert metrics["final_objective"] == min(s["best_objective"] for s in metrics["seeds"])


def test_auto_without_clip_weights_falls_back_to_edge(photo, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(clip_loss, "find_clip_weights", lambda: None)
    code, err = _run(
        [
            "--target",
            photo,
            "--num_strokes",
            4,
            "--num_iter",
            2,
            "--canvas",
            48,
            "--output_dir",
            tmp_path,
            "--quiet",
        ],
        capsys,
    )
    assert code == 0
    metrics = json.loads((tmp_path / "coffee" / "metrics.json").read_text())
    assert metrics["objective_requested"] == "auto" and metrics["objective_used"] == "edge"
    assert any("RN101.pt" in n and "edge" in n for n in metrics["notes"])


def test_clip_asked_by_name_without_weights_is_one_error_line(photo, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(clip_loss, "find_clip_weights", lambda: None)
    argv = ["--target", photo, "--loss", "clip", "--num_strokes", 4, "--output_dir", tmp_path / "out"]
    code, err = _run(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "RN101" in lines[0], err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--target", "/nonexistent/photo.png"], r"no such file"),
        (["--num_strokes", "0"], r"--num_strokes"),
        (["--clip_weights", "/nonexistent/RN101.pt"], r"--clip_weights file not found"),
        (["--roi", "SMALL_MASK"], r"ROI mask .* is 20x10 but the target is 600x400"),
        (["--region_round", "2"], r"coffee_roi1.png not found"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(photo, tmp_path, capsys, extra, message):
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((10, 20, 4), np.uint8)).save(small)
    extra = [str(small) if e == "SMALL_MASK" else e for e in extra]
    argv = ["--target", str(photo), "--loss", "edge", "--output_dir", str(tmp_path / "out"), *extra]
    code, err = _run(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and re.search(message, lines[0]), err
    assert not (tmp_path / "out").exists()


def test_module_entry_point_reports_bad_input(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "sketching.test", "--target", str(tmp_path / "nope.png")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: ") and "Traceback" not in proc.stderr
