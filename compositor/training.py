"""Training loop of the CNP compositor: batched painting episodes with the frozen painter, replay
buffer, DDPG updates (plus the optional imitation warm-start term and critic warm-up), keep-best by the
held-out validation of :mod:`compositor.validation` (the actor painted by ``compositor.paint``)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from common.checkpoint import load_checkpoint, load_model_state
from common.device import DistributedContext
from compositor.config import CompositorConfig, CompositorTrainConfig  # noqa: F401 - re-exported
from compositor.ddpg import DDPG, ReplayBuffer
from compositor.env import PaintEnv, distance, lookahead_box, teacher_box
from compositor.model import Actor, action_to_box
from compositor.validation import paint_mse, val_crops
from painter.data import CropSampler, load_opencv_photos, load_photos, train_opencv_names
from painter.model import load_painter


def train_compositor(cfg: CompositorTrainConfig, out_dir: Path, ctx: DistributedContext, log=print) -> dict:
    """Train (or resume from ``out_dir/last.pt``) on :class:`common.training.TrainLoop`, one loop step per
    episode. Writes ``last.pt`` (resumable: actor, critic, targets, optimisers), ``best.pt`` and
    ``compositor_best.pt`` (fp16 actor, what test.py loads) whenever the held-out validation MSE of
    the actor improves (``val_mse_actor``: ``cfg.val_crops`` crops of ``painter.data.VAL_OPENCV``, each
    painted with ``cfg.val_strokes`` strokes by ``compositor.paint.paint_image(policy="actor")``; the
    log prints the raster grid's and the look-ahead picker's figures on the same crops beside it),
    ``compositor_last.pt``, ``config.json`` and ``log.txt``. Returns the last metrics plus the loop's
    summary. One process only: the actor/critic gradients are not synchronised across ranks, so
    ``compositor/train.py`` refuses torchrun in one line (``common.device.require_single_process``).

    Imitation labels (``cfg.teacher``): ``"lookahead"``, mode 1's look-ahead picker for an episode of
    ``cfg.max_step`` regions (:func:`compositor.env.lookahead_box`), or ``"greedy"``
    (:func:`compositor.env.teacher_box`). The first ``cfg.critic_warmup`` DDPG updates (counted from
    episode ``cfg.bc_episodes``) train the critic only.

    Raises:
        ValueError: unknown ``cfg.teacher``."""
    from common.checkpoint import default_checkpoint
    from common.training import TrainLoop

    if cfg.teacher not in ("lookahead", "greedy"):
        raise ValueError(f"teacher must be 'lookahead' or 'greedy', got {cfg.teacher!r}")
    device = ctx.device
    torch.manual_seed(cfg.seed + ctx.rank)
    painter = load_painter(cfg.painter or default_checkpoint("cnp_painter.pt"), device)
    painter.requires_grad_(False)
    last = out_dir / "last.pt"
    if last.is_file():
        cfg.model = dict(load_checkpoint(last)["config"]["model"])  # the stored architecture wins
    elif cfg.init:
        cfg.model = dict(load_checkpoint(cfg.init)["config"]["model"])
    actor = Actor(CompositorConfig(**cfg.model))
    if cfg.init and not last.is_file():
        load_model_state(actor, load_checkpoint(cfg.init))
        actor.float()
    agent = DDPG(
        actor, device, tau=cfg.tau, lr_actor=cfg.lr_actor, lr_critic=cfg.lr_critic, bc_weight=cfg.bc_weight
    )
    agent.teacher_painter = painter
    config = {"model": cfg.model, "train": asdict(cfg)}

    loop = TrainLoop(
        out_dir,
        config=config,
        state={"model": agent.actor, "agent": _AgentState(agent)},
        max_steps=cfg.episodes,
        max_minutes=cfg.max_minutes,
        save_every=cfg.val_every,
        best_metric="val_mse_actor",
        best_mode="min",
        export_model=agent.actor,
        provenance={"script": "compositor/train.py"},
        export_name="compositor",
        ctx=ctx,
        log_every=cfg.val_every,
        progress=False,
    )
    episode = loop.resume()
    photos = load_photos(cfg.dataset)
    if cfg.opencv:
        photos = photos + load_opencv_photos(train_opencv_names())
    size = agent.actor.config.patch  # environment resolution = the actor's input size
    sampler = CropSampler(photos, size=size, min_frac=0.3, seed=cfg.seed * 1000 + ctx.rank + episode)
    val_targets = _val_targets(photos, size, cfg.val_crops, log).to(device)
    env = PaintEnv(
        painter, calls=cfg.calls, max_step=cfg.max_step, min_box=agent.actor.config.min_box, reward=cfg.reward
    )
    buffer = ReplayBuffer(cfg.buffer, seed=cfg.seed + episode)
    gen = torch.Generator().manual_seed(cfg.seed + 7 * episode)
    metrics = {}
    min_box = agent.actor.config.min_box
    grid = paint_mse(val_targets, painter, None, cfg.val_strokes, mode=3)
    look = paint_mse(val_targets, painter, None, cfg.val_strokes, policy="lookahead")
    reference = {"val_mse_grid": grid["mse"], "val_mse_lookahead": look["mse"]}
    loop.print(
        f"reference pickers on {len(val_targets)} held-out crops, {cfg.val_strokes} strokes (MSE / PSNR): "
        f"grid {grid['mse']:.5f} / {grid['psnr']:.2f} dB, lookahead {look['mse']:.5f} / {look['psnr']:.2f} dB"
    )
    for episode in loop.steps():
        target, canvas = env.reset(sampler.sample(cfg.env_batch).to(device))
        total_reward = torch.zeros(cfg.env_batch, device=device)
        done = False
        while not done:
            action = agent.act(target, canvas, cfg.noise)
            teacher = None
            if cfg.bc_weight > 0 or cfg.teacher_prob > 0:
                if cfg.teacher == "lookahead":
                    teacher = lookahead_box(target, canvas, painter, env.t, cfg.max_step)
                else:
                    teacher = teacher_box(target, canvas, min_box, painter)
            if float(torch.rand(1, generator=gen)) < cfg.teacher_prob:
                action = teacher
            action = action_to_box(action, agent.actor.config.min_box)
            prev = canvas
            canvas, reward, done = env.step(action)
            buffer.push(target, prev, action, reward, canvas, done, teacher)
            total_reward += reward
        losses = []
        if len(buffer) >= cfg.warmup:
            for i in range(cfg.updates):
                batch = buffer.sample(cfg.batch_size, device)
                if episode < cfg.bc_episodes:
                    losses.append(agent.update_bc(batch))
                elif (episode - cfg.bc_episodes) * cfg.updates + i < cfg.critic_warmup:
                    losses.append(agent.update_critic(batch))
                else:
                    losses.append(agent.update(batch))
        scalars = {k: sum(d[k] for d in losses) / max(len(losses), 1) for k in ("critic", "q", "bc")}
        scalars["episode_reward"] = total_reward.mean().item()
        scalars["final_mse"] = distance(target, canvas).mean().item()
        loop.log(episode, **scalars)
        if loop.due(episode, every=cfg.val_every) or episode + 1 == cfg.episodes:
            val = paint_mse(val_targets, painter, agent.actor, cfg.val_strokes)
            metrics = {**scalars, "val_mse_actor": val["mse"], "val_psnr_actor": val["psnr"], **reference}
            loop.report(episode, **metrics)
    summary = loop.close()
    return {**metrics, **summary}


class _AgentState:
    """The DDPG agent's critic, target networks and optimisers as one ``state_dict`` object (the
    actor itself is the loop's main module)."""

    def __init__(self, agent: DDPG) -> None:
        self.agent = agent

    def state_dict(self) -> dict:
        return self.agent.state()

    def load_state_dict(self, state: dict) -> None:
        self.agent.load_state(state)


def _val_targets(photos, size: int, count: int, log) -> torch.Tensor:
    """``count`` held-out validation crops (:func:`compositor.validation.val_crops`); without the
    opencv-doc photos, crops of the training photos (logged: then the validation is not held out)."""
    try:
        return val_crops(size, count)
    except Exception as err:  # noqa: BLE001 - any failure to fetch the photos: fall back, say so
        log(f"held-out validation photos unavailable ({err}); validating on training crops")
        return CropSampler(photos, size=size, min_frac=0.3, seed=4321).sample(count)
