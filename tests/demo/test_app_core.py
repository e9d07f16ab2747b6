"""The demo's request handling without a browser or Gradio (runs in the default environment too):
upload checks, the per-request caps, one real request, and the gallery's GIF and caption writers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from common.errors import UserError
from scripts.app_requests import LIMITS, Runner, check_knobs, limits_markdown, load_upload
from scripts.make_gallery import Caption, Run, save_gif, write_caption

KNOBS = {
    "side": 128,
    "strokes": 100,
    "mode": 1,
    "style": "realistic",
    "steps": 5,
    "stipple_method": "wvs",
    "points": 256,
    "line_style": "taper",
    "make_lines": True,
    "sketch_strokes": 8,
    "rounds": 1,
    "iterations": 10,
    "video": False,
}


def test_load_upload_reads_a_photo(tmp_path):
    path = tmp_path / "p.jpg"
    Image.fromarray(np.full((40, 60, 3), 200, np.uint8)).save(path)
    arr = load_upload(path)
    assert arr.shape == (40, 60, 3) and arr.dtype == np.uint8


@pytest.mark.parametrize(
    "content, message",
    [
        (b"plain text, not a picture\n", "notes.png is not an image this demo can read"),
        (b"", "notes.png is not an image this demo can read"),
    ],
)
def test_load_upload_rejects_non_images(tmp_path, content, message):
    path = tmp_path / "notes.png"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        load_upload(path)


def test_load_upload_rejects_tiny_and_huge_images(tmp_path):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (8, 100)).save(tiny)
    with pytest.raises(UserError, match="minimum is 16 px"):
        load_upload(tiny)
    huge = tmp_path / "huge.png"  # 1-bit, so the file stays small while the pixel count is over the cap
    side = int((LIMITS["upload_megapixels"] * 1e6) ** 0.5) + 100
    Image.new("1", (side, side)).save(huge)
    with pytest.raises(UserError, match="megapixels"):
        load_upload(huge)


@pytest.mark.parametrize(
    "key, value",
    [
        ("side", LIMITS["side"] + 1),
        ("strokes", LIMITS["cnp_strokes"] + 5),
        ("points", LIMITS["stipple_points"] + 1),
        ("sketch_strokes", LIMITS["sketch_strokes"] + 1),
        ("rounds", LIMITS["sketch_rounds"] + 1),
        ("iterations", LIMITS["sketch_iterations"] + 1),
        ("steps", 0),
    ],
)
def test_caps_are_enforced_on_the_server(key, value):
    check_knobs("cnp", KNOBS)  # the defaults pass
    with pytest.raises(UserError, match=f"{key} must be between"):
        check_knobs("cnp", {**KNOBS, key: value})


def test_the_page_states_the_caps():
    text = limits_markdown()
    for value in (LIMITS["side"], LIMITS["cnp_strokes"], LIMITS["stipple_points"], LIMITS["sketch_strokes"]):
        assert str(value) in text


def test_a_line_refiner_request_writes_its_result(tmp_path):
    from common.data import bundled_photos

    runner = Runner(tmp_path / "work", "cpu")
    photo = bundled_photos(["coffee"])["coffee"]  # 400 x 600: downscaled to the 128-px working side
    res = runner.run("linerefiner", photo, dict(KNOBS), None)
    refined = np.asarray(Image.open(res["result"]))
    assert refined.shape[:2] == (85, 128)
    assert 0.5 < refined.mean() / 255 < 1.0  # dark lines on light paper, not blank
    assert (refined < 128).mean() > 0.001
    assert "done in" in res["summary"]
    assert runner.refiner("taper") is runner.refiner("taper")  # loaded once


def test_save_gif_keeps_a_short_loop_without_the_blank_start(tmp_path):
    import imageio.v3 as iio

    frames = [np.zeros((64, 96, 3), np.uint8)] * 3  # the blank canvas the recordings start with
    frames += [np.full((64, 96, 3), 20 * k, np.uint8) + np.eye(64, 96, dtype=np.uint8)[..., None] * 200
               for k in range(1, 11)]  # fmt: skip
    video = tmp_path / "process.gif"
    iio.imwrite(video, np.stack(frames), duration=100, loop=0)
    gif = Image.open(save_gif(video, tmp_path / "short.gif", side=48, frames=5))
    assert gif.n_frames == 5 and max(gif.size) == 48
    gif.seek(0)
    assert np.asarray(gif.convert("RGB")).std() > 2  # starts on a painted frame, not the blank one


def test_caption_names_the_command_strokes_and_seconds(tmp_path):
    cap = Caption(
        "t", [Run("python x/test.py --a 1", 12.34, 2.5, tmp_path)], "7 oil strokes", {"f.jpg": "it"}
    )
    text = write_caption(tmp_path, "cnp", cap).read_text()
    assert "python x/test.py --a 1" in text and "12.3 s" in text and "7 oil strokes" in text
    assert "python scripts/make_gallery.py --only cnp" in text
