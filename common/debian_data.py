"""Real photos and line art from Debian packages, fetched on demand for benchmarks and training sets.

Nothing from these packages is committed to the repository: a benchmark calls :func:`opencv_doc_photos`
(or :func:`openclipart_svgs`), which downloads the package once with ``apt-get download`` into a cache folder
(``$STROKELAB_DATA`` or ``~/.cache/strokelab/debian``), unpacks it with ``dpkg-deb -x`` and returns paths.

- ``opencv-doc``: the photos of OpenCV's ``examples/data`` folder (fruits.jpg, home.jpg, messi5.jpg,
  baboon.jpg, starry_night.jpg (a painting), ...). :data:`OPENCV_BENCH_PHOTOS` are held out of every
  shipped training run, as :data:`common.data.BENCH_PHOTOS` are.
- ``openclipart-svg``: clip-art SVGs (line drawings among them), for the line refiner.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from common.errors import UserError

__all__ = [
    "OPENCV_BENCH_PHOTOS",
    "data_cache_dir",
    "debian_package_dir",
    "opencv_doc_photos",
    "openclipart_svgs",
]

#: opencv-doc photos the benchmarks measure on; never used for training shipped checkpoints.
OPENCV_BENCH_PHOTOS = ("fruits.jpg", "home.jpg", "messi5.jpg")


def data_cache_dir() -> Path:
    """The cache folder for fetched data: ``$STROKELAB_DATA`` or ``~/.cache/strokelab/debian``."""
    return Path(os.environ.get("STROKELAB_DATA", Path.home() / ".cache" / "strokelab" / "debian"))


def debian_package_dir(package: str) -> Path:
    """Unpacked contents of a Debian package (downloaded and unpacked once, then reused).

    Args:
        package: Debian package name, e.g. ``"opencv-doc"``.

    Returns:
        The folder that ``dpkg-deb -x`` filled (it holds ``usr/share/...``).

    Raises:
        UserError: ``apt-get``/``dpkg-deb`` missing, or the download failed (the message says how to
            fetch it by hand).
    """
    dest = data_cache_dir() / package
    if (dest / ".complete").exists():
        return dest
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise UserError(
            f"{package}: apt-get/dpkg-deb not found; on Debian/Ubuntu run 'apt-get download {package}' and "
            f"'dpkg-deb -x {package}_*.deb {dest}', then 'touch {dest}/.complete'"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        run = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True, text=True)
        debs = sorted(Path(tmp).glob(f"{package}_*.deb"))
        if run.returncode != 0 or not debs:
            last = (run.stderr.strip().splitlines() or ["no .deb written"])[-1]
            raise UserError(
                f"could not download Debian package {package} ({last}); try 'apt-get update' first"
            )
        unpacked = Path(tmp) / "x"
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(unpacked)], check=True, capture_output=True)
        if dest.exists():
            shutil.rmtree(dest)
        unpacked.rename(dest)
    (dest / ".complete").touch()
    return dest


def opencv_doc_photos(names: tuple[str, ...] | None = None, exclude: tuple[str, ...] = ()) -> dict[str, Path]:
    """Photos from ``opencv-doc``'s ``examples/data`` folder.

    Args:
        names: file names to return (e.g. :data:`OPENCV_BENCH_PHOTOS`); None = every ``.jpg`` there.
        exclude: file names to leave out (pass :data:`OPENCV_BENCH_PHOTOS` for training sets).

    Returns:
        ``{file name: path}``, sorted by name.

    Raises:
        UserError: the package cannot be fetched, or a requested name is not in it.
    """
    folder = debian_package_dir("opencv-doc") / "usr/share/doc/opencv-doc/examples/data"
    found = {p.name: p for p in sorted(folder.glob("*.jpg"))}
    if names is not None:
        missing = [n for n in names if n not in found]
        if missing:
            raise UserError(f"opencv-doc has no {missing} in {folder}")
        found = {n: found[n] for n in names}
    return {n: p for n, p in found.items() if n not in set(exclude)}


def openclipart_svgs() -> list[Path]:
    """Every SVG of Debian's ``openclipart-svg`` package, sorted by path. Raises UserError when it cannot be
    fetched."""
    return sorted((debian_package_dir("openclipart-svg") / "usr/share").rglob("*.svg"))
