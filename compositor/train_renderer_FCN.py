"""Train the neural FCN oil-stroke renderer: 5 shape parameters -> alpha, intensity (and edge) maps at 128.

    python compositor/train_renderer_FCN.py                          # 3 channels: alpha, intensity, edge
    python compositor/train_renderer_FCN.py --steps 500000 --batch_size 64 --output_dir runs/fcn
    python compositor/train_renderer_FCN.py --no_edge                # 2 channels (alpha, intensity)
    torchrun --nproc_per_node=2 compositor/train_renderer_FCN.py

It imitates the analytic ``oil`` renderer (common/renderers/oil.py) on random strokes
(x, y, w, h, theta) ~ U[0, 1]^5 with an L2 loss on every channel, Learning-to-Paint's schedule
(lr 1e-4, 1e-5 from 40 % of the steps, 1e-6 from 80 %: 200k/400k of LtP's 500k). Writes into
--output_dir: last.pt (resumable), renderer.pt (fp16 weights; shipped as checkpoints/cnp_renderer_fcn.pt)
and config.json; running again resumes.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from common.cli import (
    ArgumentParser,
    add_common_args,
    non_negative_float,
    positive_int,
    prepare_output_dir,
    run_main,
)


@dataclass
class FCNTrainConfig:
    steps: int = 500_000  # [LtP 500k; CNP paper 1M]
    batch_size: int = 64  # [LtP 64; CNP 32]
    lr: float = 1e-4
    edge: bool = True
    save_every: int = 200
    max_minutes: float = 0.0
    seed: int = 0


def lr_at(step: int, cfg: FCNTrainConfig) -> float:
    """Learning-to-Paint schedule scaled to ``cfg.steps``: lr, lr/10 after 40 %, lr/100 after 80 %."""
    if step < 0.4 * cfg.steps:
        return cfg.lr
    if step < 0.8 * cfg.steps:
        return cfg.lr * 0.1
    return cfg.lr * 0.01


def targets(shape_params, edge: bool):
    """Ground-truth maps from the analytic renderer: (M, 5) -> (M, 2 or 3, 128, 128) in [0, 1]."""
    import torch

    from common.renderers.oil import oil_edge, oil_maps

    params = torch.cat([shape_params, torch.ones_like(shape_params[:, :3])], 1)[None]  # (1, M, 8)
    intensity, alpha = oil_maps(params, 128, 128)
    maps = [alpha[0], intensity[0]]
    if edge:
        maps.append(oil_edge(alpha[0]))
    return torch.stack(maps, 1)


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    add_common_args(parser, output_dir_default="runs/fcn")
    parser.add_argument("--steps", type=positive_int, default=FCNTrainConfig.steps)
    parser.add_argument("--batch_size", type=positive_int, default=FCNTrainConfig.batch_size)
    parser.add_argument("--lr", type=non_negative_float, default=FCNTrainConfig.lr)
    parser.add_argument("--no_edge", action="store_true", help="2 output channels (no stroke-edge map)")
    parser.add_argument("--save_every", type=positive_int, default=FCNTrainConfig.save_every)
    parser.add_argument(
        "--max_minutes", type=non_negative_float, default=0.0, help="wall-time limit (0: none)"
    )
    parser.add_argument("--threads", type=positive_int, default=None)
    args = parser.parse_args(argv)
    import torch

    from common.checkpoint import load_checkpoint, load_model_state, save_checkpoint
    from common.device import cleanup_distributed, init_distributed, unwrap_model
    from common.renderers.neural import FCNRenderer

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = FCNTrainConfig(
        args.steps, args.batch_size, args.lr, not args.no_edge, args.save_every, args.max_minutes, args.seed
    )
    out_dir = prepare_output_dir(args.output_dir)
    ctx = init_distributed(args.device)
    torch.manual_seed(cfg.seed + ctx.rank)
    model = FCNRenderer(5, 3 if cfg.edge else 2).to(ctx.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step, last = 0, out_dir / "last.pt"
    if last.is_file():
        ckpt = load_checkpoint(last)
        load_model_state(model, ckpt)
        opt.load_state_dict(ckpt["optimizer"])
        step = ckpt["step"]
        torch.manual_seed(cfg.seed + ctx.rank + step)
        if ctx.is_main:
            print(f"resumed from {last} at step {step}", flush=True)
    net = torch.nn.parallel.DistributedDataParallel(model) if ctx.distributed else model
    start, running, n = time.time(), 0.0, 0
    config = {
        "model": model.config(),
        "train": asdict(cfg),
        "channels": ["alpha", "intensity", "edge"][: model.out_channels],
    }
    try:
        while step < cfg.steps:
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg)
            shape = torch.rand(cfg.batch_size, 5, device=ctx.device)
            with torch.no_grad():
                gt = targets(shape, cfg.edge)
            loss = torch.nn.functional.mse_loss(net(shape), gt)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            running, n = running + loss.item(), n + 1
            out_of_time = cfg.max_minutes > 0 and time.time() - start > cfg.max_minutes * 60
            if step % cfg.save_every == 0 or step >= cfg.steps or out_of_time:
                metrics = {
                    "l2": running / n,
                    "lr": lr_at(step - 1, cfg),
                    "wall_s": round(time.time() - start, 1),
                }
                running, n = 0.0, 0
                if ctx.is_main:
                    print(
                        f"step {step}  l2 {metrics['l2']:.5f}  lr {metrics['lr']:.0e}  {metrics['wall_s']} s",
                        flush=True,
                    )
                    prov = {"script": "compositor/train_renderer_FCN.py", "config": asdict(cfg)}
                    state = unwrap_model(net).state_dict()
                    save_checkpoint(
                        last,
                        model_state=state,
                        config=config,
                        step=step,
                        metrics=metrics,
                        provenance=prov,
                        optimizer_state=opt.state_dict(),
                    )
                    save_checkpoint(
                        out_dir / "renderer.pt",
                        model_state=state,
                        config=config,
                        step=step,
                        metrics=metrics,
                        provenance=prov,
                        half=True,
                    )
                    (out_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
            if out_of_time:
                break
    finally:
        cleanup_distributed()
    return 0


if __name__ == "__main__":
    run_main(main)
