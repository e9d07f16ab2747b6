"""Pretrained networks the standard way: torchvision's weights API, Hugging Face ``from_pretrained``,
open_clip; their standard caches; a download on first use when the machine is online.

- torchvision (VGG16/19, ResNet-18/50): ``torchvision.models.get_model(name, weights=<weights enum>)``
  (e.g. ``weights=VGG16_Weights.IMAGENET1K_V1``), which reads ``$TORCH_HOME/hub/checkpoints/<file>``
  (default ``~/.cache/torch/hub/checkpoints/``) and downloads into it when the file is absent
  (:func:`load_torchvision_backbone`).
- Hugging Face (DETR): ``from_pretrained(repo)`` on the Hugging Face cache (``$HF_HOME/hub``), downloading
  into it (:func:`hf_from_pretrained`).
- open_clip (CLIP RN101): ``common.losses.clip_loss`` fetches with open_clip's own downloader.

Offline: ``--offline`` (:func:`set_offline`) or ``HF_HUB_OFFLINE=1`` in the environment: nothing touches
the network, only the caches are read. Online, a download is tried only when the host answers a TCP
connection within :data:`PROBE_SECONDS` (:func:`host_reachable`, once per host and process), so a machine
whose network refuses or drops the hub hosts loses about a second, not the libraries' minute of retries.

When weights cannot be had, :class:`common.errors.WeightsMissingError` says in one line which file is
missing and where it belongs (and why the download failed); callers with a documented offline path catch it,
log it, record it in ``metrics.json`` and go on; callers whose model the user asked for by name let it end
the run (one ``error:`` line, exit 2).
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import torch
from torch import nn

from common.errors import UserError, WeightsMissingError

__all__ = [
    "PROBE_SECONDS",
    "is_offline",
    "set_offline",
    "host_reachable",
    "download_allowed",
    "hub_checkpoint_dir",
    "weights_file",
    "weights_available",
    "load_torchvision_backbone",
    "hf_cache_dir",
    "hf_from_pretrained",
]

#: Seconds a reachability probe of a download host may take before the host counts as unreachable.
PROBE_SECONDS = 2.0
_TRUE = ("1", "true", "yes", "on")
_probed: dict[tuple[str, int], str | None] = {}


def is_offline() -> bool:
    """True when ``--offline`` was given (:func:`set_offline`) or ``HF_HUB_OFFLINE`` is set to 1/true."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def set_offline(offline: bool = True) -> None:
    """Forbid (or allow again) every download of this process and its children.

    Sets ``HF_HUB_OFFLINE`` (read by Hugging Face, open_clip and :func:`is_offline`); entry scripts call it
    for ``--offline`` before any model is loaded.
    """
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
    else:
        os.environ.pop("HF_HUB_OFFLINE", None)


def _probe(host: str, port: int, result: list) -> None:
    try:
        with socket.create_connection((host, port), timeout=PROBE_SECONDS):
            result.append(None)
    except OSError as err:
        result.append(err.strerror or str(err) or type(err).__name__)


