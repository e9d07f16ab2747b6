"""Corrupt or foreign checkpoint files and decompression bombs: one ``error:`` line and exit 2 in every CLI
(the five test.py, stylization, DT, painter training), nothing written."""

from __future__ import annotations

import importlib
import struct
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from common.checkpoint import load_checkpoint
from common.cli import run_main
from common.errors import CheckpointError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A good photo, and bad "checkpoints": a JPEG, a truncated .pt, a zip of text, random bytes that the
    unpickler reads as a KeyError / an IndexError (seeds found once), and an empty file."""
    import skimage.data

    from common.checkpoint import default_checkpoint

    d = tmp_path_factory.mktemp("bad")
    Image.fromarray(skimage.data.coffee()).resize((48, 32)).save(d / "photo.png")
    Image.fromarray(skimage.data.coffee()).save(d / "notacheckpoint.jpg")
    (d / "truncated.pt").write_bytes(default_checkpoint("linerefiner_taper.pt").read_bytes()[:50_000])
    with zipfile.ZipFile(d / "random.zip", "w") as z:
        z.writestr("notes.txt", "hello")
    for name, seed in (("keyerror.pt", 62), ("indexerror.pt", 17)):
        (d / name).write_bytes(np.random.default_rng(seed).integers(0, 256, 300, dtype=np.uint8).tobytes())
    (d / "empty.pt").write_bytes(b"")
    # a decompression bomb: a valid 8 x 8 PNG whose header claims 30000 x 30000 pixels
    png = bytearray((d / "photo.png").read_bytes())
    Image.new("RGB", (8, 8)).save(d / "small.png")
    png = bytearray((d / "small.png").read_bytes())
    ihdr = bytes(png[12:16]) + struct.pack(">II", 30000, 30000) + bytes(png[24:29])
    png[16:24] = struct.pack(">II", 30000, 30000)
    png[29:33] = struct.pack(">I", zlib.crc32(ihdr) & 0xFFFFFFFF)
    (d / "bomb.png").write_bytes(bytes(png))
    return d


BAD_CHECKPOINTS = [
    "notacheckpoint.jpg",
    "truncated.pt",
    "random.zip",
    "keyerror.pt",
    "indexerror.pt",
    "empty.pt",
]


@pytest.mark.parametrize("name", BAD_CHECKPOINTS)
def test_load_checkpoint_rejects_in_one_line(files, name):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(files / name)
    assert "\n" not in str(info.value) and name in str(info.value)


def _no_file_written(folder) -> bool:
    """Nothing under ``folder`` (the test.py leave no folder at all; training scripts may leave it empty)."""
    return not folder.exists() or not [p for p in folder.rglob("*") if p.is_file()]


def _cli(module: str, argv: list[str], capsys) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as exit_info:
        run_main(importlib.import_module(module).main, argv)
    return exit_info.value.code, capsys.readouterr().err.strip().splitlines()


CHECKPOINT_FLAGS = {
    "compositor --painter": ("compositor.test", ["--img_path", "{photo}", "--painter", "{bad}"]),
    "compositor --compositor": ("compositor.test", ["--img_path", "{photo}", "--compositor", "{bad}"]),
    "stipple --checkpoint": (
        "stipple.test",
        ["{photo}", "--method", "net", "--points", "256", "--checkpoint", "{bad}"],
    ),
    "linerefiner --checkpoint": ("linerefiner.test", ["--input", "{photo}", "--checkpoint", "{bad}"]),
    "sketching --clip_weights": ("sketching.test", ["--target", "{photo}", "--clip_weights", "{bad}"]),
    "stylize --painter": (
        "compositor.stylize",
        ["--content", "{photo}", "--style", "{photo}", "--random_vgg", "--painter", "{bad}"],
    ),
    "painter/train.py --renderer": ("painter.train", ["--renderer", "{bad}", "--steps", "1"]),
}


@pytest.mark.parametrize("flag", sorted(CHECKPOINT_FLAGS))
@pytest.mark.parametrize("name", ["notacheckpoint.jpg", "keyerror.pt"])  # all six: test_load_checkpoint_...
def test_bad_checkpoint_one_line_exit_2(flag, name, files, tmp_path, capsys):
    module, argv = CHECKPOINT_FLAGS[flag]
    argv = [a.format(photo=files / "photo.png", bad=files / name) for a in argv]
    code, err = _cli(module, argv + ["--output_dir", str(tmp_path / "out")], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and name in err[0], err
    assert _no_file_written(tmp_path / "out")


BOMB = {
    "compositor": ("compositor.test", ["--img_path", "{bomb}", "--output_dir", "{out}"]),
    "segpaint": ("segpaint.test", ["--image_path", "{bomb}", "--save_dir", "{out}", "--w_perc", "0"]),
    "stipple": ("stipple.test", ["{bomb}", "--output_dir", "{out}"]),
    "linerefiner": ("linerefiner.test", ["--input", "{bomb}", "--output", "{out}"]),
    "sketching": ("sketching.test", ["--target", "{bomb}", "--output_dir", "{out}", "--loss", "edge"]),
    "DT": ("compositor.DT", ["--img_path", "{bomb}", "--output_dir", "{out}"]),
    "stylize": (
        "compositor.stylize",
        ["--content", "{bomb}", "--style", "{bomb}", "--random_vgg", "--output_dir", "{out}"],
    ),
}


@pytest.mark.parametrize("method", sorted(BOMB))
def test_decompression_bomb_one_line_exit_2(method, files, tmp_path, capsys):
    module, argv = BOMB[method]
    argv = [a.format(bomb=files / "bomb.png", out=tmp_path / "out") for a in argv]
    code, err = _cli(module, argv, capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and "bomb.png" in err[0], err
    assert "exceeds limit" in err[0]
    assert _no_file_written(tmp_path / "out")
