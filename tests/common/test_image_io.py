"""common.image_io: loading every common image kind, clear errors, atomic writes, stroke JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from common.errors import ImageLoadError, OutputDirError, StrokeFormatError
from common.image_io import (
    STROKE_PARAM_NAMES,
    atomic_write,
    image_to_tensor,
    list_images,
    load_image,
    load_strokes,
    save_image,
    save_json,
    save_strokes,
    tensor_to_uint8,
)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_png_round_trip(tmp_path, photo):
    path = save_image(photo, tmp_path / "a.png")
    back = load_image(path)
    assert back.shape == (1, 3, 128, 128) and back.dtype == torch.float32
    assert (back - photo).abs().max() <= 0.5 / 255 + 1e-6
    assert _leftovers(tmp_path) == []


def test_jpeg_exif_orientation(tmp_path):
    arr = np.zeros((40, 60, 3), np.uint8)  # H=40, W=60 stored
    arr[:20, :30] = (255, 0, 0)  # red top-left quarter
    arr[20:, 30:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(arr).save(tmp_path / "o.jpg", exif=exif, quality=95)
    img = load_image(tmp_path / "o.jpg")
    assert img.shape == (1, 3, 60, 40)  # displayed upright: H and W swap
    expected = image_to_tensor(np.ascontiguousarray(np.rot90(arr, k=-1)))
    assert (img - expected).abs().mean() < 0.03
    assert img[0, 0, :20, 25:].mean() > 0.9  # red now in the top-right corner


def test_gray_rgba_and_16bit(tmp_path):
    gray = (np.arange(64 * 48) % 256).astype(np.uint8).reshape(48, 64)
    Image.fromarray(gray).save(tmp_path / "g.png")
    rgb = load_image(tmp_path / "g.png")
    assert rgb.shape == (1, 3, 48, 64) and torch.equal(rgb[:, 0], rgb[:, 2])
    g1 = load_image(tmp_path / "g.png", gray=True)
    assert g1.shape == (1, 1, 48, 64)
    assert torch.allclose(g1[0, 0], torch.from_numpy(gray).float() / 255, atol=1e-6)

    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:8, :, 3] = 255  # top half opaque red, bottom half transparent
    Image.fromarray(rgba).save(tmp_path / "t.png")
    t = load_image(tmp_path / "t.png")
    assert torch.allclose(t[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(t[0, :, 15, 0], torch.ones(3))  # composited on white

    g16 = np.full((20, 20), 1000, np.uint16)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    v = load_image(tmp_path / "g16.png")
    assert v.shape == (1, 3, 20, 20)
    assert abs(v[0, 0, 0, 0].item() - 1000 / 65535) < 1e-6  # not quantised to 8 bit

    import cv2

    c16 = np.zeros((20, 24, 3), np.uint16)
    c16[..., 0] = 300  # blue in OpenCV's BGR order
    c16[..., 2] = 65535  # red
    cv2.imwrite(str(tmp_path / "c16.png"), c16)
    c = load_image(tmp_path / "c16.png")
    assert c.shape == (1, 3, 20, 24)
    assert abs(c[0, 0, 0, 0].item() - 1.0) < 1e-6 and abs(c[0, 2, 0, 0].item() - 300 / 65535) < 1e-6


def test_max_side_keeps_aspect(tmp_path):
    Image.fromarray(np.zeros((50, 100, 3), np.uint8)).save(tmp_path / "w.png")
    assert load_image(tmp_path / "w.png", max_side=40).shape == (1, 3, 20, 40)
    assert load_image(tmp_path / "w.png", max_side=400).shape == (1, 3, 50, 100)  # never upscales


def test_bad_inputs_raise_clear_errors(tmp_path, photo):
    with pytest.raises(ImageLoadError, match="no such"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ImageLoadError, match="not an image"):
        load_image(tmp_path / "text.png")
    save_image(photo, tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="cut.jpg"):
        load_image(tmp_path / "cut.jpg")
    for side in (1, 5):
        Image.fromarray(np.zeros((side, side, 3), np.uint8)).save(tmp_path / f"s{side}.png")
        with pytest.raises(ImageLoadError, match="too small"):
            load_image(tmp_path / f"s{side}.png")


def test_list_images(tmp_path, photo):
    with pytest.raises(ImageLoadError, match="no such"):
        list_images(tmp_path / "nothing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageLoadError, match="no images"):
        list_images(empty)
    save_image(photo, tmp_path / "b.png")
    save_image(photo, tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.png"]
    assert list_images(tmp_path / "b.png") == [tmp_path / "b.png"]
    with pytest.raises(ImageLoadError, match="not an image"):
        list_images(tmp_path / "notes.txt")


def test_uint8_conversions(photo):
    arr = tensor_to_uint8(photo)
    assert arr.shape == (128, 128, 3) and arr.dtype == np.uint8
    assert (image_to_tensor(arr) - photo).abs().max() <= 0.5 / 255 + 1e-6
    assert tensor_to_uint8(photo[:, :1]).shape == (128, 128, 3)
    with pytest.raises(ValueError):
        tensor_to_uint8(torch.zeros(2, 3, 4, 4))


def test_save_gray_and_bad_suffix(tmp_path, photo):
    save_image(photo[:, :1], tmp_path / "g.png")
    with Image.open(tmp_path / "g.png") as im:
        assert im.mode == "L"
    from common.errors import UserError

    with pytest.raises(UserError, match="unknown image file type"):
        save_image(photo, tmp_path / "x.unknownext")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "result.json"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write('{"half": ')
            raise RuntimeError("crash in the middle")
    assert not target.exists() and _leftovers(tmp_path) == []
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write("new")
            raise RuntimeError("crash")
    assert target.read_text() == "old"  # the previous file is untouched


def test_save_image_failure_leaves_nothing(tmp_path, photo, monkeypatch):
    def broken_save(self, fp, format=None, **params):
        Path(fp).write_bytes(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OutputDirError, match="disk full"):
        save_image(photo, tmp_path / "a.png")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_into_unwritable_place(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputDirError):
        with atomic_write(tmp_path / "file" / "a.txt") as handle:
            handle.write("x")


def test_save_json_plain_and_strict(tmp_path):
    path = save_json(
        {"t": torch.tensor([1.5, 2.0]), "n": np.float32(0.25), "inf": float("inf"), "p": tmp_path},
        tmp_path / "m.json",
    )
    doc = json.loads(path.read_text())
    assert doc == {"t": [1.5, 2.0], "n": 0.25, "inf": None, "p": str(tmp_path)}


def test_strokes_round_trip(tmp_path):
    params = torch.rand(7, 13)
    save_strokes(
        tmp_path / "s.json", "bezier13", params, 96, 128, background=(1, 1, 1), extra={"passes": [3, 4]}
    )
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["format"] == "bezier13" and doc["canvas"] == {"height": 96, "width": 128}
    assert doc["param_names"] == list(STROKE_PARAM_NAMES["bezier13"])
    s = load_strokes(tmp_path / "s.json")
    assert s.fmt == "bezier13" and s.height == 96 and s.width == 128
    assert s.background == [1.0, 1.0, 1.0] and s.extra == {"passes": [3, 4]}
    assert s.params.shape == (7, 13) and torch.allclose(s.params, params, atol=1e-6)
    # custom columns (dots with opacity)
    names = [*STROKE_PARAM_NAMES["dots"], "opacity"]
    save_strokes(tmp_path / "d.json", "dots", torch.rand(3, 7), 10, 10, param_names=names)
    assert load_strokes(tmp_path / "d.json").param_names == names


def test_strokes_errors(tmp_path):
    with pytest.raises(StrokeFormatError, match="bezier13 strokes must be"):
        save_strokes(tmp_path / "s.json", "bezier13", torch.rand(5, 12), 10, 10)
    with pytest.raises(StrokeFormatError, match="unknown stroke format"):
        save_strokes(tmp_path / "s.json", "pastel", torch.rand(5, 3), 10, 10)
    assert not (tmp_path / "s.json").exists()
    with pytest.raises(StrokeFormatError, match="no such"):
        load_strokes(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(StrokeFormatError, match="cannot read"):
        load_strokes(tmp_path / "bad.json")
    doc = {
        "format": "dots",
        "param_names": list(STROKE_PARAM_NAMES["dots"]),
        "canvas": {"height": 4, "width": 4},
    }
    (tmp_path / "short.json").write_text(json.dumps({**doc, "strokes": [[0.1, 0.2]]}))
    with pytest.raises(StrokeFormatError, match="malformed"):
        load_strokes(tmp_path / "short.json")


@pytest.mark.parametrize("fmt", sorted(STROKE_PARAM_NAMES))
def test_param_names_match_renderer_modules(fmt):
    import importlib

    module = importlib.import_module(f"common.renderers.{fmt}")  # an import error fails the test
    assert tuple(module.PARAM_NAMES) == STROKE_PARAM_NAMES[fmt]
