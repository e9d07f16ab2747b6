"""Train the neural bezier13 renderer (Learning to Paint's FCN) to imitate the analytic renderer.

    python segpaint/train.py --output_dir runs/segpaint_renderer --steps 500000
    python segpaint/train.py --output_dir runs/r --steps 2000 --batch_size 64 --max_minutes 10
    torchrun --nproc_per_node=2 segpaint/train.py --output_dir runs/r          # DDP
    python segpaint/train.py --output_dir runs/r --export checkpoints/segpaint_renderer_bezier13.pt

Data: uniform random strokes in [0, 1]^10 (LtP's renderer training), targets from
``common.renderers.bezier13.bezier13_alpha`` on a 128 x 128 patch. Loss: MSE. Adam, lr 1e-4, divided by 10 at
40% and 80% of --steps (LtP: 1e-4 -> 1e-5 at 200k -> 1e-6 at 400k of 500k). The run resumes from
``<output_dir>/last.pt`` and writes its resolved config to ``<output_dir>/config.json``; ``--export`` writes
the last weights in fp16 with provenance (the file --renderer neural loads).
"""

from __future__ import annotations

import sys
import time


def build_parser():
    from common.cli import ArgumentParser, add_common_args, positive_float, positive_int

    parser = ArgumentParser(description=__doc__)
    add_common_args(parser, output_dir_default="runs/segpaint_renderer")
    parser.add_argument("--steps", type=positive_int, default=500_000, help="total optimiser steps")
    parser.add_argument("--batch_size", type=positive_int, default=64, help="strokes per step (per process)")
    parser.add_argument("--lr", type=positive_float, default=1e-4, help="initial learning rate")
    parser.add_argument("--max_minutes", type=positive_float, default=None, help="stop (and save) after this")
    parser.add_argument("--save_every", type=positive_int, default=200, help="checkpoint every N steps")
    parser.add_argument(
        "--export", default=None, help="also write the weights (fp16) to this file at the end"
    )
    return parser


def lr_at(step: int, total: int, base: float) -> float:
    """LtP schedule: base, base/10 from 40% of the steps, base/100 from 80%."""
    return base * (1.0 if step < 0.4 * total else 0.1 if step < 0.8 * total else 0.01)


def sample_batch(n: int, generator, device):
    """(n, 10) uniform stroke geometry and its (n, 1, 128, 128) analytic alpha."""
    import torch

    from common.renderers.bezier13 import bezier13_alpha

    params = torch.rand((n, 10), generator=generator).to(device)
    params[:, 8:10] = 1.0  # opaque strokes, as segpaint renders them (t0 = t2 = 1)
    with torch.no_grad():
        alpha = bezier13_alpha(params[None], 128, 128)[0][:, None]
    return params, alpha


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    import torch
    from torch.nn.parallel import DistributedDataParallel as DDP

    from common.checkpoint import load_checkpoint, load_model_state, save_checkpoint
    from common.cli import prepare_output_dir
    from common.device import cleanup_distributed, init_distributed, seed_everything, unwrap_model
    from common.image_io import save_json
    from common.renderers.neural import FCNRenderer

    ctx = init_distributed(args.device)
    out = prepare_output_dir(args.output_dir)
    seed_everything(args.seed + ctx.rank)
    model = FCNRenderer(10).to(ctx.device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    step, last = 0, out / "last.pt"
    if last.exists():
        ck = load_checkpoint(last, map_location=ctx.device)
        load_model_state(model, ck["model"])
        if ck["optimizer"]:
            opt.load_state_dict(ck["optimizer"])
        step = int(ck["step"])
        print(f"resumed from {last} at step {step}")
    if ctx.is_main:
        save_json(vars(args), out / "config.json")
    net = DDP(model) if ctx.world_size > 1 else model
    gen = torch.Generator().manual_seed(args.seed * 1000 + ctx.rank + step)
    start, loss_avg = time.time(), None

    def save(path, half=False):
        save_checkpoint(
            path,
            model_state=unwrap_model(net).state_dict(),
            config=model.config(),
            step=step,
            metrics={"mse": loss_avg},
            optimizer_state=None if half else opt.state_dict(),
            half=half,
            provenance={
                "data": "uniform random bezier13 strokes, analytic alpha 128x128",
                "command": "segpaint/train.py " + " ".join(sys.argv[1:] if argv is None else argv),
                "seconds": round(time.time() - start, 1),
                "world_size": ctx.world_size,
            },
        )

    while step < args.steps:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr)
        params, alpha = sample_batch(args.batch_size, gen, ctx.device)
        loss = torch.nn.functional.mse_loss(net(params), alpha)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
        if ctx.is_main and step % 50 == 0:
            print(
                f"step {step} mse {loss_avg:.5f} lr {opt.param_groups[0]['lr']:.1e} "
                f"{time.time() - start:.0f}s",
                flush=True,
            )
        timeout = args.max_minutes is not None and time.time() - start > 60 * args.max_minutes
        if ctx.is_main and (step % args.save_every == 0 or step == args.steps or timeout):
            save(last)
        if timeout:
            break
    if ctx.is_main:
        save(last)
        if args.export:
            save(args.export, half=True)
            print(f"exported {args.export} (step {step}, mse {loss_avg:.5f})")
    cleanup_distributed()


if __name__ == "__main__":
    from common.cli import run_main

    run_main(main)
