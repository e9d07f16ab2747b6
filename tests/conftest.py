"""Shared pytest fixtures (core).

- ``device``: ``torch.device("cpu")``, plus ``cuda`` when a GPU is present (tests run once per device).
  Narrow with ``pytest --device cpu`` (comma-separated list: ``--device cpu,cuda``).
- ``dtype``: ``torch.float32`` by default; ``pytest --dtype float32,float64`` runs both.
- ``photo``: skimage's astronaut as ``(1, 3, 128, 128)`` float32 in [0, 1] on the CPU (bundled, offline).
- ``rng``: a CPU ``torch.Generator`` seeded with 0 (``torch.rand(..., generator=rng).to(device)``).
- ``np_rng``: ``numpy.random.default_rng(0)``.
Every test also starts with ``torch.manual_seed(0)`` (autouse ``_seed``).

No test touches the network (autouse ``_no_network``): every test runs offline (``HF_HUB_OFFLINE=1``,
inherited by subprocesses), and any attempt to resolve or connect to a non-loopback address fails the test,
even when the code under test catches the error. A test marked ``@pytest.mark.network_refused`` may try:
its attempts are refused at once (``ConnectionRefusedError``), as on a machine whose network refuses the
hub hosts, and counted in the ``network_attempts`` fixture.
"""

from __future__ import annotations

import ipaddress
import os
import socket

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
def one_thread():
    """One torch thread for the test (restored after): the shared 2-core machine stalls multi-threaded
    small ops. A module opts in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


def _loopback(host) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def network_attempts() -> list:
    """Addresses the test tried to reach (filled by ``_no_network``)."""
    return []


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, network_attempts: list):
    from common import pretrained

    allowed = request.node.get_closest_marker("network_refused") is not None
    if not allowed:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(pretrained, "_probed", {})
    real_connect, real_connect_ex, real_getaddrinfo = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.getaddrinfo,
    )

    def refuse(address):
        network_attempts.append(address)
        raise ConnectionRefusedError(111, f"network access refused in tests: {address}")

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            refuse(address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            refuse(address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host if not isinstance(host, bytes) else host.decode()):
            refuse(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    if network_attempts and not allowed:
        pytest.fail(f"the test tried to reach the network: {network_attempts[:3]}", pytrace=False)
