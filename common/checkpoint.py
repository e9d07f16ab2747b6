"""One self-describing checkpoint file: weights + config + step + metrics + provenance.

Layout of the file (a ``torch.save`` dict, loadable with ``weights_only=True``)::

    {"strokelab_checkpoint": 1, "model": state_dict, "config": {...}, "step": int, "metrics": {...},
     "provenance": {...}, "optimizer": state_dict or None, "extra": {...} or None, "half": bool,
     "saved": {"time_utc": "...", "torch": "2.x"}}

The model is rebuilt from ``config`` by its owner (``Model(**ckpt["config"])``) and filled with
:func:`load_model_state`, which is strict and casts fp16-stored weights back to the model's dtype.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.errors import CheckpointError

__all__ = ["save_checkpoint", "load_checkpoint", "load_model_state", "default_checkpoint", "CHECKPOINT_KEYS"]

_MARK = "strokelab_checkpoint"
#: Keys of the dict returned by :func:`load_checkpoint`.
CHECKPOINT_KEYS = ("model", "config", "step", "metrics", "provenance", "optimizer", "extra")


def _plain(obj: Any) -> Any:
    """Convert to types ``torch.load(weights_only=True)`` accepts (dict/list/tuple/str/number/None/Tensor)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _plain(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {(k if isinstance(k, str | int) else str(k)): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_plain(v) for v in obj) if isinstance(obj, list) else tuple(_plain(v) for v in obj)
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return str(obj)
    if isinstance(obj, torch.device | torch.dtype):
        return str(obj)
    if obj is None or isinstance(obj, bool):
        return obj
    for kind in (str, int, float):  # plain types: subclasses (e.g. torch.__version__) fail weights_only
        if isinstance(obj, kind):
            return kind(obj)
    raise TypeError(
        f"cannot store {type(obj).__name__} in a checkpoint (use plain dict/list/str/number/tensor)"
    )


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model_state: Mapping[str, torch.Tensor],
    config: Mapping[str, Any],
    step: int,
    metrics: Mapping[str, Any],
    provenance: Mapping[str, Any],
    optimizer_state: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Write one checkpoint file atomically (temporary name, then rename).

    Args:
        path: output file (``.pt``); the parent folder is created.
        model_state: ``model.state_dict()`` (unwrap DDP/compile first, see ``common.device.unwrap_model``).
        config: everything needed to rebuild the model (a dict or dataclass of plain values).
        step: training step (or epoch) reached.
        metrics: final/latest losses, e.g. ``{"l1": 0.012}``.
        provenance: how it was made: data, command, wall time, hardware, git commit...
        optimizer_state: ``optimizer.state_dict()`` for resuming, or None (leave out of shipped files).
        extra: anything else plain (e.g. scheduler state, RNG state as tensors).
        half: store floating-point weights of ``model_state`` as float16 (halves the file size).

    Returns:
        ``Path(path)``.

    Raises:
        TypeError: a value that ``weights_only`` loading could not read back (e.g. an arbitrary object).
        OutputDirError: the folder cannot be written.
    """
    from common.image_io import atomic_path

    state = {}
    for key, value in model_state.items():
        value = value.detach().cpu()
        if half and value.is_floating_point():
            value = value.half()
        state[key] = value.clone()  # own storage: a view would save its whole base tensor
    payload = {
        _MARK: 1,
        "model": state,
        "config": _plain(dict(config) if not dataclasses.is_dataclass(config) else config),
        "step": int(step),
        "metrics": _plain(dict(metrics)),
        "provenance": _plain(dict(provenance)),
        "optimizer": _plain(optimizer_state) if optimizer_state is not None else None,
        "extra": _plain(dict(extra)) if extra is not None else None,
        "half": bool(half),
        "saved": {
            "time_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "torch": str(torch.__version__),
        },
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu", hint: str | None = None
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no code is unpickled).

    Args:
        path: the checkpoint file.
        map_location: device for the tensors.
        hint: appended to the not-found message, e.g. ``"train one with: python segpaint/train.py"``.

    Returns:
        Dict with keys ``model, config, step, metrics, provenance, optimizer, extra`` (plus ``half`` and
        ``saved``). ``model`` tensors may be float16 when the file was saved with ``half=True``.

    Raises:
        CheckpointError: the file is missing, unreadable/corrupt, or not a StrokeLab checkpoint.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        expected = "a StrokeLab checkpoint .pt file" + (f"; {hint}" if hint else "")
        raise CheckpointError(f"checkpoint not found: {p} (expected {expected})")
    try:
        with warnings.catch_warnings():  # random bytes read as a pickle protocol number warn first
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(p, map_location=map_location, weights_only=True)
    except MemoryError:
        raise CheckpointError(f"cannot read checkpoint {p}: corrupt (claims too much memory)") from None
    except Exception as err:  # noqa: BLE001 - a foreign or corrupt file fails in many ways (KeyError,
        # IndexError, UnicodeDecodeError, UnpicklingError, zip errors...): all mean "not a checkpoint"
        text = str(err).strip()
        if isinstance(err, (pickle.UnpicklingError, KeyError, IndexError, UnicodeDecodeError)) or (
            "Weights only load failed" in text
        ):
            reason = "corrupt, not a torch file, or holds objects that weights_only=True refuses"
        else:
            reason = text.splitlines()[0] if text else type(err).__name__
        raise CheckpointError(f"cannot read checkpoint {p}: {reason[:200]}") from None
    if not isinstance(payload, dict) or _MARK not in payload or not isinstance(payload.get("model"), dict):
        raise CheckpointError(
            f"not a StrokeLab checkpoint: {p} (no config/model record; was it saved elsewhere?)"
        )
    out = {key: payload.get(key) for key in CHECKPOINT_KEYS}
    out["config"] = out["config"] or {}
    out["metrics"] = out["metrics"] or {}
    out["provenance"] = out["provenance"] or {}
    out["half"] = bool(payload.get("half", False))
    out["saved"] = payload.get("saved", {})
    return out


def _strip_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state = dict(state)
    for prefix in ("module.", "_orig_mod."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def load_model_state(model: torch.nn.Module, state: Mapping[str, Any]) -> torch.nn.Module:
    """Copy weights into ``model`` strictly, casting each tensor to the dtype/device of the model's own.

    Args:
        model: the rebuilt model (DDP/compile wrappers are looked through).
        state: a state dict, or the whole dict returned by :func:`load_checkpoint` (its ``"model"`` is used).
            ``module.``/``_orig_mod.`` prefixes on every key are removed.

    Returns:
        ``model`` (for chaining).

    Raises:
        CheckpointError: missing or unexpected keys, or a shape mismatch; the message names a few of them.
    """
    from common.device import unwrap_model

    if "model" in state and isinstance(state.get("model"), Mapping) and "config" in state:
        state = state["model"]
    model_plain = unwrap_model(model)
    state = _strip_prefix(state)
    own = model_plain.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s) e.g. {', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s) e.g. {', '.join(unexpected[:3])}")
        raise CheckpointError(f"checkpoint does not match {type(model_plain).__name__}: {'; '.join(parts)}")
    cast = {}
    for key, ref in own.items():
        value = state[key]
        if tuple(value.shape) != tuple(ref.shape):
            raise CheckpointError(
                f"checkpoint does not match {type(model_plain).__name__}: {key} is {tuple(value.shape)}, "
                f"model expects {tuple(ref.shape)} (was it trained with another config?)"
            )
        cast[key] = (
            value.to(device=ref.device, dtype=ref.dtype) if ref.is_floating_point() else value.to(ref.device)
        )
    model_plain.load_state_dict(cast, strict=True)
    return model


def default_checkpoint(name: str) -> Path:
    """Path of a shipped checkpoint: ``<repo>/checkpoints/<name>``, found from the ``common`` package location
    (never from the working directory). The file may not exist; :func:`load_checkpoint` reports that."""
    return Path(__file__).resolve().parent.parent / "checkpoints" / name
