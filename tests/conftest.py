"""Shared pytest fixtures (core).

- ``device``: ``torch.device("cpu")``, plus ``cuda`` when a GPU is present (tests run once per device).
  Narrow with ``pytest --device cpu`` (comma-separated list: ``--device cpu,cuda``).
- ``dtype``: ``torch.float32`` by default; ``pytest --dtype float32,float64`` runs both.
- ``photo``: skimage's astronaut as ``(1, 3, 128, 128)`` float32 in [0, 1] on the CPU (bundled, offline).
- ``rng``: a CPU ``torch.Generator`` seeded with 0 (``torch.rand(..., generator=rng).to(device)``).
- ``np_rng``: ``numpy.random.default_rng(0)``.
Every test also starts with ``torch.manual_seed(0)`` (autouse ``_seed``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device", action="store", default=None, help="devices for the `device` fixture: cpu,cuda"
    )
    parser.addoption("--dtype", action="store", default="float32", help="dtypes for the `dtype` fixture")


def _devices(config: pytest.Config) -> list[str]:
    chosen = config.getoption("--device")
    if chosen:
        return [d.strip() for d in chosen.split(",") if d.strip()]
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", _devices(metafunc.config), indirect=True)
    if "dtype" in metafunc.fixturenames:
        names = [d.strip() for d in metafunc.config.getoption("--dtype").split(",") if d.strip()]
        metafunc.parametrize("dtype", names, indirect=True)


@pytest.fixture
def device(request: pytest.FixtureRequest) -> torch.device:
    """The torch device under test."""
    name = getattr(request, "param", "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip("CUDA not available")
    return torch.device(name)


@pytest.fixture
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    """The floating-point dtype under test."""
    return _DTYPES[getattr(request, "param", "float32")]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def rng() -> torch.Generator:
    """CPU torch generator seeded with 0."""
    return torch.Generator().manual_seed(0)


@pytest.fixture
def np_rng() -> np.random.Generator:
    """NumPy generator seeded with 0."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def _astronaut_128() -> torch.Tensor:
    import cv2
    import skimage.data

    arr = cv2.resize(skimage.data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(arr).permute(2, 0, 1)[None].float().div(255.0).contiguous()


@pytest.fixture
def photo(_astronaut_128: torch.Tensor) -> torch.Tensor:
    """skimage astronaut, ``(1, 3, 128, 128)`` float32 in [0, 1], CPU (a fresh copy per test)."""
    return _astronaut_128.clone()


def pytest_configure(config: pytest.Config) -> None:
    """Share the cores between pytest-xdist workers: each worker (and every subprocess it starts, through
    ``OMP_NUM_THREADS``) gets ``cores // workers`` torch threads. Oversubscribed OpenMP threads spin-wait on
    each other and made some tests 20x slower on a 2-core machine."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
