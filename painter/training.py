"""Training loop of the CNP painter (paper Sec. 3.2, Eq. 3-6): pixel MSE + adaptive WGAN-GP term.

Per global step: draw a batch of target crops, roll the current painter out from a black canvas for
``rollout`` calls without gradients, push every intermediate (target, canvas) state into a replay
memory, then make ``rollout`` updates on random batches drawn from the memory.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from common.checkpoint import load_checkpoint, load_model_state, save_checkpoint
from common.device import DistributedContext, unwrap_model
from common.losses.wgan import gradient_penalty
from common.renderers.oil import render_oil
from painter.data import (
    CropSampler,
    SyntheticStrokes,
    load_opencv_photos,
    load_photos,
    strokes_into_box,
    train_opencv_names,
)
from painter.model import STROKE_ANCHORS, Critic, PainterConfig, PatchRenderer, build_painter


@dataclass
class PainterTrainConfig:
    """Every knob of ``painter/train.py`` (defaults sized for a 2-core CPU; the paper's in brackets)."""

    dataset: str | None = None  # None: bundled photos minus the benchmark photos
    steps: int = 2000  # painter updates [paper: 2M global steps x 40 updates]
    batch_size: int = 8  # [32]
    rollout: int = 8  # painter calls per rollout and updates per global step [40]
    memory: int = 4000  # replay memory capacity, in states [1000 batches of 32]
    warmup: int = 64  # states in memory before the first update [20 batches]
    lr: float = 2e-4  # Adam, betas (0.5, 0.999) [2e-4]
    critic_lr: float = 3e-4  # [3e-4]
    beta_adv: float = 0.1  # beta_w: adversarial loss scaled to beta_w * L_pixel [0.1]
    gp_weight: float = 10.0  # lambda of WGAN-GP [10]
    renderer: str = "oil"  # "oil" (analytic, exact) or a path to an FCN checkpoint [FCN]
    pretrain_steps: int = 0  # first updates: stroke-supervised warm start on synthetic strokes [none]
    pyramid: int = 0  # extra pixel-loss levels on 2x, 4x, ... average-pooled images [0]
    nested: float = 0.0  # fraction of rollouts starting from a painted parent region's canvas [0]
    objective: str = "paper"  # "paper": L_pixel + gamma L_adv on the 5 strokes; "gains": per-anchor gains
    subset: int = 32  # "gains": proposals per sample trained per update (the 5 chosen + random ones)
    opencv: bool = False  # also train on the opencv-doc photos (painter.data.train_opencv_names)
    save_every: int = 100
    max_minutes: float = 0.0  # stop (and save) after this wall time; 0 = no limit
    seed: int = 0
    model: dict = field(default_factory=lambda: asdict(PainterConfig()))


class ReplayMemory:
    """Bounded store of (target, canvas) patch states as uint8 on CPU; random eviction when full."""

    def __init__(self, capacity: int, seed: int = 0) -> None:
        self.capacity = capacity
        self.items: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.items)

    def push(self, target: torch.Tensor, canvas: torch.Tensor) -> None:
        """Store a batch of (B, 3, S, S) states in [0, 1]."""
        t8 = (target.detach().cpu() * 255).round().to(torch.uint8)
        c8 = (canvas.detach().cpu() * 255).round().to(torch.uint8)
        for i in range(t8.shape[0]):
            if len(self.items) < self.capacity:
                self.items.append((t8[i], c8[i]))
            else:
                self.items[int(torch.randint(self.capacity, (1,), generator=self.gen))] = (t8[i], c8[i])

    def sample(self, batch: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, 3, S, S) float target and canvas patches in [0, 1]."""
        idx = torch.randint(len(self.items), (batch,), generator=self.gen).tolist()
        t = torch.stack([self.items[i][0] for i in idx]).to(device).float() / 255
        c = torch.stack([self.items[i][1] for i in idx]).to(device).float() / 255
        return t, c


def build_renderer(spec: str, device) -> PatchRenderer:
    """``"oil"`` -> analytic renderer; otherwise a path to an FCN checkpoint (frozen)."""
    if spec == "oil":
        return PatchRenderer(None)
    from common.renderers.neural import FCNRenderer

    ckpt = load_checkpoint(spec, hint="train one with: python compositor/train_renderer_FCN.py")
    fcn = FCNRenderer.from_config(ckpt["config"].get("model", ckpt["config"]))
    load_model_state(fcn, ckpt)
    fcn.requires_grad_(False)
    return PatchRenderer(fcn.to(device).eval())


def pyramid_mse(fake: torch.Tensor, target: torch.Tensor, levels: int = 0) -> torch.Tensor:
    """Pixel MSE plus the MSE of ``levels`` average-pooled copies (2x, 4x, ...), averaged over levels.

    Not in the paper (``levels = 0`` is its L_pixel). A pooled residual lets a stroke's edge feel colour
    errors a few pixels beyond it, which gives the position and size of a stroke a gradient from farther
    away than the one-pixel-wide soft edge of the brush.

    Args:
        fake, target: (B, C, H, W) images in [0, 1]. levels: pooled levels (stops early when the image
            is smaller than the pooling window).

    Returns:
        scalar loss in squared [0, 1] units.
    """
    loss = F.mse_loss(fake, target)
    for level in range(1, levels + 1):
        k = 2**level
        if min(fake.shape[-2:]) < k:
            break
        loss = loss + F.mse_loss(F.avg_pool2d(fake, k), F.avg_pool2d(target, k))
    return loss / (levels + 1)


def stroke_matching_l1(pred: torch.Tensor, labels: torch.Tensor, anchors=None) -> torch.Tensor:
    """Mean L1 distance between predicted and labelled strokes under a one-to-one matching.

    The angle is compared cyclically (``theta`` and ``theta + 1`` are the same stroke). Matching per
    sample with ``scipy.optimize.linear_sum_assignment``: without ``anchors``, the one with the lowest
    L1 cost (DETR / Paint Transformer style, which converges slowly); with ``anchors``, output slot k
    takes the labelled stroke whose centre is nearest its anchor (the assignment depends on the labels
    only, YOLO style, so every slot gets a consistent target from the first update).

    Args:
        pred, labels: (B, N, 8) ``oil`` strokes in [0, 1].
        anchors: None or N (x, y) pairs in [0, 1] (``painter.model.STROKE_ANCHORS``).

    Returns:
        scalar loss (differentiable in ``pred``).
    """
    from scipy.optimize import linear_sum_assignment

    diff = (pred[:, :, None] - labels[:, None]).abs()  # (B, N, N, 8)
    theta = diff[..., 4]
    diff = torch.cat([diff[..., :4], torch.minimum(theta, 1 - theta)[..., None], diff[..., 5:]], -1)
    cost = diff.mean(-1)  # (B, N, N)
    assign = cost
    if anchors is not None:
        a = torch.as_tensor(anchors, dtype=labels.dtype, device=labels.device)  # (N, 2)
        assign = (a[None, :, None] - labels[:, None, :, :2]).pow(2).sum(-1)  # (B, N slots, N labels)
    rows, cols = [], []
    for c in assign.detach().cpu().numpy():
        r, k = linear_sum_assignment(c)
        rows.append(torch.as_tensor(r))
        cols.append(torch.as_tensor(k))
    b = torch.arange(pred.shape[0])[:, None]
    return cost[b, torch.stack(rows), torch.stack(cols)].mean()


def stroke_gains(strokes: torch.Tensor, target: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
    """Error each stroke removes when painted ALONE onto the canvas (not in the paper: the greedy
    per-stroke pixel objective of the anchor painter, ``painter/anchor_model.py``).

    ``gain_k = MSE(C, I) - MSE(C (1 - a_k) + a_k f_k, I)`` through the exact ``oil`` renderer.

    Args:
        strokes: (B, M, 8) ``oil`` strokes in patch coordinates. target, canvas: (B, 3, S, S) in [0, 1].

    Returns:
        (B, M) gains in squared [0, 1] units (MSE over 3 x S x S values; negative: the stroke hurts);
        differentiable in ``strokes``.
    """
    from common.renderers.oil import oil_maps

    s = target.shape[-1]
    intensity, alpha = oil_maps(strokes, s, s)  # (B, M, S, S)
    fg = intensity[:, :, None] * strokes[..., 5:8, None, None]  # (B, M, 3, S, S)
    d = (canvas - target)[:, None]  # (B, 1, 3, S, S)
    delta = alpha[:, :, None] * (fg - canvas[:, None])  # change of the canvas, (B, M, 3, S, S)
    return -(delta * (2 * d + delta)).flatten(2).mean(2)


def gains_loss(painter, target: torch.Tensor, canvas: torch.Tensor, subset: int, gen=None) -> dict:
    """Loss of the anchor painter on a batch of states: every trained proposal maximises its own gain
    (:func:`stroke_gains`, relative to the patch's error) and the score regresses the log of the share
    of the patch's error it removed (clamped at 1e-4; MSE).

    ``subset`` proposals per sample are trained: the ``strokes_per_call`` the painter would choose plus
    random others (all when ``subset`` >= K).

    Returns:
        dict with ``loss`` (scalar, differentiable), ``gain`` (mean gain of the chosen proposals) and
        ``score`` (the score loss), both floats.
    """
    strokes, scores = painter.proposals(target, canvas)  # (B, K, 8), (B, K)
    b, k = scores.shape
    chosen = painter.select(scores)  # (B, N)
    if subset < k:
        rand = torch.rand(b, k, generator=gen).to(scores.device)
        rand.scatter_(1, chosen, 2.0)  # the chosen ones first
        idx = rand.topk(subset, 1).indices  # (B, subset)
        strokes = strokes.gather(1, idx[..., None].expand(-1, -1, strokes.shape[-1]))
        scores = scores.gather(1, idx)
    gains = stroke_gains(strokes, target, canvas)  # (B, subset)
    before = (canvas - target).pow(2).flatten(1).mean(1, keepdim=True).clamp_min(1e-6)
    share = (gains.detach() / before).clamp_min(1e-4)
    l_score = F.mse_loss(scores, share.log())
    l_gain = -(gains / before.detach()).mean()  # relative: every patch counts the same
    n = painter.strokes_per_call
    return {"loss": l_gain + 0.01 * l_score, "gain": gains[:, :n].mean().item(), "score": l_score.item()}


@torch.no_grad()
def nested_start(painter, sampler: CropSampler, batch: int, device, calls: int = 8):
    """Start states like those of the compositor's sub-regions (not in the paper's training): paint a
    parent region from black with ``calls`` painter calls, then take a sub-box of it as the canvas and
    the photo under that sub-box as the target. The parent is always rendered with the analytic ``oil``
    renderer (also when training through an FCN), the brush the compositor paints with at test time.

    Returns:
        target, canvas: (batch, 3, S, S) in [0, 1], S the sampler's patch size, on ``device``.
    """
    child, parent, boxes = sampler.sample_nested(batch)
    child, parent, boxes = child.to(device), parent.to(device), boxes.to(device)
    canvas, strokes = torch.zeros_like(parent), []
    for _ in range(calls):
        s = painter(parent, canvas)
        canvas = render_oil(s, canvas)
        strokes.append(s)
    strokes = strokes_into_box(torch.cat(strokes, 1), boxes)
    return child, render_oil(strokes, torch.zeros_like(child), use_boxes=False).clamp(0, 1)


@torch.no_grad()
def paint_from_black(painter, renderer, targets: torch.Tensor, calls: int) -> torch.Tensor:
    """Paint (B, 3, S, S) targets from a black canvas with ``calls`` painter calls; returns the canvas."""
    canvas = torch.zeros_like(targets)
    for _ in range(calls):
        canvas = renderer(painter(targets, canvas), canvas)
    return canvas


def train_painter(cfg: PainterTrainConfig, out_dir: Path, ctx: DistributedContext, log=print) -> dict:
    """Train (or resume) the painter; writes ``last.pt`` (resumable) and ``painter.pt`` (fp16 weights)
    into ``out_dir``. Returns the final metrics dict."""
    device = ctx.device
    torch.manual_seed(cfg.seed + ctx.rank)
    step, last = 0, out_dir / "last.pt"
    ckpt = load_checkpoint(last) if last.is_file() else None
    if ckpt is not None:
        cfg.model = dict(ckpt["config"]["model"])  # the stored architecture wins over the flags
    painter = build_painter(PainterConfig(**cfg.model)).to(device)
    critic = Critic().to(device)
    opt = torch.optim.Adam(painter.parameters(), lr=cfg.lr, betas=(0.5, 0.999), foreach=True)
    opt_d = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr, betas=(0.5, 0.999))
    if ckpt is not None:
        load_model_state(painter, ckpt)
        load_model_state(critic, ckpt["extra"]["critic"])
        opt.load_state_dict(ckpt["optimizer"])
        opt_d.load_state_dict(ckpt["extra"]["critic_optimizer"])
        step = ckpt["step"]
        log(f"resumed from {last} at step {step}")
    if ctx.distributed:
        painter = torch.nn.parallel.DistributedDataParallel(painter)
        critic = torch.nn.parallel.DistributedDataParallel(critic)
    renderer = build_renderer(cfg.renderer, device)
    size = unwrap_model(painter).config.patch
    photos = load_photos(cfg.dataset)
    if cfg.opencv:
        photos = photos + load_opencv_photos(train_opencv_names())
    sampler = CropSampler(photos, size=size, seed=cfg.seed * 1000 + ctx.rank + step)
    val_targets = _val_targets(photos, size, cfg, log).to(device)
    best = ckpt["extra"].get("best") if ckpt is not None else None
    memory = ReplayMemory(cfg.memory, seed=cfg.seed + step)
    start, metrics = time.time(), {}
    run = {"pixel": 0.0, "adv": 0.0, "critic": 0.0, "n": 0}

    def checkpoint_if_due(phase: str) -> bool:
        """Validate, log and save every ``save_every`` updates, at the end and when out of time (then
        returns True: stop)."""
        nonlocal metrics, run
        out_of_time = cfg.max_minutes > 0 and time.time() - start > cfg.max_minutes * 60
        if step % cfg.save_every == 0 or step >= cfg.steps or out_of_time:
            nonlocal best
            metrics = _validate(cfg, painter, renderer, val_targets, run, start, step, log, phase)
            run = {"pixel": 0.0, "adv": 0.0, "critic": 0.0, "n": 0}
            improved = best is None or metrics["val_mse"] < best
            best = metrics["val_mse"] if improved else best
            if ctx.is_main:
                _save(cfg, out_dir, painter, critic, opt, opt_d, step, metrics, best, improved)
        return out_of_time

    synthetic = SyntheticStrokes(
        photos, size, unwrap_model(painter).config.strokes_per_call, seed=cfg.seed + step
    )
    while step < min(cfg.pretrain_steps, cfg.steps):
        # Warm start (not in the paper): learn stroke geometry from synthetic strokes with known labels.
        painter.train()
        target, canvas, labels = synthetic.sample(cfg.batch_size)
        target, canvas, labels = target.to(device), canvas.to(device), labels.to(device)
        pred = painter(target, canvas)
        l_param = stroke_matching_l1(pred, labels, STROKE_ANCHORS)
        with torch.no_grad():  # monitored only: a pixel term here drives the strokes to vanish
            l_pix = (renderer(pred, canvas) - target).abs().mean()
        opt.zero_grad(set_to_none=True)
        l_param.backward()
        opt.step()
        step += 1
        run["pixel"] += l_pix.item()
        run["adv"] += l_param.item()  # logged as "adv" during the warm start: the parameter L1
        run["n"] += 1
        if checkpoint_if_due("pretrain"):
            return metrics
    while step < cfg.steps:
        painter.eval()
        if float(torch.rand(1)) < cfg.nested:
            targets, canvas = nested_start(unwrap_model(painter), sampler, cfg.batch_size, device)
        else:
            targets = sampler.sample(cfg.batch_size).to(device)
            canvas = torch.zeros_like(targets)
        with torch.no_grad():
            for _ in range(cfg.rollout):
                memory.push(targets, canvas)
                canvas = renderer(painter(targets, canvas), canvas)
        if len(memory) < cfg.warmup:
            continue
        painter.train()
        if cfg.objective == "gains":  # anchor painter: per-proposal greedy gains (painter/anchor_model.py)
            for _ in range(cfg.rollout):
                target, canvas = memory.sample(cfg.batch_size, device)
                out = gains_loss(unwrap_model(painter), target, canvas, cfg.subset)
                opt.zero_grad(set_to_none=True)
                out["loss"].backward()
                opt.step()
                step += 1
                run["pixel"] += out["gain"]
                run["adv"] += out["score"]
                run["n"] += 1
                if checkpoint_if_due("gains") or step >= cfg.steps:
                    return metrics
            continue
        for _ in range(cfg.rollout):
            target, canvas = memory.sample(cfg.batch_size, device)
            fake = renderer(painter(target, canvas), canvas)
            # Critic: real samples are uniform noise (paper Sec. 3.2), fake = painted canvases.
            real = torch.rand_like(fake)
            d_loss = critic(fake.detach()).mean() - critic(real).mean()
            d_loss = d_loss + gradient_penalty(critic, real, fake, cfg.gp_weight)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            # Painter: L = L_pixel + gamma * L_adv, gamma = beta_w * |L_pixel| / |L_adv| (Eq. 6, abs fixed).
            l_pix = pyramid_mse(fake, target, cfg.pyramid)
            l_adv = -critic(fake).mean()
            gamma = cfg.beta_adv * l_pix.detach() / (l_adv.detach().abs() + 1e-8)
            loss = l_pix + gamma * l_adv
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            run["pixel"] += l_pix.item()
            run["adv"] += l_adv.item()
            run["critic"] += d_loss.item()
            run["n"] += 1
            if checkpoint_if_due("paper") or step >= cfg.steps:
                return metrics
    return metrics


def _validate(cfg, painter, renderer, val_targets, run, start, step, log, phase) -> dict:
    """Running losses plus the validation MSE after 40 and 200 strokes from black; logs one line."""
    n = max(run["n"], 1)
    names = {
        "pretrain": ("pixel", "param_l1", "critic"),
        "gains": ("gain", "score_loss", "critic"),
    }.get(phase, ("pixel", "adv", "critic"))
    metrics = {name: run[k] / n for name, k in zip(names, ("pixel", "adv", "critic"), strict=True)}
    painter.eval()
    canvas, mse = torch.zeros_like(val_targets), {}
    with torch.no_grad():
        for k in range(1, 41):
            canvas = renderer(unwrap_model(painter)(val_targets, canvas), canvas)
            if k in (1, 5, 20, 40):
                mse[k] = F.mse_loss(canvas, val_targets).item()
    for k, v in mse.items():
        metrics[f"val_mse_{k}_calls"] = v
    # keep-best figure: mean held-out MSE after 1, 5 and 20 calls (a painter that stops refining loses)
    metrics["val_mse"] = (mse[1] + mse[5] + mse[20]) / 3
    metrics["wall_s"] = round(time.time() - start, 1)
    log(f"step {step} ({phase})  " + "  ".join(f"{k} {v:.5f}" for k, v in metrics.items()))
    painter.train()
    return metrics


def _val_targets(photos, size: int, cfg, log) -> torch.Tensor:
    """Held-out validation crops (``painter.data.VAL_OPENCV``); without the opencv-doc photos, crops of
    the training photos (logged: then the validation is not held out)."""
    try:
        from painter.evaluate import val_crops

        return val_crops(size, 16)
    except Exception as err:  # noqa: BLE001 - any failure to fetch the photos: fall back, say so
        log(f"held-out validation photos unavailable ({err}); validating on training crops")
        return CropSampler(photos, size=size, seed=12345).sample(16)


def _save(cfg, out_dir, painter, critic, opt, opt_d, step, metrics, best=None, improved=False) -> None:
    provenance = {"script": "painter/train.py", "config": asdict(cfg)}
    config = {"model": cfg.model, "train": asdict(cfg)}
    extra = {
        "critic": unwrap_model(critic).state_dict(),
        "critic_optimizer": opt_d.state_dict(),
        "best": best,
    }
    save_checkpoint(
        out_dir / "last.pt",
        model_state=unwrap_model(painter).state_dict(),
        config=config,
        step=step,
        metrics=metrics,
        provenance=provenance,
        optimizer_state=opt.state_dict(),
        extra=extra,
    )
    save_checkpoint(
        out_dir / "painter.pt",
        model_state=unwrap_model(painter).state_dict(),
        config=config,
        step=step,
        metrics=metrics,
        provenance=provenance,
        half=True,
    )
    if improved:  # keep-best by the held-out validation MSE
        save_checkpoint(
            out_dir / "best.pt",
            model_state=unwrap_model(painter).state_dict(),
            config=config,
            step=step,
            metrics=metrics,
            provenance=provenance,
            half=True,
        )
    (out_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
