"""Process videos: the painting as it grows, written to MP4 (imageio-ffmpeg, H.264) or GIF (Pillow).

Usage::

    recorder = ProcessRecorder(max_frames=200)
    for step in ...:
        recorder.add(canvas)          # (1, 3, H, W) in [0, 1]; cheap, keeps a bounded set of frames
    recorder.save(out_dir / "process.mp4", fps=24)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from common.errors import UserError
from common.image_io import atomic_path, tensor_to_uint8

__all__ = ["save_video", "ProcessRecorder", "VIDEO_EXTENSIONS"]

VIDEO_EXTENSIONS = (".mp4", ".gif")


def _frame_uint8(frame: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(frame, torch.Tensor):
        return tensor_to_uint8(frame)
    arr = np.asarray(frame)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"numpy frames must be uint8 (H, W, 3), got {arr.dtype} {arr.shape}")
    return arr


def save_video(frames: Sequence[torch.Tensor | np.ndarray], path: str | os.PathLike, fps: float = 24) -> Path:
    """Write frames to ``.mp4`` or ``.gif``, atomically (temporary name, then rename).

    Args:
        frames: non-empty sequence of ``(1, 3, H, W)`` / ``(3, H, W)`` float tensors in [0, 1] or
            ``(H, W, 3)`` uint8 arrays, all the same size.
        path: output file; ``.mp4`` is H.264/yuv420p through imageio-ffmpeg (odd sizes are padded by one
            edge-replicated pixel to even), ``.gif`` loops forever through imageio's Pillow plugin.
        fps: frames per second (> 0).

    Returns:
        ``Path(path)``.

    Raises:
        UserError: unsupported suffix. ValueError: no frames, frames of different sizes, bad fps.
        OutputDirError: the folder cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_EXTENSIONS:
        raise UserError(f"unsupported video type {path.suffix!r} for {path} (use .mp4 or .gif)")
    if len(frames) == 0:
        raise ValueError("save_video needs at least one frame")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    arrays = [_frame_uint8(f) for f in frames]
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays):
        raise ValueError(f"all frames must have the same size; first is {shape[:2]}")
    with atomic_path(path) as tmp:
        if suffix == ".mp4":
            import imageio.v2 as imageio

            pad_h, pad_w = shape[0] % 2, shape[1] % 2
            writer = imageio.get_writer(
                tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", pixelformat="yuv420p",
                macro_block_size=1, quality=8, ffmpeg_log_level="error",
            )  # fmt: skip
            try:
                for a in arrays:
                    if pad_h or pad_w:
                        a = np.pad(a, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
                    writer.append_data(a)
            finally:
                writer.close()
        else:
            import imageio.v3 as iio

            iio.imwrite(tmp, np.stack(arrays), extension=".gif", duration=1000.0 / fps, loop=0)
    return path


class ProcessRecorder:
    """Collects frames of a painting process, keeping at most ``max_frames`` evenly spread ones.

    Every ``add`` call is a candidate frame. Frames are kept at a stride that doubles whenever the buffer
    would overflow (every other kept frame is dropped), so memory stays bounded however many calls are made
    and the kept frames stay evenly spaced in call order (between max_frames/2 and max_frames of them).
    The latest frame is always kept as the final frame.

    Args:
        max_frames: most frames kept (>= 2).
        hold_last: extra copies of the final frame appended by :meth:`save` (a pause on the result).
    """

    def __init__(self, max_frames: int = 240, hold_last: int = 12) -> None:
        if max_frames < 2:
            raise ValueError(f"max_frames must be >= 2, got {max_frames}")
        self.max_frames = int(max_frames)
        self.hold_last = int(hold_last)
        self._frames: list[np.ndarray] = []
        self._stride = 1
        self._count = 0
        self._last: np.ndarray | None = None

    def __len__(self) -> int:
        """Number of frames :meth:`frames` returns (without the held copies)."""
        return len(self.frames())

    def add(self, canvas: torch.Tensor | np.ndarray) -> None:
        """Offer one frame: ``(1, 3, H, W)`` / ``(3, H, W)`` tensor in [0, 1] or ``(H, W, 3)`` uint8."""
        frame = _frame_uint8(canvas)
        if self._count % self._stride == 0:
            self._frames.append(frame)
            if len(self._frames) >= self.max_frames:  # keep room for the final frame
                self._frames = self._frames[::2]
                self._stride *= 2
        self._last = frame
        self._count += 1

    def frames(self) -> list[np.ndarray]:
        """The kept frames as ``(H, W, 3)`` uint8 arrays, in order, ending with the latest one."""
        frames = list(self._frames)
        if self._last is not None and (not frames or frames[-1] is not self._last):
            frames.append(self._last)
        return frames

    def save(self, path: str | os.PathLike, fps: float = 24) -> Path:
        """Write the kept frames (plus ``hold_last`` copies of the final one) with :func:`save_video`.

        Raises:
            ValueError: no frame was added. Others as :func:`save_video`.
        """
        frames = self.frames()
        if not frames:
            raise ValueError("ProcessRecorder.save: no frames were added")
        return save_video(frames + [frames[-1]] * self.hold_last, path, fps=fps)
