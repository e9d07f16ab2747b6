"""Train Learning-to-Paint's FCN (:class:`common.renderers.neural.FCNRenderer`) to imitate an analytic
renderer.

One trainer and one config schema for both neural renderers (Huang, Heng & Zhou 2019, Sec. 3.3: random
strokes, L2 to the analytic image, Adam 1e-4 -> 1e-5 -> 1e-6):

- ``stroke="oil"`` (CNP, ``compositor/train_renderer_FCN.py``): 5 shape parameters ``(x, y, w, h, theta)``
  -> ``(alpha, intensity, edge)`` from :func:`common.renderers.oil.oil_maps` / ``oil_edge`` (``edge=False``:
  2 channels).
- ``stroke="bezier13"`` (segpaint, ``segpaint/train.py``): 10 geometry parameters
  ``(x0, y0, x1, y1, x2, y2, r0, r2, t0, t2)`` with ``t0 = t2 = 1`` (opaque, as segpaint paints) -> alpha
  from :func:`common.renderers.bezier13.bezier13_alpha`.

Strokes are drawn uniformly in [0, 1]^D by a per-rank ``torch.Generator`` (stored in ``last.pt``, so a
resumed run continues the same stream). Every ``val_every`` steps the MSE on ``val_size`` held-out strokes
(a fixed generator, seed ``seed + 10_000``) decides ``best.pt`` and ``renderer_best.pt``.

Files in the output folder (:class:`common.training.TrainLoop`): ``config.json``, ``last.pt`` (resumable),
``best.pt``, ``renderer_last.pt`` and ``renderer_best.pt`` (fp16 weights, the file a method loads; the
shipped ones are ``checkpoints/cnp_renderer_fcn.pt`` and ``checkpoints/segpaint_renderer_bezier13.pt``),
``log.txt``. Stored config (every file): ``{"model": {"in_dim", "out_channels"}, "stroke", "channels",
"train": {FCNTrainConfig fields}}``; :meth:`FCNRenderer.from_config` also reads the older flat
``{"in_dim", "out_channels"}`` of the first segpaint checkpoint.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from common.device import DistributedContext
from common.fcn_config import STROKES, FCNTrainConfig
from common.renderers.neural import FCN_SIZE, FCNRenderer

__all__ = ["FCNTrainConfig", "STROKES", "lr_at", "sample_batch", "train_fcn_renderer", "validation_mse"]


def lr_at(step: int, cfg: FCNTrainConfig) -> float:
    """Learning-to-Paint schedule scaled to ``cfg.steps``: lr, lr/10 from 40 %, lr/100 from 80 %."""
    return cfg.lr * (1.0 if step < 0.4 * cfg.steps else 0.1 if step < 0.8 * cfg.steps else 0.01)


def sample_batch(cfg: FCNTrainConfig, n: int, generator: torch.Generator, device) -> tuple[torch.Tensor, ...]:
    """Random strokes and their analytic maps.

    Args:
        cfg: the stroke format (and ``edge``).
        n: strokes M.
        generator: CPU generator the strokes are drawn from (uniform in [0, 1]).
        device: where the returned tensors live.

    Returns:
        ``(params, target)``: ``(M, D)`` float32 in [0, 1] and ``(M, C, 128, 128)`` float32 in [0, 1]
        (channels as :attr:`FCNTrainConfig.channels`).
    """
    dim = STROKES[cfg.stroke][0]
    params = torch.rand((n, dim), generator=generator).to(device)
    with torch.no_grad():
        if cfg.stroke == "bezier13":
            params[:, 8:10] = 1.0  # opaque strokes, as segpaint renders them (t0 = t2 = 1)
            target = bezier13_target(params)
        else:
            target = oil_target(params, cfg.edge)
    return params, target


def oil_target(shape: torch.Tensor, edge: bool) -> torch.Tensor:
    """``(M, 5)`` oil shapes -> ``(M, 2 or 3, 128, 128)`` alpha, intensity (and edge) in [0, 1]."""
    from common.renderers.oil import oil_edge, oil_maps

    params = torch.cat([shape, torch.ones_like(shape[:, :3])], 1)[None]  # (1, M, 8), white: colour unused
    intensity, alpha = oil_maps(params, FCN_SIZE, FCN_SIZE)
    maps = [alpha[0], intensity[0]] + ([oil_edge(alpha[0])] if edge else [])
    return torch.stack(maps, 1)


def bezier13_target(params: torch.Tensor) -> torch.Tensor:
    """``(M, 10)`` bezier13 geometry -> ``(M, 1, 128, 128)`` alpha in [0, 1]."""
    from common.renderers.bezier13 import bezier13_alpha

    return bezier13_alpha(params[None], FCN_SIZE, FCN_SIZE)[0][:, None]


def train_fcn_renderer(
    cfg: FCNTrainConfig,
    out_dir: str | Path,
    ctx: DistributedContext | None = None,
    *,
    fresh: bool = False,
    export: str | Path | None = None,
    script: str = "common/renderers/neural_training.py",
) -> dict[str, Any]:
    """Train an FCN renderer with :class:`common.training.TrainLoop` (resumes from ``out_dir/last.pt``).

    Args:
        cfg: the run's config.
        out_dir: output folder (see the module docstring for its files).
        ctx: from :func:`common.device.init_distributed` (DDP when ``ctx.distributed``); default: one CPU
            process.
        fresh: move an earlier run in ``out_dir`` aside and start at step 0.
        export: also copy the final best (else last) fp16 renderer file here (rank 0).
        script: the entry script, for the provenance record.

    Returns:
        :meth:`TrainLoop.close`'s summary plus ``"val_mse"`` (the last validation, or None).
    """
    from common.training import TrainLoop

    ctx = ctx or DistributedContext()
    model = cfg.build_model().to(ctx.device)
    net = torch.nn.parallel.DistributedDataParallel(model) if ctx.distributed else model
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    data = torch.Generator().manual_seed(cfg.seed * 1000 + ctx.rank)
    config = {
        "model": model.config(),
        "stroke": cfg.stroke,
        "channels": list(cfg.channels),
        "train": asdict(cfg),
    }
    prov = {
        "script": script,
        "data": f"uniform random {cfg.stroke} strokes, analytic maps {FCN_SIZE}x{FCN_SIZE}",
        "device": str(ctx.device),
        "threads": torch.get_num_threads(),
    }
    loop = TrainLoop(
        out_dir,
        config=config,
        state={"model": net, "opt": opt, "data": data},
        max_steps=cfg.steps,
        max_minutes=cfg.max_minutes,
        save_every=cfg.save_every,
        best_metric="val_mse",
        best_mode="min",
        export_model=model,
        fresh=fresh,
        ctx=ctx,
        export_name="renderer",
        provenance=prov,
    )
    loop.resume()
    val = None
    if ctx.is_main and cfg.val_every:  # held-out strokes, the same in every run of this seed
        val = sample_batch(cfg, cfg.val_size, torch.Generator().manual_seed(cfg.seed + 10_000), ctx.device)
    for step in loop.steps():
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        params, target = sample_batch(cfg, cfg.batch_size, data, ctx.device)
        loss = torch.nn.functional.mse_loss(net(params), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loop.log(step, mse=loss.item(), lr=lr_at(step, cfg))
        if loop.due(step, every=cfg.val_every):
            loop.report(step, **({"val_mse": validation_mse(model, *val)} if ctx.is_main else {}))
    summary = loop.close()
    summary["val_mse"] = loop.metrics.get("val_mse")
    if export and ctx.is_main:
        from common.image_io import atomic_path

        src = Path(out_dir) / ("renderer_best.pt" if loop.best_step else "renderer_last.pt")
        with atomic_path(export) as tmp:
            shutil.copyfile(src, tmp)
        loop.print(f"exported {export} ({src.name}, step {loop.best_step or loop.step})")
    return summary


@torch.no_grad()
def validation_mse(model: FCNRenderer, params: torch.Tensor, target: torch.Tensor, chunk: int = 64) -> float:
    """Mean squared error of ``model(params)`` against ``target`` ((M, D), (M, C, 128, 128)), in chunks."""
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, len(params), chunk):
        total += torch.nn.functional.mse_loss(
            model(params[i : i + chunk]), target[i : i + chunk], reduction="sum"
        )
    model.train(was_training)
    return float(total) / target.numel()
