"""common.outputs: one folder per image, all or nothing, files readable under the umask; the batch loop."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import torch

from common.errors import ImageLoadError, OutputDirError
from common.image_io import atomic_write, save_image
from common.outputs import image_output, output_folders, paint_images


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_image_folder_has_every_contract_file_with_umask_modes(tmp_path, umask_022):
    strokes = torch.rand(6, 13)
    with image_output(tmp_path / "cat") as out:
        out.image("painting.png", torch.rand(1, 3, 20, 24))
        out.strokes("bezier13", strokes, 20, 24, background=[0, 0, 0], svg="painting.svg")
        out.video([torch.rand(1, 3, 20, 24) for _ in range(3)], fps=5)
        out.metrics({"strokes": 6, "psnr": float("inf")})
        assert not (tmp_path / "cat").exists()  # nothing under the final name before the end
    folder = tmp_path / "cat"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["metrics.json", "painting.png", "painting.svg", "process.mp4", "strokes.json"]
    assert _mode(folder) == 0o755
    assert {p.name: _mode(p) for p in folder.iterdir()} == dict.fromkeys(names, 0o644)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["psnr"] is None and metrics["files"][-1] == "metrics.json"
    doc = json.loads((folder / "strokes.json").read_text())
    assert doc["format"] == "bezier13" and len(doc["strokes"]) == 6 and len(doc["param_names"]) == 13
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_umask_077_is_respected(tmp_path):
    old = os.umask(0o077)
    try:
        with image_output(tmp_path / "x") as out:
            out.metrics({"a": 1})
    finally:
        os.umask(old)
    assert _mode(tmp_path / "x") == 0o700 and _mode(tmp_path / "x" / "metrics.json") == 0o600


def test_atomic_writers_and_checkpoints_are_0644(tmp_path, umask_022):
    from common.checkpoint import save_checkpoint

    save_image(torch.rand(1, 3, 8, 8), tmp_path / "a.png")
    with atomic_write(tmp_path / "b.txt") as fh:
        fh.write("x")
    save_checkpoint(
        tmp_path / "c.pt", model_state={"w": torch.ones(2)}, config={}, step=0, metrics={}, provenance={}
    )
    assert [_mode(tmp_path / n) for n in ("a.png", "b.txt", "c.pt")] == [0o644] * 3


def test_failure_leaves_previous_result_and_no_partial_folder(tmp_path):
    with image_output(tmp_path / "cat") as out:
        out.metrics({"run": 1})
    with pytest.raises(RuntimeError), image_output(tmp_path / "cat") as out:
        out.metrics({"run": 2})
        raise RuntimeError("crash half way")
    assert json.loads((tmp_path / "cat" / "metrics.json").read_text())["run"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["cat"]
    with image_output(tmp_path / "cat") as out:  # a finished run replaces the folder as a whole
        out.image("painting.png", torch.zeros(1, 3, 8, 8))
    assert sorted(p.name for p in (tmp_path / "cat").iterdir()) == ["painting.png"]


def test_gif_only_without_mp4_encoder(tmp_path, monkeypatch):
    import common.outputs as outputs

    monkeypatch.setattr(outputs, "mp4_available", lambda: False)
    notes = []
    with image_output(tmp_path / "v", log=notes.append) as out:
        out.video([np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)], fps=2)
    assert [p.name for p in (tmp_path / "v").iterdir()] == ["process.gif"]
    assert len(notes) == 1 and "GIF" in notes[0]


def test_output_folders_keep_apart_images_sharing_a_stem(tmp_path):
    paths = [tmp_path / "a.jpg", tmp_path / "a.png", tmp_path / "b.png"]
    assert [p.name for p in output_folders(paths, tmp_path)] == ["a.jpg", "a.png", "b"]


def _painter(bad: set[str]):
    def paint_one(path, folder):
        if path.name in bad:
            raise ImageLoadError(f"cannot read image {path}: truncated")
        with image_output(folder) as out:
            out.metrics({"image": path.name})

    return paint_one


def test_folder_batch_goes_on_past_bad_images(tmp_path, capsys):
    images = [tmp_path / n for n in ("a.png", "b.jpg", "c.png", "d.png")]
    code = paint_images(images, _painter({"b.jpg", "c.png"}), tmp_path / "out", is_folder=True)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[0].startswith("error: ") and "b.jpg" in err[0]
    assert err[1].startswith("error: ") and "c.png" in err[1]
    assert err[2].startswith("painted 2, failed 2") and len(err) == 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a", "d"]


def test_single_bad_image_raises_and_leaves_no_output_folder(tmp_path):
    with pytest.raises(ImageLoadError):
        paint_images([tmp_path / "b.jpg"], _painter({"b.jpg"}), tmp_path / "out", is_folder=False)
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder_stops_the_batch(tmp_path):
    calls = []

    def paint_one(path, folder):
        calls.append(path)
        raise OutputDirError(f"cannot write {folder}: read-only")

    with pytest.raises(OutputDirError):
        paint_images([tmp_path / "a.png", tmp_path / "b.png"], paint_one, tmp_path / "o", is_folder=True)
    assert len(calls) == 1
