"""common.data (bundled offline photos, image-folder crops) and common.device."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
from torch import nn

from common.data import (
    BENCH_PHOTOS,
    BUNDLED_PHOTO_NAMES,
    ImageFolderDataset,
    bundled_photo_tensor,
    bundled_photos,
)
from common.device import autocast, get_device, init_distributed, seed_everything, unwrap_model
from common.errors import ImageLoadError, UserError


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_every_bundled_photo_loads_offline(no_network):
    photos = bundled_photos()
    assert list(photos) == list(BUNDLED_PHOTO_NAMES) and len(photos) >= 12
    for name, arr in photos.items():
        assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3, name
        assert min(arr.shape[:2]) >= 256, name
    assert set(BENCH_PHOTOS) <= set(photos)


def test_bundled_photo_selection():
    assert list(bundled_photos(["coffee", "china"], exclude=["china"])) == ["coffee"]
    with pytest.raises(UserError, match="unknown bundled photo"):
        bundled_photos(["mona_lisa"])
    t = bundled_photo_tensor("coffee", max_side=120)
    assert t.shape == (1, 3, 80, 120) and 0 <= t.min() and t.max() <= 1


def test_dataset_on_bundled_photos_excludes_bench():
    ds = ImageFolderDataset(None, crop_size=32, length=5)
    assert not set(BENCH_PHOTOS) & set(ds.names)
    assert len(ds) == 5
    item = ds[0]
    assert item.shape == (3, 32, 32) and item.dtype == torch.float32 and 0 <= item.min() and item.max() <= 1


def test_dataset_on_a_folder(tmp_path, photo):
    from common.image_io import save_image

    save_image(photo, tmp_path / "a.png")
    save_image(photo[..., :20, :30], tmp_path / "small.png")  # smaller than the crop: upscaled
    (tmp_path / "notes.txt").write_text("x")
    ds = ImageFolderDataset(tmp_path, crop_size=64)
    assert len(ds) == 2 and ds.names == ["a", "small"]
    assert ds[1].shape == (3, 64, 64)
    torch.manual_seed(1)
    first = ds[0]
    torch.manual_seed(1)
    assert torch.equal(first, ds[0])  # same seed, same crop
    assert ImageFolderDataset(tmp_path, crop_size=64, exclude=["small"]).names == ["a"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageLoadError, match="no images"):
        ImageFolderDataset(empty, crop_size=16)
    with pytest.raises(ImageLoadError, match="no images left"):
        ImageFolderDataset(tmp_path, crop_size=16, exclude=["a", "small"])


def test_get_device():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA is not available"):
            get_device("cuda")
    with pytest.raises(UserError, match="unknown device"):
        get_device("tpu")


def test_seed_everything_reproduces():
    seed_everything(3)
    a = (torch.rand(4), np.random.rand(2))
    seed_everything(3)
    b = (torch.rand(4), np.random.rand(2))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_autocast_is_noop_on_cpu():
    with autocast("cpu"):
        out = torch.ones(2, 2) @ torch.ones(2, 2)
    assert out.dtype == torch.float32


def test_single_process_context(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = init_distributed("cpu")
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.is_main, ctx.distributed) == (0, 1, 0, True, False)
    assert ctx.device == torch.device("cpu")


def test_unwrap_model():
    net = nn.Linear(2, 2)
    assert unwrap_model(nn.DataParallel(net)) is net

    class Compiled(nn.Module):  # what torch.compile returns: an OptimizedModule holding `_orig_mod`
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self._orig_mod = inner

    assert unwrap_model(Compiled(nn.DataParallel(net))) is net  # (importing dynamo costs ~20 s in a test)