def host_reachable(url: str) -> str | None:
    """Whether a download from ``url`` can start: None when its host (or the HTTPS proxy) accepts a TCP
    connection within :data:`PROBE_SECONDS`, else the reason as a short string. Cached per host."""
    proxy = urllib.request.getproxies().get(urllib.parse.urlsplit(url).scheme or "https")
    parts = urllib.parse.urlsplit(proxy or url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    key = (host, port)
    if key not in _probed:
        result: list = []
        worker = threading.Thread(target=_probe, args=(host, port, result), daemon=True)
        worker.start()
        worker.join(PROBE_SECONDS + 0.5)  # name resolution has no timeout of its own
        _probed[key] = result[0] if result else f"no answer within {PROBE_SECONDS:g} s"
        if _probed[key] is not None:
            _probed[key] = f"{host} unreachable: {_probed[key]}"
    return _probed[key]


def download_allowed(url: str) -> str | None:
    """None when a download from ``url`` may be tried now; else why not (offline mode, host unreachable)."""
    if is_offline():
        return "offline mode (--offline or HF_HUB_OFFLINE=1)"
    return host_reachable(url)


def hub_checkpoint_dir() -> Path:
    """torch.hub's checkpoint cache folder: ``$TORCH_HOME/hub/checkpoints`` (read at call time)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


# the files of the backbones this project loads, so that finding a cached file (or its absence) does not cost
# torchvision's import (about 4 CPU-seconds: torchvision.ops imports torch._dynamo); the test suite checks
# them against torchvision's weights enums (tests/common/test_metrics_losses.py)
KNOWN_WEIGHT_URLS = {
    ("vgg16", "IMAGENET1K_V1"): "https://download.pytorch.org/models/vgg16-397923af.pth",
    ("vgg19", "IMAGENET1K_V1"): "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    ("resnet18", "IMAGENET1K_V1"): "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    ("resnet50", "IMAGENET1K_V1"): "https://download.pytorch.org/models/resnet50-0676ba61.pth",
    ("resnet50", "IMAGENET1K_V2"): "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
}


def _weights_enum(name: str, weights: str):
    import torchvision.models as tvm

    try:
        enum = tvm.get_model_weights(name)
    except (ValueError, KeyError):
        raise UserError(f"unknown torchvision model {name!r}") from None
    try:
        return enum[weights]
    except KeyError:
        known = ", ".join(w.name for w in enum)
        raise UserError(f"unknown weights {weights!r} for {name} (known: {known})") from None


def weights_file(name: str, weights: str) -> tuple[Path, str]:
    """Where the weights file of ``(name, weights)`` is cached, and the URL it comes from.

    Args:
        name: torchvision model name, e.g. ``"vgg16"``, ``"vgg19"``, ``"resnet50"``.
        weights: weights enum member name, e.g. ``"IMAGENET1K_V1"``.

    Returns:
        ``(path in hub_checkpoint_dir(), url)``.

    Raises:
        UserError: unknown model or weights name.
    """
    url = KNOWN_WEIGHT_URLS.get((name, weights)) or _weights_enum(name, weights).url
    return hub_checkpoint_dir() / os.path.basename(url), url


def weights_available(name: str, weights: str) -> bool:
    """True when the weights file of ``(name, weights)`` is in the local torch.hub cache."""
    return weights_file(name, weights)[0].is_file()


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:200]


def load_torchvision_backbone(
    name: str,
    weights: str = "IMAGENET1K_V1",
    random_weights: bool = False,
    weights_path: str | os.PathLike | None = None,
) -> nn.Module:
    """A torchvision model with pretrained weights, through the weights API and torch.hub's cache.

    ``torchvision.models.get_model(name, weights=<enum member>)`` reads the cached file, or downloads it
    into ``hub_checkpoint_dir()`` when it is absent, the machine is online (:func:`download_allowed`) and
    ``--offline`` is not set.

    Args:
        name: ``"vgg16"``, ``"vgg19"``, ``"resnet18"``, ``"resnet50"``, ... (any ``torchvision.models`` name).
        weights: weights enum member, e.g. ``"IMAGENET1K_V1"`` (VGG, ResNet-18) or ``"IMAGENET1K_V2"``.
        random_weights: build with random initial weights instead (tests, timing); nothing is read.
        weights_path: an explicit ``.pth`` file instead of the cache (never downloaded).

    Returns:
        The model in eval mode on the CPU, parameters with ``requires_grad`` unchanged (True).

    Raises:
        WeightsMissingError: the file is absent and cannot be downloaded, or unreadable; the one-line
            message names the file, the folder it belongs in and the URL.
        UserError: unknown model or weights name.
    """
    if random_weights:
        import torchvision.models as tvm

        try:
            return tvm.get_model(name, weights=None).eval()
        except ValueError:
            raise UserError(f"unknown torchvision model {name!r}") from None
    path, url = weights_file(name, weights)  # a missing file is reported before torchvision is imported
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise WeightsMissingError(f"pretrained {name} weights file not found: {path}")
    elif not path.is_file():
        why = download_allowed(url)
        where = f"download {url} and put it in {path.parent}/ (or set TORCH_HOME)"
        if why is not None:
            raise WeightsMissingError(
                f"pretrained {name} weights {path.name} not in {path.parent} ({why}); {where}"
            )
        import torchvision.models as tvm

        try:
            with _socket_timeout(30.0):
                member = _weights_enum(name, weights)
                return tvm.get_model(name, weights=member).eval()  # downloads into the cache, checks the hash
        except Exception as err:  # noqa: BLE001 - any failed download means: say so, offline path
            raise WeightsMissingError(
                f"pretrained {name} weights {path.name}: download failed ({_first_line(err)}); {where}"
            ) from None
    import torchvision.models as tvm

    model = tvm.get_model(name, weights=None)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    except Exception as err:  # corrupt or foreign file: say which and how to fix it
        raise WeightsMissingError(
            f"cannot load {name} weights from {path}: {_first_line(err)}; "
            f"re-download {url} into {path.parent}/"
        ) from None
    return model.eval()


class _socket_timeout:
    """Give sockets opened inside the block a default timeout (urllib's downloads have none)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __enter__(self) -> None:
        self.before = socket.getdefaulttimeout()
        socket.setdefaulttimeout(self.seconds)

    def __exit__(self, *exc) -> None:
        socket.setdefaulttimeout(self.before)


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache folder (``$HF_HUB_CACHE``, default ``~/.cache/huggingface/hub``)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def hf_from_pretrained(cls, repo: str, **kwargs):
    """``cls.from_pretrained(repo, **kwargs)`` (a transformers class), downloading into the Hugging Face
    cache only when allowed (:func:`download_allowed`); otherwise from the cache alone
    (``local_files_only=True``).

    Raises:
        WeightsMissingError: not in the cache and not downloadable; one line naming the repository and the
            cache folder it belongs in.
    """
    from huggingface_hub import constants

    why = download_allowed(constants.ENDPOINT)
    try:
        return cls.from_pretrained(repo, local_files_only=why is not None, **kwargs)
    except Exception as err:  # noqa: BLE001 - any failure to load means: say so, offline path
        reason = why or f"download failed: {_first_line(err)}"
        raise WeightsMissingError(
            f"{repo} not in the Hugging Face cache {hf_cache_dir()} ({reason}); on a connected machine run "
            f"`hf download {repo}` and copy its models--{repo.replace('/', '--')} folder there"
        ) from None
