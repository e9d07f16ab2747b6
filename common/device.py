"""Device choice, CPU thread policy, seeding, autocast and torchrun/DDP set-up, in one place.

A script picks its device once (``get_device(args.device)``) and everything else follows the tensors
(``x.device``). Nothing here runs at import time.

The CPU thread policy (:func:`configure_threads` and friends) lives in the torch-free
:mod:`common.threads`, so that ``common.cli`` can apply it right after parsing the flags without importing
torch; it is re-exported here. Every entry script gets it through ``common.cli.ArgumentParser``.
"""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import numpy as np
import torch

from common.errors import UserError
from common.threads import (
    ThreadChoice,
    choose_threads,
    configure_threads,
    last_thread_choice,
    load_average,
    other_runnable_tasks,
    recheck_threads,
    usable_cpus,
)

__all__ = [
    "get_device",
    "ThreadChoice",
    "usable_cpus",
    "other_runnable_tasks",
    "load_average",
    "choose_threads",
    "configure_threads",
    "recheck_threads",
    "last_thread_choice",
    "seed_everything",
    "autocast",
    "DistributedContext",
    "init_distributed",
    "cleanup_distributed",
    "unwrap_model",
    "require_single_process",
]


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def get_device(name: str = "auto") -> torch.device:
    """Return the compute device for ``name``.

    Args:
        name: ``"auto"`` (cuda if available, else mps, else cpu), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or
            ``"mps"``.

    Raises:
        UserError: an unknown name, or cuda/mps asked for but not available on this machine.
    """
    _set_interop_threads()
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(
                "--device cuda was asked for but CUDA is not available (use --device cpu or auto)"
            )
        try:
            device = torch.device(name)
        except RuntimeError:
            raise UserError(f"invalid device name: {name!r}") from None
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"{name} asked for but only {torch.cuda.device_count()} CUDA device(s) exist")
        return device
    if name == "mps":
        if not _mps_available():
            raise UserError("--device mps was asked for but MPS is not available (use --device cpu or auto)")
        return torch.device("mps")
    raise UserError(f"unknown device {name!r} (expected auto, cpu, cuda or mps)")


def _set_interop_threads() -> None:
    """One inter-op thread (the policy of :mod:`common.threads`); torch allows it only before inter-op work
    has started, so a later call is a silent no-op."""
    if torch.get_num_interop_threads() != 1:
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and every CUDA device).

    The same seed on the same device gives the same result; bitwise equality across devices is not promised.
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def autocast(device: torch.device | str, enabled: bool = True, dtype: torch.dtype | None = None):
    """Mixed-precision context for ``device``: ``torch.autocast`` on CUDA, a no-op ``nullcontext`` elsewhere.

    Args:
        device: the device the computation runs on.
        enabled: ``False`` gives a no-op context everywhere.
        dtype: autocast dtype on CUDA (default float16).
    """
    device = torch.device(device)
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype or torch.float16)


@dataclass
class DistributedContext:
    """Where this process sits in a (possibly single-process) run.

    Attributes:
        rank: global rank, 0 without torchrun.
        world_size: number of processes, 1 without torchrun.
        local_rank: rank on this node, 0 without torchrun.
        device: the device this process computes on.
        distributed: True when ``torch.distributed`` was initialised by :func:`init_distributed`.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    distributed: bool = False

    @property
    def is_main(self) -> bool:
        """True on the process that logs and writes checkpoints (rank 0)."""
        return self.rank == 0


def init_distributed(device: str = "auto") -> DistributedContext:
    """Set up DDP when launched by ``torchrun`` (``RANK``/``WORLD_SIZE`` set), else a single process.

    Under torchrun with CUDA, each process uses ``cuda:LOCAL_RANK`` and the NCCL backend; on CPU, gloo.

    Args:
        device: ``--device`` value, see :func:`get_device`.

    Returns:
        A :class:`DistributedContext`. Call :func:`cleanup_distributed` at the end of the script.
    """
    base = get_device(device)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistributedContext(device=base)
    rank = int(os.environ["RANK"])
    world_size = int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if base.type == "cuda":
        dev = torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
        torch.cuda.set_device(dev)
        backend = "nccl"
    else:
        dev = base
        backend = "gloo"
    import torch.distributed as dist

    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistributedContext(rank, world_size, local_rank, dev, distributed=world_size > 1)


def require_single_process(what: str, why: str) -> None:
    """Refuse a multi-process launch (``torchrun``, ``WORLD_SIZE > 1``) before anything is set up or written.

    Args:
        what: the program, e.g. ``"compositor training"``.
        why: the reason, e.g. ``"its DDPG networks are not synchronised across ranks"``.

    Raises:
        UserError: on rank 0, ``"<what> runs on one process (<why>): run it without torchrun"`` (the one line
            the user sees); other ranks leave with ``SystemExit(2)`` and print nothing.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    if int(os.environ.get("RANK", "0")) != 0:
        raise SystemExit(2)
    raise UserError(f"{what} runs on one process ({why}): run it without torchrun")


def cleanup_distributed() -> None:
    """Destroy the process group if one was initialised (safe to call without torchrun)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """Return the plain module under DDP/DataParallel (``.module``) and ``torch.compile`` (``._orig_mod``)."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, torch.nn.parallel.DistributedDataParallel | torch.nn.DataParallel):
            model = model.module
        else:
            return model
