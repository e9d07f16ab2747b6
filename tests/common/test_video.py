"""common.video: MP4 and GIF written atomically and readable back; bounded process recorder."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from common.errors import UserError
from common.video import ProcessRecorder, save_video


def _frames(n: int, h: int = 33, w: int = 47) -> list[torch.Tensor]:
    return [torch.full((1, 3, h, w), i / max(n - 1, 1)) for i in range(n)]


def test_mp4_written_and_readable(tmp_path):
    path = save_video(_frames(10), tmp_path / "p.mp4", fps=12)
    video = iio.imread(path)
    assert video.shape == (10, 34, 48, 3)  # odd sizes padded to even
    assert abs(float(video[0].mean())) < 10 and float(video[-1].mean()) > 245  # black -> white
    assert [p.name for p in tmp_path.iterdir()] == ["p.mp4"]


def test_gif_written_and_readable(tmp_path):
    frames = [np.full((20, 30, 3), 40 * i, np.uint8) for i in range(5)]
    path = save_video(frames, tmp_path / "p.gif", fps=10)
    gif = iio.imread(path)
    assert gif.shape[0] == 5 and gif.shape[1:3] == (20, 30)
    assert abs(int(gif[4][..., :3].mean()) - 160) <= 2


def test_bad_inputs(tmp_path):
    with pytest.raises(UserError, match="unsupported video type"):
        save_video(_frames(2), tmp_path / "p.avi")
    with pytest.raises(ValueError, match="at least one frame"):
        save_video([], tmp_path / "p.gif")
    with pytest.raises(ValueError, match="same size"):
        save_video([torch.zeros(3, 8, 8), torch.zeros(3, 8, 10)], tmp_path / "p.gif")
    assert list(tmp_path.iterdir()) == []


def test_crash_while_writing_leaves_nothing(tmp_path, monkeypatch):
    import imageio.v3

    def broken(path, *args, **kwargs):
        open(path, "wb").write(b"GIF89a partial")
        raise OSError("disk full")

    monkeypatch.setattr(imageio.v3, "imwrite", broken)
    with pytest.raises(OSError):
        save_video(_frames(3), tmp_path / "p.gif")
    assert list(tmp_path.iterdir()) == []


def test_recorder_keeps_bounded_evenly_spread_frames(tmp_path):
    rec = ProcessRecorder(max_frames=8, hold_last=2)
    for i in range(100):
        rec.add(torch.full((1, 3, 8, 8), i / 99))
    frames = rec.frames()
    assert 4 <= len(frames) <= 8
    values = [int(f[0, 0, 0]) for f in frames]
    assert values[0] == 0 and values[-1] == 255 and values == sorted(values)
    gaps = np.diff(values[:-1])
    assert gaps.max() - gaps.min() <= 1  # evenly spread (up to rounding)
    gif = iio.imread(rec.save(tmp_path / "r.gif", fps=5))
    assert gif.shape[1:3] == (8, 8)
    with pytest.raises(ValueError, match="no frames"):
        ProcessRecorder().save(tmp_path / "empty.gif")
