"""Training of the stippling network (the work behind ``stipple/train.py``; tests call it directly).

The step, loss and validation are the method's; resume, keep-best, rank-0 saving, agreed stopping and logging
are :class:`common.training.TrainLoop`'s. One process or DDP under torchrun; resumes from
``<checkpoint_dir>/last.pt``; keeps ``best.pt`` by the held-out tone PSNR (``val_tone_psnr``, dB: the
network's stipples with its own radii, rendered, blurred with sigma = dot spacing, against the gray input,
:func:`stipple.evaluate.tone_metrics`) and exports the shippable fp16 file ``stipple_net_best.pt``.
"""

from __future__ import annotations

import logging
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler

from common.checkpoint import save_checkpoint
from common.device import DistributedContext, seed_everything
from common.training import TrainLoop
from stipple.data import StippleDataset
from stipple.evaluate import tone_metrics
from stipple.inference import predict_stipples
from stipple.losses import LossWeights, stipple_losses
from stipple.model import StippleNet, StippleNetConfig

log = logging.getLogger("stipple.train")


@dataclass
class TrainConfig:
    """Training settings (the release's flags plus ours).

    epochs: passes over the data (the release's unit); steps = epochs * batches per epoch.
    val_data: a held-out dataset folder (its images only are used); None = no keep-best.
    val_every: steps between validations; val_points: stipples per validation image; val_scales: each
        validation image is also rendered at these multiples of its size (:func:`validate`).
    """

    data: str = ""
    epochs: int = 50
    batch_size: int = 8
    lr: float = 5e-4
    subset: int | None = None
    checkpoint_dir: str = "runs/stipple"
    max_minutes: float = 0.0
    save_every: int = 200  # steps
    val_data: str | None = None
    val_every: int = 100
    val_points: int = 1024
    val_scales: tuple[int, ...] = (1,)
    seed: int = 0
    workers: int = 0
    model: StippleNetConfig = field(default_factory=StippleNetConfig)
    loss: LossWeights = field(default_factory=LossWeights)


def validate(
    model: StippleNet, images: list[torch.Tensor], n_points: int, scales: tuple[int, ...] = (1,)
) -> float:
    """Mean tone PSNR (dB) of the network's stipples (own radii) over held-out images (1, 3, S, S), each
    also bilinearly upsampled by every factor in ``scales`` (rendered at that size: the network's input
    stays S / cell_px cells)."""
    import torch.nn.functional as F

    was = model.training
    model.eval()
    vals = []
    for im in images:
        for s in scales:
            big = im if s == 1 else F.interpolate(im, scale_factor=s, mode="bilinear", align_corners=False)
            big = big.clamp(0, 1)
            vals.append(tone_metrics(predict_stipples(model, big, n_points, calibrate=0), big)["tone_psnr"])
    model.train(was)
    return sum(vals) / max(1, len(vals))


def val_metric_name(scales: tuple[int, ...]) -> str:
    """``val_tone_psnr`` at scale 1 only, else ``val_tone_psnr_x1_2_4``: a run resumed with other validation
    scales starts its keep-best afresh (:class:`common.training.TrainLoop` restores a best figure of the
    same name only)."""
    return "val_tone_psnr" if tuple(scales) == (1,) else "val_tone_psnr_x" + "_".join(map(str, scales))


def write_export(
    path: Path, tag: str, metrics: dict, model: StippleNet, cfg: TrainConfig, n_data: int, loop: TrainLoop
) -> None:
    """The shipped file: fp16 weights, config, metrics and provenance, no optimizer state."""
    save_checkpoint(
        path,
        model_state=model.state_dict(),
        config={"model": cfg.model.to_dict()},
        step=loop.step,
        metrics=metrics,
        provenance={
            "data": cfg.data,
            "pairs": n_data,
            "val_data": cfg.val_data,
            "steps": loop.step,
            "wall_seconds": round(loop.wall_seconds(), 1),
            "hardware": f"{platform.machine()} {next(model.parameters()).device.type}, "
            f"world {loop.ctx.world_size}, {torch.get_num_threads()} thread(s)",
            "command": " ".join(sys.argv),
            "tag": tag,
        },
        half=True,
    )


def train(cfg: TrainConfig, ctx: DistributedContext, progress: bool = True, fresh: bool = False) -> dict:
    """Train (or resume) the network; returns the loop summary plus the last logged losses.

    Raises:
        UserError: a bad dataset folder; CheckpointError: an unreadable or mismatching last.pt.
    """
    seed_everything(cfg.seed + ctx.rank)
    dataset = StippleDataset(
        cfg.data, cfg.model.image_size, cfg.model.points, cfg.subset, augment=True, seed=cfg.seed + ctx.rank
    )
    val_images = []
    if cfg.val_data:
        val = StippleDataset(cfg.val_data, cfg.model.image_size, 1)
        val_images = [val[i]["image"][None] for i in range(len(val))]
    model = StippleNet(cfg.model).to(ctx.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, amsgrad=True)
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
    per_epoch = max(1, len(loader))
    loop = TrainLoop(
        Path(cfg.checkpoint_dir),
        config=cfg,
        state={"model": model, "opt": opt, "data_gen": gen},
        max_steps=cfg.epochs * per_epoch,
        max_minutes=cfg.max_minutes,
        save_every=cfg.save_every,
        best_metric=val_metric_name(cfg.val_scales) if val_images else None,
        best_mode="max",
        export=(lambda path, tag, metrics: write_export(path, tag, metrics, model, cfg, len(dataset), loop)),
        export_name="stipple_net",
        fresh=fresh,
        ctx=ctx,
        progress=progress,
        provenance={"data": cfg.data, "pairs": len(dataset), "val_data": cfg.val_data},
    )
    start = loop.resume()
    for group in opt.param_groups:  # a resumed run takes the command's --lr (Adam's moments are kept)
        group["lr"] = cfg.lr
    last: dict[str, float] = {}
    batches = iter(())
    epoch = -1
    for step in loop.steps():
        if step // per_epoch != epoch:
            epoch = step // per_epoch
            if sampler is not None:
                sampler.set_epoch(epoch)
            batches = iter(loader)
            for _ in range(step % per_epoch if step == start else 0):  # resume mid-epoch
                next(batches)
        batch = next(batches)
        ddp.train()
        image = batch["image"].to(ctx.device)
        shift = tuple(torch.randint(1 << 16, (2,)).tolist())  # a new window of the blue-noise slot pattern
        out = ddp(image, None, shift)
        losses = stipple_losses(
            out,
            image,
            batch["points"].to(ctx.device),
            batch["mask"].to(ctx.device),
            cfg.loss,
            batch["radii"].to(ctx.device),
        )
        opt.zero_grad(set_to_none=True)
        losses["total"].backward()
        opt.step()
        last = {k: float(v.detach()) for k, v in losses.items()}
        loop.log(step, **last)
        if val_images and loop.due(step, every=cfg.val_every):
            val = validate(model, val_images, cfg.val_points, cfg.val_scales)
            loop.report(step, **{val_metric_name(cfg.val_scales): val}, steps_done=step + 1)
    summary = loop.close()
    return {**summary, **last}
