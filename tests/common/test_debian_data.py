"""common.debian_data: the on-demand Debian-package fetcher, with apt-get and dpkg-deb replaced by fakes (no
network in tests)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from common import debian_data
from common.errors import UserError


def _fake_tools(monkeypatch, calls: list, fail_download: bool = False) -> None:
    monkeypatch.setattr(debian_data.shutil, "which", lambda name: f"/usr/bin/{name}")

    def fake_run(cmd, cwd=None, capture_output=False, text=False, check=False):
        calls.append(cmd[:2])
        if cmd[0] == "apt-get":
            if fail_download:
                return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package opencv-doc\n")
            (Path(cwd) / f"{cmd[2]}_1.0_all.deb").write_bytes(b"deb")
            return subprocess.CompletedProcess(cmd, 0, "", "")
        data = Path(cmd[3]) / "usr/share/doc/opencv-doc/examples/data"
        data.mkdir(parents=True)
        for name in ("fruits.jpg", "home.jpg", "messi5.jpg", "baboon.jpg"):
            (data / name).write_bytes(b"jpg")
        return subprocess.CompletedProcess(cmd, 0, b"", b"")

    monkeypatch.setattr(debian_data.subprocess, "run", fake_run)


def test_fetch_once_then_reuse_and_hold_out(tmp_path, monkeypatch):
    monkeypatch.setenv("STROKELAB_DATA", str(tmp_path))
    calls: list = []
    _fake_tools(monkeypatch, calls)
    train = debian_data.opencv_doc_photos(exclude=debian_data.OPENCV_BENCH_PHOTOS)
    assert list(train) == ["baboon.jpg"]
    bench = debian_data.opencv_doc_photos(debian_data.OPENCV_BENCH_PHOTOS)
    assert list(bench) == list(debian_data.OPENCV_BENCH_PHOTOS) and all(p.is_file() for p in bench.values())
    assert calls == [["apt-get", "download"], ["dpkg-deb", "-x"]]  # the second call reused the cache


def test_failed_download_is_one_clear_error_and_leaves_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STROKELAB_DATA", str(tmp_path))
    _fake_tools(monkeypatch, [], fail_download=True)
    with pytest.raises(UserError, match="could not download Debian package opencv-doc"):
        debian_data.opencv_doc_photos()
    assert not (tmp_path / "opencv-doc").exists()


def test_unknown_name_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("STROKELAB_DATA", str(tmp_path))
    _fake_tools(monkeypatch, [])
    with pytest.raises(UserError, match="no \\['lena.jpg'\\]"):
        debian_data.opencv_doc_photos(("lena.jpg",))
