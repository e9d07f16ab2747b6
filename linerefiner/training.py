"""LineRelifer training: losses, one adversarial step, held-out validation (DDP-ready; the loop is TrainLoop).

Shapes: B batch, S crop size. Images in the losses are ``(B, 1, S, S)`` in [-1, 1] (paper = +1).

Losses (reference B.2, the original's ``loss_weights=[20, 1]``), with y = target, x = input, G generator,
D discriminator logits, sigma the logistic function, BCE(p, l) = -[l log p + (1 - l) log(1 - p)]:

- ``L_D = 1/2 [BCE(sigma(D(y)), 1) + BCE(sigma(D(G(x))), 0)]``          (:func:`discriminator_loss`)
- ``L_G = lambda_mse * mean((G(x) - y)^2) + lambda_adv * BCE(sigma(D(G(x))), 1)``   (:func:`generator_loss`)
"""

from __future__ import annotations

import contextlib
import platform
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from common.checkpoint import load_checkpoint, load_model_state, save_checkpoint
from common.device import DistributedContext, unwrap_model
from linerefiner.metrics import score_drawing, summarise
from linerefiner.model import (
    LineDiscriminator,
    LineGenerator,
    RefinerConfig,
    count_parameters,
    receptive_radius,
)
from linerefiner.synth import FolderPairs, SynthSample, heldout_samples, training_batch

#: Seed offset of the validation pairs (the bench uses offset 0: the two never overlap below 500,000 pairs).
VAL_OFFSET = 500_000


def to_signed(img: torch.Tensor) -> torch.Tensor:
    """[0, 1] gray -> [-1, 1] (the original's ``x / 127.5 - 1``)."""
    return img * 2.0 - 1.0


