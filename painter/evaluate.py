"""Held-out evaluation of a CNP painter: does it keep refining a patch call after call?

Shape letters: B batch (crops), N strokes per call (5), P = 8 ``oil`` parameters, S patch side.

Used by ``painter/train.py`` (keep-best validation), the diagnosis in ``painter/README.md``
(``python -m painter.evaluate``) and ``tests/cnp/test_painter_refines.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported by the functions that use it (``python -m painter.evaluate --help``)
    import torch


def val_crops(size: int, count: int = 32, seed: int = 12345) -> torch.Tensor:
    """Fixed held-out crops: (count, 3, size, size) float in [0, 1] from ``painter.data.VAL_OPENCV``.

    Raises:
        whatever :func:`common.debian_data.opencv_doc_photos` raises when the photos cannot be had.
    """
    from painter.data import VAL_OPENCV, CropSampler, load_opencv_photos

    photos = load_opencv_photos(VAL_OPENCV)
    return CropSampler(photos, size=size, seed=seed).sample(count)


def rollout_curve(
    painter, targets: torch.Tensor, calls: int = 40, canvas: torch.Tensor | None = None
) -> dict:
    """Paint ``targets`` from black (or ``canvas``) with ``calls`` painter calls and record, per call:

    - ``mse``: (calls,) mean squared error (sRGB in [0, 1]) after k = 1..calls calls;
    - ``size``: (calls,) mean stroke side ``sqrt(w * h)`` (fraction of the patch side);
    - ``colour_err``: (calls,) mean absolute difference between a stroke's RGB and the mean target
      colour under its alpha (sRGB in [0, 1]): is the painter picking the colour it paints over?
    - ``coverage``: (calls,) mean alpha coverage of the call's strokes (fraction of the patch).

    Args:
        painter: callable (target, canvas) -> (B, N, 8) strokes (a :class:`painter.model.Painter`).
        targets: (B, 3, S, S) in [0, 1].
        calls: painter calls. canvas: start canvas (B, 3, S, S), default black.

    Returns:
        dict of python lists as above plus ``canvas`` (the final (B, 3, S, S) tensor).
    """
    import torch
    import torch.nn.functional as F

    from common.renderers.oil import oil_maps, render_oil

    with torch.no_grad():
        canvas = torch.zeros_like(targets) if canvas is None else canvas.clone()
        s = targets.shape[-1]
        out = {"mse": [], "size": [], "colour_err": [], "coverage": []}
        for k in range(calls):
            strokes = _call(painter, targets, canvas, k, calls)
            _, alpha = oil_maps(strokes, s, s)  # (B, N, S, S)
            mass = alpha.sum((-1, -2)).clamp_min(1e-6)
            under = torch.einsum("bnhw,bchw->bnc", alpha, targets) / mass[..., None]  # (B, N, 3)
            out["colour_err"].append((strokes[..., 5:8] - under).abs().mean().item())
            out["size"].append((strokes[..., 2] * strokes[..., 3]).clamp_min(0).sqrt().mean().item())
            out["coverage"].append(alpha.mean().item())
            canvas = render_oil(strokes, canvas, use_boxes=False).clamp(0, 1)
            out["mse"].append(F.mse_loss(canvas, targets).item())
        out["canvas"] = canvas
        return out


def mosaic_mse(targets: torch.Tensor, cells: int) -> float:
    """MSE of the ``cells`` x ``cells`` mean-colour mosaic of (B, 3, S, S) targets (S divisible by cells):
    the flat-cell baseline a painter's strokes should beat."""
    import torch.nn.functional as F

    s = targets.shape[-1]
    flat = F.interpolate(F.avg_pool2d(targets, s // cells), scale_factor=s // cells, mode="nearest")
    return F.mse_loss(flat, targets).item()


def _call(painter, targets, canvas, k: int, calls: int) -> torch.Tensor:
    """One painter call; painters that take the call index (``painter.takes_step``) get it."""
    import torch

    if getattr(painter, "takes_step", False):
        return painter(targets, canvas, step=torch.full((targets.shape[0],), float(k)))
    return painter(targets, canvas)


def canvas_dependence(painter, targets: torch.Tensor, calls: int = 10) -> dict:
    """Does the output depend on the canvas input? Strokes of call ``calls`` on the painter's own canvas
    vs the same call with the canvas replaced by black and by another crop's canvas.

    Returns:
        dict with mean absolute parameter differences (strokes in [0, 1]): ``black`` (own canvas vs a
        black canvas), ``swap`` (own vs the next crop's canvas), ``target_swap`` (own vs the next
        crop's target on the own canvas: the scale of a change the painter does react to), and the
        MSE after one more call from the own canvas with the own strokes (``mse_own``) and with the
        strokes predicted on a black canvas (``mse_blind``).
    """
    import torch
    import torch.nn.functional as F

    from common.renderers.oil import render_oil

    with torch.no_grad():
        canvas = rollout_curve(painter, targets, calls)["canvas"]
        own = _call(painter, targets, canvas, calls, calls + 1)
        blind = _call(painter, targets, torch.zeros_like(canvas), calls, calls + 1)
        swap = _call(painter, targets, canvas.roll(1, 0), calls, calls + 1)
        tswap = _call(painter, targets.roll(1, 0), canvas, calls, calls + 1)
        return {
            "black": (own - blind).abs().mean().item(),
            "swap": (own - swap).abs().mean().item(),
            "target_swap": (own - tswap).abs().mean().item(),
            "mse_before": F.mse_loss(canvas, targets).item(),
            "mse_own": F.mse_loss(render_oil(own, canvas, use_boxes=False), targets).item(),
            "mse_blind": F.mse_loss(render_oil(blind, canvas, use_boxes=False), targets).item(),
        }


def throughput(updates: int = 20, patch: int = 64) -> dict:
    """Training updates per second of both recipes, timed side by side on random states (1 thread).

    ``paper``: ResNet-18, batch 8, pixel + pyramid loss + adaptive WGAN-GP (critic step included);
    ``anchors``: the anchor painter, batch 16, :func:`painter.training.gains_loss` (24 proposals per
    sample). Returns ``{recipe: {"updates_per_s", "samples_per_s", "forward_s", "loss_s",
    "backward_s", "step_s"}}`` with seconds per update split by phase.
    """
    import time

    import torch

    from common.losses.wgan import gradient_penalty
    from painter.model import Critic, PainterConfig, PatchRenderer, build_painter
    from painter.training import gains_loss, pyramid_mse

    out = {}
    for name, batch in (("paper", 8), ("anchors", 16)):
        arch = "resnet18" if name == "paper" else "anchors"
        net = build_painter(PainterConfig(patch=patch, arch=arch)).train()
        critic, renderer = Critic(), PatchRenderer(None)
        opt = torch.optim.Adam(net.parameters(), lr=1e-4, foreach=True)
        opt_d = torch.optim.Adam(critic.parameters(), lr=1e-4, foreach=True)
        target, canvas = torch.rand(batch, 3, patch, patch), torch.rand(batch, 3, patch, patch) * 0.5
        t = {"forward_s": 0.0, "loss_s": 0.0, "backward_s": 0.0, "step_s": 0.0}
        for i in range(updates + 2):
            t0 = time.perf_counter()
            if name == "paper":
                fake = renderer(net(target, canvas), canvas)
                t1 = time.perf_counter()
                real = torch.rand_like(fake)
                d_loss = critic(fake.detach()).mean() - critic(real).mean()
                d_loss = d_loss + gradient_penalty(critic, real, fake, 10.0)
                opt_d.zero_grad()
                d_loss.backward()
                opt_d.step()
                l_pix = pyramid_mse(fake, target, 3)
                l_adv = -critic(fake).mean()
                loss = l_pix + 0.1 * l_pix.detach() / (l_adv.detach().abs() + 1e-8) * l_adv
            else:
                t1 = time.perf_counter()
                loss = gains_loss(net, target, canvas, 24)["loss"]
            t2 = time.perf_counter()
            opt.zero_grad()
            loss.backward()
            t3 = time.perf_counter()
            opt.step()
            t4 = time.perf_counter()
            if i >= 2:  # two warm-up updates
                for key, dt in zip(t, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                    t[key] += dt / updates
        total = sum(t.values())
        out[name] = {"updates_per_s": 1 / total, "samples_per_s": batch / total, **t}
    return out


def main(argv=None) -> int:
    """``python -m painter.evaluate --painter checkpoints/cnp_painter.pt``: print the diagnosis."""
    import json

    from common.cli import ArgumentParser, positive_int

    parser = ArgumentParser(description=main.__doc__)
    parser.add_argument("--painter", default="checkpoints/cnp_painter.pt")
    parser.add_argument("--crops", type=positive_int, default=32)
    parser.add_argument("--calls", type=positive_int, default=40)
    parser.add_argument("--patch", type=positive_int, default=None, help="default: the painter's own")
    parser.add_argument("--throughput", action="store_true", help="time training updates of both recipes")
    parser.add_argument("--png", default=None, help="write crops | after 1, 5, 20, 40 calls to this PNG")
    args = parser.parse_args(argv)
    import torch

    from painter.model import load_painter

    torch.set_num_threads(1)
    if args.throughput:
        for name, row in throughput(patch=args.patch or 64).items():
            print(name, json.dumps({k: round(v, 4) for k, v in row.items()}))
        return 0
    painter = load_painter(args.painter)
    size = args.patch or painter.config.patch
    targets = val_crops(size, args.crops)
    curve = rollout_curve(painter, targets, args.calls)
    ks = [k for k in (1, 2, 5, 10, 20, 40, 80) if k <= args.calls]
    print(f"painter {args.painter} patch {size} crops {args.crops}")
    print("k      " + " ".join(f"{k:>7d}" for k in ks))
    for key in ("mse", "size", "colour_err", "coverage"):
        print(f"{key:10s}" + " ".join(f"{curve[key][k - 1]:7.4f}" for k in ks))
    print(
        "black-canvas MSE",
        round(targets.pow(2).mean().item(), 4),
        " mosaic MSE (g x g flat cells):",
        {g: round(mosaic_mse(targets, g), 4) for g in (1, 2, 4, 8)},
    )
    if args.png:
        from common.image_io import save_image

        rows = [targets[:8]]
        for k in (1, 5, 20, 40):
            rows.append(rollout_curve(painter, targets[:8], k)["canvas"])
        grid = torch.cat([torch.cat(list(r), 2) for r in rows], 1)  # (3, 5 S, 8 S)
        save_image(grid[None], args.png)
    dep = canvas_dependence(painter, targets, 10)
    print("canvas dependence (call 11):", json.dumps({k: round(v, 4) for k, v in dep.items()}))
    return 0


if __name__ == "__main__":
    from common.cli import run_main

    run_main(main)
