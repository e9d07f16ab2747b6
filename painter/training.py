"""Training loop of the CNP painter (paper Sec. 3.2, Eq. 3-6): pixel MSE + adaptive WGAN-GP term.

Per global step: draw a batch of target crops, roll the current painter out from a black canvas for
``rollout`` calls without gradients, push every intermediate (target, canvas) state into a replay
memory, then make ``rollout`` updates on random batches drawn from the memory.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from common.checkpoint import load_checkpoint, load_model_state
from common.device import DistributedContext, unwrap_model
from common.losses.wgan import gradient_penalty
from common.renderers.oil import render_oil
from painter.config import PainterConfig, PainterTrainConfig  # noqa: F401 - PainterTrainConfig re-exported
from painter.data import (
    CropSampler,
    SyntheticStrokes,
    load_opencv_photos,
    load_photos,
    strokes_into_box,
    train_opencv_names,
)
from painter.model import STROKE_ANCHORS, Critic, PatchRenderer, build_painter


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
    random others (all when ``subset`` >= K). ``painter`` is the :class:`AnchorPainter` or its
    ``DistributedDataParallel`` wrapper; the proposals come through its forward (``proposals=True``), so
    under DDP the backward all-reduces the gradients.

    Returns:
        dict with ``loss`` (scalar, differentiable), ``gain`` (mean gain of the chosen proposals) and
        ``score`` (the score loss), both floats.
    """
    core = unwrap_model(painter)
    # Through the (possibly DDP-wrapped) module's forward, so that DDP all-reduces the gradients.
    strokes, scores = painter(target, canvas, proposals=True)  # (B, K, 8), (B, K)
    b, k = scores.shape
    chosen = core.select(scores)  # (B, N)
    if subset < k:
        rand = torch.rand(b, k, generator=gen).to(scores.device)
        rand.scatter_(1, chosen, 2.0)  # the chosen ones first
        idx = rand.topk(subset, 1).indices  # (B, subset)
        strokes = strokes.gather(1, idx[..., None].expand(-1, -1, strokes.shape[-1]))
        scores = scores.gather(1, idx)
    gains = stroke_gains(strokes, target, canvas)  # (B, subset)
    # Relative to the patch's error, floored at 1e-3: a floor of 1e-6 let nearly finished patches
    # multiply the gradient by up to 1e6, and the first long run collapsed at update 700 (every
    # stroke invisible, held-out MSE 0.041 -> 0.274).
    before = (canvas - target).pow(2).flatten(1).mean(1, keepdim=True).clamp_min(1e-3)
    share = (gains.detach() / before).clamp_min(1e-4)
    l_score = F.mse_loss(scores, share.log())
    l_gain = -(gains / before.detach()).mean()  # relative: every patch counts the same
    n = core.strokes_per_call
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
    """Train (or resume) the painter on :class:`common.training.TrainLoop`.

    Writes into ``out_dir``: ``last.pt`` (resumable: painter, critic, both optimisers, RNG), ``best.pt``
    and ``painter_best.pt`` (fp16, what ``compositor/test.py --painter`` loads) whenever the held-out
    validation MSE (``val_mse``: mean MSE after ``val_calls`` (default 1, 5 and 20) calls from black on
    ``painter.data.VAL_OPENCV`` crops) improves, ``painter_last.pt`` (fp16) at every save,
    ``config.json`` and ``log.txt``. One loop step is one painter update; a rollout of ``rollout``
    calls refills the replay memory before every ``rollout`` updates.

    Returns:
        the last validation metrics plus ``step``, ``best`` (best ``val_mse``) and ``stopped``.
    """
    from common.training import TrainLoop

    device = ctx.device
    torch.manual_seed(cfg.seed + ctx.rank)
    last = out_dir / "last.pt"
    if last.is_file():  # the stored architecture wins over the flags
        cfg.model = dict(load_checkpoint(last)["config"]["model"])
    elif cfg.init:
        ratio = cfg.model.get("stroke_ratio", 0.0)
        cfg.model = {**cfg.model, **load_checkpoint(cfg.init)["config"]["model"]}
        if ratio:  # a fine-tune to elongated strokes from a painter without them
            cfg.model["stroke_ratio"] = ratio
    painter = build_painter(PainterConfig(**cfg.model)).to(device)
    if cfg.init and not last.is_file():
        load_model_state(painter, load_checkpoint(cfg.init))
        painter.float()
    critic = Critic().to(device)
    opt = torch.optim.Adam(painter.parameters(), lr=cfg.lr, betas=(0.5, 0.999), foreach=True)
    opt_d = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr, betas=(0.5, 0.999), foreach=True)
    config = {"model": cfg.model, "train": asdict(cfg)}
    renderer = build_renderer(cfg.renderer, device)  # a bad --renderer fails before anything is written

    loop = TrainLoop(
        out_dir,
        config=config,
        state={"model": painter, "opt": opt, "critic": critic, "opt_d": opt_d},
        max_steps=cfg.steps,
        max_minutes=cfg.max_minutes,
        save_every=cfg.save_every,
        best_metric="val_mse",
        best_mode="min",
        export_model=painter,
        provenance={"script": "painter/train.py"},
        export_name="painter",
        ctx=ctx,
        log_every=cfg.save_every,
        progress=False,
    )
    step = loop.resume()
    if ctx.distributed:
        painter = torch.nn.parallel.DistributedDataParallel(painter)
        critic = torch.nn.parallel.DistributedDataParallel(critic)
    size = unwrap_model(painter).config.patch
    photos = load_photos(cfg.dataset)
    if cfg.opencv:
        photos = photos + load_opencv_photos(train_opencv_names())
    sampler = CropSampler(photos, size=size, seed=cfg.seed * 1000 + ctx.rank + step)
    val_targets = _val_targets(photos, size, cfg, log).to(device)
    memory = ReplayMemory(cfg.memory, seed=cfg.seed + step)
    synthetic = SyntheticStrokes(
        photos, size, unwrap_model(painter).config.strokes_per_call, seed=cfg.seed + step
    )
    metrics: dict = {}
    since_rollout = 0  # updates since the last rollout: one rollout of `rollout` calls per `rollout` updates
    for step in loop.steps():
        if step < cfg.pretrain_steps:
            scalars = _warm_start_update(cfg, painter, renderer, opt, synthetic, device)
        else:
            if len(memory) < cfg.warmup or since_rollout >= cfg.rollout:
                _rollout(cfg, painter, renderer, sampler, memory, device)
                while len(memory) < cfg.warmup:
                    _rollout(cfg, painter, renderer, sampler, memory, device)
                since_rollout = 0
            since_rollout += 1
            painter.train()
            target, canvas = memory.sample(cfg.batch_size, device)
            if cfg.objective == "gains":  # anchor painter: per-proposal greedy gains
                out = gains_loss(painter, target, canvas, cfg.subset)
                opt.zero_grad(set_to_none=True)
                out["loss"].backward()
                if cfg.clip > 0:
                    torch.nn.utils.clip_grad_norm_(painter.parameters(), cfg.clip)
                opt.step()
                scalars = {"gain": out["gain"], "score_loss": out["score"]}
            else:
                scalars = _paper_update(cfg, painter, critic, renderer, opt, opt_d, target, canvas)
        loop.log(step, **scalars)
        if loop.due(step, every=cfg.save_every) or step + 1 == cfg.steps:
            metrics = _validate(painter, renderer, val_targets, cfg.val_calls)
            loop.report(step, **metrics)
    summary = loop.close()
    return {**metrics, **summary}