def to_unit(img: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], clamped (the original's ``(y + 1) / 2 * 255`` with saturation)."""
    return ((img + 1.0) * 0.5).clamp(0.0, 1.0)


def generator_loss(
    fake: torch.Tensor,
    target: torch.Tensor,
    d_fake: torch.Tensor | None,
    cfg: RefinerConfig,
    weight: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """``L_G = mse_weight * MSE(fake, target) + adv_weight * BCE(D(fake), real)``.

    Args:
        fake, target: ``(B, 1, S, S)`` in [-1, 1]. d_fake: ``(B,)`` logits of D on ``fake``, or None to
        skip the adversarial term (warm-up). cfg: weights. weight: optional ``(B, 1, S, S)`` per-pixel
        MSE weights (``mean(weight * (fake - target)^2)``; see ``RefinerConfig.diff_weight``).
    Returns:
        (scalar loss with graph, ``{"g_mse", "g_adv", "g_total"}`` floats; ``g_mse`` is the unweighted MSE).
    """
    mse = F.mse_loss(fake, target)
    if weight is not None:
        total = cfg.mse_weight * (weight * (fake - target) ** 2).mean()
    else:
        total = cfg.mse_weight * mse
    adv = torch.zeros((), device=fake.device)
    if d_fake is not None and cfg.adv_weight > 0:
        adv = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
        total = total + cfg.adv_weight * adv
    return total, {"g_mse": mse.item(), "g_adv": adv.item(), "g_total": total.item()}


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """``L_D = (BCE(D(y), 1) + BCE(D(G(x)), 0)) / 2`` on ``(B,)`` logits; returns (loss, ``{"d_loss"}``)."""
    loss = 0.5 * (
        F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
        + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
    )
    return loss, {"d_loss": loss.item()}


class Trainer:
    """Generator + discriminator + Adam optimisers; :meth:`step` runs one iteration (D step, then G step).

    The loop around it (resume, keep-best, saving, stopping) is :class:`common.training.TrainLoop`, fed with
    :meth:`state`.

    Args:
        cfg: the run's :class:`RefinerConfig`. device: where to train. rank, world_size: DDP position
        (models are wrapped in DistributedDataParallel when ``world_size > 1``).
    """

    def __init__(
        self, cfg: RefinerConfig, device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1
    ):
        self.cfg, self.device, self.rank = cfg, torch.device(device), rank
        torch.manual_seed(cfg.seed)
        self.G: nn.Module = LineGenerator(cfg).to(self.device).to(memory_format=torch.channels_last)
        self.D: nn.Module = LineDiscriminator(cfg).to(self.device).to(memory_format=torch.channels_last)
        if world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.G = nn.parallel.DistributedDataParallel(self.G, device_ids=ids)
            self.D = nn.parallel.DistributedDataParallel(self.D, device_ids=ids)
        betas = (cfg.beta1, 0.999)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=betas)
        self.real = FolderPairs(cfg.pairs_dir) if cfg.pairs_dir else None
        self.last: dict[str, float] = {}

    def state(self) -> dict[str, object]:
        """What a checkpoint holds: ``{"model": G, "D": D, "opt_g": ..., "opt_d": ...}`` (for TrainLoop)."""
        return {"model": self.G, "D": self.D, "opt_g": self.opt_g, "opt_d": self.opt_d}

    def init_generator(self, path: str | Path) -> None:
        """Start G from the generator weights of another checkpoint of the same architecture (warm start).

        Raises:
            CheckpointError: missing/corrupt file, or weights of another architecture.
        """
        ck = load_checkpoint(path, map_location="cpu")
        load_model_state(unwrap_model(self.G), ck["model"])

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of ``step``, ``(B, 1, S, S)`` in [-1, 1] on the training device."""
        c = self.cfg
        x, y = training_batch(
            step, c.batch_size, c.crop_size, c.style, c.seed, self.rank, self.real, c.real_fraction
        )
        cl = torch.channels_last
        return to_signed(x).to(self.device, memory_format=cl), to_signed(y).to(self.device, memory_format=cl)

    def _autocast(self):
        if not self.cfg.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def step(self, step: int) -> dict[str, float]:
        """One iteration on the batch of ``step`` (0-based); returns the losses as floats.

        The MSE is taken before the generator's white-point curve, against :meth:`LineGenerator.raw_target`
        (paper aims at +1, well above the white point); D sees the output after the curve.
        """
        self.G.train()
        self.D.train()
        x, y = self.batch(step)
        gen = unwrap_model(self.G)
        with self._autocast():
            raw = self.G(x, levels=False).float()  # before the white-point curve
        fake = gen.levels(raw)
        adversarial = self.cfg.adv_weight > 0 and step >= self.cfg.adv_warmup
        logs: dict[str, float] = {}
        if adversarial:
            with self._autocast():
                d_real, d_fake = self.D(y).float(), self.D(fake.detach()).float()
            d_loss, d_logs = discriminator_loss(d_real, d_fake)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            logs.update(d_logs)
        d_fake_g = None
        if adversarial:
            with self._autocast():
                d_fake_g = self.D(fake).float()
        weight = None
        if self.cfg.diff_weight > 0:  # |x - y| in [0, 1] units = (|x - y| in [-1, 1] units) / 2
            weight = 1.0 + self.cfg.diff_weight * 0.5 * (x - y).abs()
        g_loss, g_logs = generator_loss(raw, gen.raw_target(y), d_fake_g, self.cfg, weight)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        logs.update(g_logs)
        self.last = logs
        return logs

    @torch.no_grad()
    def eval_mse(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """MSE in [-1, 1] units of G (eval mode) on ``(B, 1, S, S)`` [0, 1] inputs/targets."""
        self.G.eval()
        out = self.G(to_signed(x).to(self.device))
        return F.mse_loss(out, to_signed(y).to(self.device)).item()

    def export(self, path: str | Path, provenance: dict, metrics: dict | None = None, step: int = 0) -> Path:
        """Shippable checkpoint: generator weights only, in fp16, with metrics and provenance."""
        return save_checkpoint(
            path,
            model_state=unwrap_model(self.G).state_dict(),
            config=self.cfg.to_dict(),
            step=step,
            metrics=metrics if metrics is not None else self.last,
            provenance=provenance,
            half=True,
        )


@torch.no_grad()
def validate(
    g: nn.Module, samples: list[SynthSample], device: torch.device | str = "cpu"
) -> dict[str, float]:
    """The held-out figures of :mod:`linerefiner.metrics` for generator ``g`` (run in eval mode, fp32).

    Args:
        g: generator (train mode is restored afterwards). samples: held-out
            :class:`~linerefiner.synth.SynthSample` list (:func:`~linerefiner.synth.heldout_samples`).
    Returns:
        :func:`linerefiner.metrics.summarise` keys with a ``val_`` prefix (``val_target_score`` = gaps
        <= 8 px closed x line F1 x specks removed x paper exactly white, the keep-best figure).
    """
    was_training = g.training
    g.eval()
    scores = []
    for smp in samples:
        x = torch.from_numpy(smp.input)[None, None].to(device)
        out = to_unit(g(to_signed(x)).float())[0, 0].cpu().numpy()
        scores.append(score_drawing(out, smp.input, smp.target, smp.gaps, smp.specks))
    g.train(was_training)
    return {f"val_{k}": float(v) for k, v in summarise(scores).items()}


@dataclass
class RefinerRun:
    """How one training run goes, beyond the stored :class:`RefinerConfig` (the ``train.py`` flags).

    ``max_minutes``: wall-time limit (None or 0: none). ``restart``: move an earlier run aside and start
    over. ``init``: a checkpoint whose generator weights start a fresh run (ignored when resuming).
    ``val_every``: steps between validations. ``val_pairs``: held-out 128 px pairs (seeds 1e9 + 500000 + i).
    """

    max_minutes: float | None = None
    restart: bool = False
    init: str | None = None
    val_every: int = 100
    val_pairs: int = 48


def train_refiner(cfg: RefinerConfig, run: RefinerRun, out_dir: str | Path, ctx: DistributedContext) -> dict:
    """Train (or resume) the refiner GAN with :class:`common.training.TrainLoop` (what ``train.py`` runs).

    Resuming (``out_dir/last.pt`` present and not ``run.restart``) takes the stored config, except ``steps``,
    which ``cfg`` may extend. Files: ``last.pt``, ``best.pt`` and ``refiner_best.pt`` / ``refiner_last.pt``
    (fp16 generator) by the held-out ``val_target_score`` (max), ``config.json``, ``log.txt``.

    Args:
        cfg: the model/data/loss config. run: limits, restart, init and validation of this run.
        out_dir: the run folder (exists). ctx: from :func:`common.device.init_distributed` (DDP when
            ``ctx.distributed``).

    Returns:
        :meth:`TrainLoop.close`'s summary (``step``, ``best``, ``best_step``, ``stopped``, ``wall_s``).

    Raises:
        CheckpointError: an unreadable ``last.pt`` or ``init`` file.
    """
    from common.training import TrainLoop

    out = Path(out_dir)
    resuming = (out / "last.pt").is_file() and not run.restart
    if resuming:  # the stored config defines the run; --steps may extend it
        stored = RefinerConfig.from_dict(load_checkpoint(out / "last.pt", map_location="cpu")["config"])
        stored.steps = cfg.steps
        cfg = stored
    trainer = Trainer(cfg, ctx.device, ctx.rank, ctx.world_size)
    if run.init and not resuming:
        trainer.init_generator(run.init)
    provenance = {
        "data": f"synthetic pairs (linerefiner.synth, style {cfg.style}, seeds < 1e9)"
        + (f" + real pairs {cfg.pairs_dir} ({cfg.real_fraction:.0%})" if cfg.pairs_dir else ""),
        "hardware": f"{ctx.device} x{ctx.world_size}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads",
        "init": run.init,
        "validation": f"{run.val_pairs} held-out pairs of 128 px (seeds 1e9 + 500000 + i)",
    }
    loop = TrainLoop(
        out,
        config=cfg.to_dict(),
        state=trainer.state(),
        max_steps=cfg.steps,
        max_minutes=run.max_minutes or 0.0,
        save_every=cfg.save_every,
        best_metric="val_target_score",
        best_mode="max",
        export_model=trainer.G,
        export_name="refiner",
        fresh=run.restart,
        ctx=ctx,
        log_every=10,
        provenance=provenance,
    )
    loop.resume()
    loop.print(
        f"G {count_parameters(trainer.G):,} params (receptive radius {receptive_radius(cfg)} px), "
        f"D {count_parameters(trainer.D):,} params; style {cfg.style}, {cfg.steps} steps, "
        f"batch {cfg.batch_size}x{cfg.crop_size}^2, world size {ctx.world_size}, device {ctx.device}"
    )
    samples = heldout_samples(cfg.style, run.val_pairs, 128, VAL_OFFSET) if ctx.is_main else []
    for step in loop.steps():
        loop.log(step, **trainer.step(step))
        if loop.due(step, every=run.val_every):
            loop.report(
                step, **(validate(unwrap_model(trainer.G), samples, ctx.device) if ctx.is_main else {})
            )
    return loop.close()
