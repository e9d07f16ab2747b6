"""Pretrained torchvision backbones loaded from the local torch.hub cache, never downloaded.

torchvision's weights enums give the file name and URL (``VGG16_Weights.IMAGENET1K_V1.url`` ends in
``vgg16-397923af.pth``); torch.hub caches such files in ``$TORCH_HOME/hub/checkpoints/`` (default
``~/.cache/torch/hub/checkpoints/``). This module looks only there (or in an explicit ``weights_path``):
when the file is absent it raises :class:`common.errors.WeightsMissingError` naming the file, its URL and the
folder, so the user can fetch it on another machine. Callers with an offline path catch that error.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from common.errors import UserError, WeightsMissingError

__all__ = ["weights_file", "weights_available", "load_torchvision_backbone", "hub_checkpoint_dir"]


def hub_checkpoint_dir() -> Path:
    """torch.hub's checkpoint cache folder: ``$TORCH_HOME/hub/checkpoints`` (read at call time)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


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
    """Where the weights file of ``(name, weights)`` is expected, and the URL it comes from.

    Args:
        name: torchvision model name, e.g. ``"vgg16"``, ``"vgg19"``, ``"resnet50"``.
        weights: weights enum member name, e.g. ``"IMAGENET1K_V1"``.

    Returns:
        ``(path in hub_checkpoint_dir(), url)``.

    Raises:
        UserError: unknown model or weights name.
    """
    member = _weights_enum(name, weights)
    url = member.url
    return hub_checkpoint_dir() / os.path.basename(url), url


def weights_available(name: str, weights: str) -> bool:
    """True when the weights file of ``(name, weights)`` is in the local torch.hub cache."""
    return weights_file(name, weights)[0].is_file()


def load_torchvision_backbone(
    name: str,
    weights: str = "IMAGENET1K_V1",
    random_weights: bool = False,
    weights_path: str | os.PathLike | None = None,
) -> nn.Module:
    """Build a torchvision model and load its pretrained weights from the local cache (no download).

    Args:
        name: ``"vgg16"``, ``"vgg19"``, ``"resnet18"``, ``"resnet50"``, ... (any ``torchvision.models`` name).
        weights: weights enum member, e.g. ``"IMAGENET1K_V1"`` (VGG, ResNet-18) or ``"IMAGENET1K_V2"``.
        random_weights: build with random initial weights instead (tests, timing); nothing is read.
        weights_path: an explicit ``.pth`` file instead of the torch.hub cache.

    Returns:
        The model in eval mode on the CPU, parameters with ``requires_grad`` unchanged (True).

    Raises:
        WeightsMissingError: the file is absent (message: file name, URL, folder) or unreadable.
        UserError: unknown model or weights name.
    """
    import torchvision.models as tvm

    if random_weights:
        try:
            return tvm.get_model(name, weights=None).eval()
        except ValueError:
            raise UserError(f"unknown torchvision model {name!r}") from None
    path, url = weights_file(name, weights)
    if weights_path is not None:
        path = Path(weights_path).expanduser()
    if not path.is_file():
        raise WeightsMissingError(
            f"pretrained {name} weights not found: {path.name} is missing from {path.parent}; "
            f"download {url} and put it in {path.parent}/ (or set TORCH_HOME)"
        )
    model = tvm.get_model(name, weights=None)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    except Exception as err:  # corrupt or foreign file: say which and how to fix it
        reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise WeightsMissingError(
            f"cannot load {name} weights from {path}: {reason}; re-download {url} into {path.parent}/"
        ) from None
    return model.eval()
