"""The per-image output contract of every ``test.py``, and the loop that paints a folder of images.

One folder per input image, ``<output_dir>/<image stem>/`` (DESIGN.md, "How users run it")::

    <result>.png     the painting / sketch / stipple drawing / refined drawing
    strokes.json     the strokes: format name, parameter names, one row per stroke (common.strokes)
    <result>.svg     the same strokes as SVG
    metrics.json     stroke count, seconds, quality against the input, offline paths taken, ...
    process.mp4      with --video: the painting process (process.gif only when no MP4 encoder is present)

plus whatever a method adds (``pass_<k>.png``, ``points.csv``, ``round<r>.svg``). Methods without strokes
(the line refiner) write only the PNG and ``metrics.json``.

All or nothing per image: :func:`image_output` writes into a hidden temporary folder
``<output_dir>/.<stem>.partial-XXXXXXXX`` and renames it into place when the block succeeds (an older
folder of the same name is replaced); on any error the temporary folder is removed, so a crash or a bad
image never leaves a half-written result, and the folders of images finished earlier stay as they are.
Every file and folder is created with the user's umask (0644 / 0755 under the usual 022).

:func:`paint_images` is the batch loop of every ``test.py``::

    images, is_folder = list_inputs(args.img_path)
    painter = load_painter(...)                          # models: once per run, not per image
    def paint_one(path, folder):
        target = load_image(path)
        ...
        with image_output(folder) as out:
            out.image("painting.png", canvas)
            out.strokes("oil", strokes, H, W, svg="painting.svg")
            out.metrics({...})
    return paint_images(images, paint_one, args.output_dir, is_folder=is_folder)

A single image that fails ends the run with its one ``error: ...`` line (exit 2, nothing written). In a
folder run every readable image is painted; each bad one is reported in one ``error: ...`` line on stderr as
the run goes; a last line says ``painted N, failed M``; the exit status is 1 when any image failed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.errors import OutputDirError, UserError

__all__ = [
    "ImageOutput",
    "image_output",
    "list_inputs",
    "output_folders",
    "paint_images",
    "mp4_available",
]


@functools.cache
def mp4_available() -> bool:
    """True when imageio-ffmpeg can find an ffmpeg executable (the MP4/H.264 encoder)."""
    try:
        import imageio_ffmpeg

        return bool(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError, OSError):
        return False


class ImageOutput:
    """The output folder of one image while it is being written (made by :func:`image_output`).

    Every writer puts its file into the hidden temporary folder :attr:`tmp`; nothing appears under the
    final name until the ``with`` block of :func:`image_output` ends without error.

    Attributes:
        final: the folder the files will have at the end, ``<output_dir>/<stem>``.
        tmp: the hidden folder being written.
        files: names written so far, in order.
        log: one-line progress/notes callback (``print`` by default).
    """

    def __init__(self, final: Path, tmp: Path, log: Callable[[str], Any] = print) -> None:
        self.final = final
        self.tmp = tmp
        self.files: list[str] = []
        self.log = log

    def path(self, name: str) -> Path:
        """Path of ``name`` inside the temporary folder, for a file the caller writes itself (through
        ``common.image_io.atomic_write`` or another atomic writer); it is listed in :attr:`files`."""
        if Path(name).name != name or name.startswith("."):
            raise ValueError(f"output file names are plain visible names, got {name!r}")
        self.files.append(name)
        return self.tmp / name

    def image(self, name: str, image: torch.Tensor | np.ndarray) -> Path:
        """Write an image (``(1, C, H, W)`` / ``(C, H, W)`` float in [0, 1], C in {1, 3}, or uint8
        ``(H, W[, 3])``) as ``name`` (format from the suffix, normally ``.png``)."""
        from common.image_io import save_image

        return save_image(image.detach().cpu() if isinstance(image, torch.Tensor) else image, self.path(name))

    def strokes(
        self,
        fmt: str,
        params: torch.Tensor | np.ndarray,
        height: int,
        width: int,
        background: Sequence[float] | None = None,
        extra: dict | None = None,
        param_names: Sequence[str] | None = None,
        svg: str | None = None,
        svg_text: str | None = None,
    ) -> Path:
        """Write ``strokes.json`` (and, with ``svg``, the SVG of the same strokes).

        Args:
            fmt: stroke format name (``oil``, ``bezier13``, ``curve``, ``dots``; ``common.strokes``).
            params: ``(N, P)`` rows in the format's JSON layout, in painting order.
            height, width: canvas size in pixels.
            background: canvas colour, 3 floats in [0, 1], or None.
            extra: JSON-able dict stored under ``"extra"``.
            param_names: column names when they differ from the format's (e.g. dots with opacity).
            svg: file name of the SVG (e.g. ``"painting.svg"``); None writes none.
            svg_text: the SVG document to write instead of the format's default drawing (e.g. the
                plotter-sized stipple SVG); needs ``svg``.

        Raises:
            StrokeFormatError: unknown format or rows of the wrong width.
        """
        from common.image_io import save_strokes
        from common.svg import strokes_to_svg, write_svg

        path = save_strokes(
            self.path("strokes.json"), fmt, params, height, width, background, extra, param_names
        )
        if svg is not None:
            text = (
                svg_text if svg_text is not None else strokes_to_svg(fmt, params, height, width, background)
            )
            write_svg(self.path(svg), text)
        return path

    def svg(self, name: str, svg_text: str) -> Path:
        """Write an SVG document (e.g. one round of a sketch) as ``name``."""
        from common.svg import write_svg

        return write_svg(self.path(name), svg_text)

    def video(self, frames, fps: float = 12, fmt: str = "mp4") -> Path | None:
        """Write the painting process as ``process.mp4`` (``fmt="gif"``: ``process.gif``).

        Args:
            frames: a ``common.video.ProcessRecorder`` or a sequence of frames (``(1, 3, H, W)`` float
                tensors in [0, 1] or ``(H, W, 3)`` uint8 arrays). Nothing is written when it is empty.
            fps: frames per second.
            fmt: ``"mp4"`` (H.264 through imageio-ffmpeg) or ``"gif"``. MP4 falls back to GIF, with a
                logged note, only when no MP4 encoder is present.

        Returns:
            The written path, or None when there were no frames.
        """
        from common.video import ProcessRecorder, save_video

        if fmt not in ("mp4", "gif"):
            raise UserError(f"unknown video format {fmt!r} (use mp4 or gif)")
        if fmt == "mp4" and not mp4_available():
            self.log("note: no MP4 encoder (imageio-ffmpeg has no ffmpeg): writing the process as GIF")
            fmt = "gif"
        name = f"process.{fmt}"
        if isinstance(frames, ProcessRecorder):
            if len(frames) == 0:
                return None
            return frames.save(self.path(name), fps=fps)
        if len(frames) == 0:
            return None
        return save_video(frames, self.path(name), fps=fps)

    def metrics(self, metrics: dict) -> Path:
        """Write ``metrics.json`` (tensors, NumPy values and paths become JSON; inf/nan become null). The
        list of files written is added under ``"files"`` unless the dict has that key."""
        from common.image_io import save_json

        doc = dict(metrics)
        doc.setdefault("files", [*self.files, "metrics.json"])
        return save_json(doc, self.path("metrics.json"))


@contextlib.contextmanager
def image_output(folder: str | os.PathLike, log: Callable[[str], Any] = print) -> Iterator[ImageOutput]:
    """Write the outputs of one image into ``folder``, all or nothing.

    Yields an :class:`ImageOutput` whose files go to a hidden temporary folder beside ``folder``; when the
    block ends without error the temporary folder is renamed to ``folder`` (an existing ``folder`` is
    replaced), otherwise it is removed and ``folder`` is left as it was.

    Raises:
        OutputDirError: the parent folder cannot be created or written.
    """
    from common.image_io import create_exclusive

    final = Path(folder)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = create_exclusive(final.parent, f".{final.name}.partial-", directory=True)
    except OSError as err:
        raise OutputDirError(f"cannot write {final}: {err.strerror or err}") from None
    try:
        yield ImageOutput(final, tmp, log)
        old = None
        if final.exists():
            old = create_exclusive(final.parent, f".{final.name}.old-", directory=True)
            os.replace(final, old / final.name)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def list_inputs(path: str | os.PathLike) -> tuple[list[Path], bool]:
    """The images named by ``path`` (a file, or the images directly inside a folder) and whether it is a
    folder. Raises ``ImageLoadError`` for a missing path, an empty folder, or a file that is not an image."""
    from common.image_io import list_images

    return list_images(path), Path(path).expanduser().is_dir()


def output_folders(images: Sequence[Path], root: Path) -> list[Path]:
    """``root/<stem>`` per image; images that share a stem (``a.jpg``, ``a.png``) get ``root/<name>``."""
    stems = [p.stem for p in images]
    return [root / (p.stem if stems.count(p.stem) == 1 else p.name) for p in images]


def _report(path: Path, err: UserError) -> str:
    message = " ".join((str(err) or type(err).__name__).split())
    return message if (str(path) in message or path.name in message) else f"{path.name}: {message}"


def paint_images(
    images: Sequence[Path],
    paint_one: Callable[[Path, Path], Any],
    output_dir: str | os.PathLike,
    is_folder: bool,
) -> int:
    """Run ``paint_one(image_path, image_output_folder)`` on every image; return the exit status.

    Args:
        images: the input files (:func:`list_inputs`).
        paint_one: paints one image and writes its outputs into the given folder (normally through
            :func:`image_output`); a bad image raises :class:`common.errors.UserError`.
        output_dir: the run's output folder; created here (with parents). When the run writes nothing into
            the folders it created, they are removed again.
        is_folder: the input was a folder: report bad images and go on, then print the summary line.
            Otherwise the one image's error propagates (one ``error:`` line, exit 2 from ``run_main``).

    Returns:
        0 when every image was painted, 1 when any failed (folder runs only).

    Raises:
        OutputDirError: the output folder cannot be created or written. UserError: the single image failed.
    """
    from common.cli import prepare_output_dir, print_error

    out = Path(output_dir).expanduser().absolute()
    created = [p for p in (out, *out.parents) if not p.exists()]  # folders this run makes, deepest first
    root = prepare_output_dir(out)
    failed: list[Path] = []
    try:
        for path, folder in zip(images, output_folders(images, root), strict=True):
            if not is_folder:
                paint_one(path, folder)
                continue
            try:
                paint_one(path, folder)
            except OutputDirError:
                raise  # the output folder itself is unwritable: every further image would fail too
            except UserError as err:
                print_error(_report(path, err))
                failed.append(path)
    finally:
        for folder in created:  # a run that wrote nothing leaves no folder behind
            if not folder.is_dir() or any(folder.iterdir()):
                break
            folder.rmdir()
    if is_folder:
        names = f" ({', '.join(p.name for p in failed)})" if failed else ""
        painted = len(images) - len(failed)
        where = f" -> {root}" if painted else ""
        print(f"painted {painted}, failed {len(failed)}{names}{where}", file=sys.stderr)
    return 1 if failed else 0
