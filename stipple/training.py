"""Training loop of the stippling network (the work behind ``stipple/train.py``; tests call it directly).

One process or DDP under torchrun; resumes from ``<checkpoint_dir>/last.pt``; writes the resolved config to
``<checkpoint_dir>/config.json``; stops after ``epochs`` or ``max_minutes``.
"""

from __future__ import annotations

import logging
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler

from common.checkpoint import load_checkpoint, load_model_state, save_checkpoint
from common.device import DistributedContext, seed_everything, unwrap_model
from common.errors import WeightsMissingError
from common.image_io import save_json
from stipple.data import StippleDataset
from stipple.losses import LossWeights, stipple_losses
from stipple.model import StippleNet, StippleNetConfig

log = logging.getLogger("stipple.train")


@dataclass
class TrainConfig:
    """Training settings (the release's flags plus ours)."""

    data: str = ""
    epochs: int = 50
    batch_size: int = 8
    lr: float = 5e-4
    subset: int | None = None
    checkpoint_dir: str = "runs/stipple"
    max_minutes: float | None = None
    save_every: int = 1  # epochs
    seed: int = 0
    workers: int = 0
    model: StippleNetConfig = field(default_factory=StippleNetConfig)
    loss: LossWeights = field(default_factory=LossWeights)


def build_model(cfg: StippleNetConfig) -> tuple[StippleNet, StippleNetConfig, str | None]:
    """Build the network; a missing pretrained ResNet switches to the offline path (trainable encoder
    from random initialisation) and returns the reason, which the caller logs and records."""
    try:
        return StippleNet(cfg), cfg, None
    except WeightsMissingError as err:
        offline = StippleNetConfig(**{**asdict(cfg), "encoder_trainable": True})
        reason = f"{err}; offline path: training the {cfg.encoder} encoder from random initialisation"
        return StippleNet(offline, random_weights=True), offline, reason


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def train(cfg: TrainConfig, ctx: DistributedContext, progress: bool = True) -> dict:
    """Train (or resume) and return the last epoch's mean losses.

    Raises:
        UserError: a bad dataset folder; CheckpointError: an unreadable checkpoint to resume from.
    """
    seed_everything(cfg.seed + ctx.rank)
    out_dir = Path(cfg.checkpoint_dir)
    dataset = StippleDataset(cfg.data, cfg.model.image_size, cfg.model.points, cfg.subset)
    model, model_cfg, offline = build_model(cfg.model)
    cfg.model = model_cfg
    if offline and ctx.is_main:
        log.warning(offline)
    model.to(ctx.device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr, amsgrad=True)
    start_epoch, step, wall_before = 0, 0, 0.0
    last = out_dir / "last.pt"
    if last.is_file():
        ckpt = load_checkpoint(last, map_location="cpu")
        load_model_state(model, ckpt["model"])
        if ckpt["optimizer"] is not None:
            opt.load_state_dict(ckpt["optimizer"])
        start_epoch, step = ckpt["extra"]["epoch"], ckpt["step"]
        wall_before = ckpt["extra"].get("wall_seconds", 0.0)
        if ctx.is_main:
            log.info("resumed from %s at epoch %d, step %d", last, start_epoch, step)
    ddp = model
    if ctx.distributed:
        ddp = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device] if ctx.device.type == "cuda" else None
        )
    sampler = (
        DistributedSampler(dataset, ctx.world_size, ctx.rank, shuffle=True, seed=cfg.seed)
        if ctx.distributed
        else None
    )
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        num_workers=cfg.workers,
        drop_last=len(dataset) > cfg.batch_size,
        generator=gen,
    )
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_json(asdict(cfg), out_dir / "config.json")
    t0 = time.time()
    means: dict = {}
    epoch = start_epoch
    for epoch in range(start_epoch, cfg.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        ddp.train()
        sums: dict[str, float] = {}
        batches = 0
        it = loader
        if progress and ctx.is_main:
            from tqdm import tqdm

            it = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False)
        for batch in it:
            image = batch["image"].to(ctx.device)
            out = ddp(image)
            losses = stipple_losses(
                out, image, batch["points"].to(ctx.device), batch["mask"].to(ctx.device), cfg.loss
            )
            opt.zero_grad(set_to_none=True)
            losses["total"].backward()
            opt.step()
            step += 1
            batches += 1
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
        means = {k: v / max(batches, 1) for k, v in sums.items()}
        if ctx.is_main:
            log.info(
                "epoch %d step %d %s", epoch + 1, step, " ".join(f"{k}={v:.4f}" for k, v in means.items())
            )
        out_of_time = cfg.max_minutes is not None and (time.time() - t0) / 60 > cfg.max_minutes
        if ctx.is_main and ((epoch + 1) % cfg.save_every == 0 or epoch + 1 == cfg.epochs or out_of_time):
            _save(
                last,
                model,
                opt,
                cfg,
                epoch + 1,
                step,
                means,
                wall_before + time.time() - t0,
                offline,
                len(dataset),
                ctx,
            )
        if out_of_time:
            if ctx.is_main:
                log.info("stopping: --max_minutes %.1f reached after epoch %d", cfg.max_minutes, epoch + 1)
            break
    return means


def _save(path, model, opt, cfg, epoch, step, metrics, wall, offline, n_data, ctx, half=False) -> None:
    provenance = {
        "data": str(cfg.data),
        "pairs": n_data,
        "epochs": epoch,
        "steps": step,
        "wall_seconds": round(wall, 1),
        "hardware": f"{platform.machine()} {ctx.device.type}, world {ctx.world_size}",
        "command": " ".join(sys.argv),
        "git": _git_commit(),
        "offline_encoder": offline,
    }
    save_checkpoint(
        path,
        model_state=unwrap_model(model).state_dict(),
        config=asdict(cfg),
        step=step,
        metrics=metrics,
        provenance=provenance,
        optimizer_state=opt.state_dict(),
        extra={"epoch": epoch, "wall_seconds": wall},
        half=half,
    )


def export_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Write a shippable copy of a training checkpoint: fp16 weights, no optimizer state."""
    ckpt = load_checkpoint(src)
    return save_checkpoint(
        dst,
        model_state=ckpt["model"],
        config=ckpt["config"],
        step=ckpt["step"],
        metrics=ckpt["metrics"],
        provenance=ckpt["provenance"],
        extra=ckpt["extra"],
        half=True,
    )