@torch.no_grad()
def _rollout(cfg, painter, renderer, sampler, memory: ReplayMemory, device) -> None:
    """Roll the current painter out for ``rollout`` calls (from black, or from a nested sub-region start
    with probability ``nested``) and push every intermediate state into the memory."""
    painter.eval()
    if float(torch.rand(1)) < cfg.nested:
        targets, canvas = nested_start(unwrap_model(painter), sampler, cfg.batch_size, device)
    else:
        targets = sampler.sample(cfg.batch_size).to(device)
        canvas = torch.zeros_like(targets)
    for _ in range(cfg.rollout):
        memory.push(targets, canvas)
        canvas = renderer(painter(targets, canvas), canvas)


def _warm_start_update(cfg, painter, renderer, opt, synthetic, device) -> dict:
    """One stroke-supervised warm-start update (not in the paper) on synthetic strokes with labels."""
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
    return {"pixel_l1": l_pix.item(), "param_l1": l_param.item()}


def _paper_update(cfg, painter, critic, renderer, opt, opt_d, target, canvas) -> dict:
    """One update of the paper's loss (Eq. 3-6) on a batch of stored states; critic step first."""
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
    return {"pixel": l_pix.item(), "adv": l_adv.item(), "critic": d_loss.item()}


@torch.no_grad()
def _validate(painter, renderer, val_targets, calls=(1, 5, 20)) -> dict:
    """Held-out MSE after each number of ``calls`` from black, and their keep-best mean ``val_mse``."""
    painter.eval()
    canvas, metrics = torch.zeros_like(val_targets), {}
    for k in range(1, max(calls) + 1):
        canvas = renderer(unwrap_model(painter)(val_targets, canvas), canvas)
        if k in calls:
            metrics[f"val_mse_{k}_calls"] = F.mse_loss(canvas, val_targets).item()
    # keep-best figure: mean held-out MSE after the given calls (a painter that stops refining loses)
    metrics["val_mse"] = sum(metrics[f"val_mse_{k}_calls"] for k in calls) / len(calls)
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
