"""LineRelifer training: losses, one adversarial step, held-out validation (DDP-ready; the loop is TrainLoop).

Shapes: B batch, S crop size. Images in the losses are ``(B, 1, S, S)`` in [-1, 1] (paper = +1).

Losses (reference B.2, the original's ``loss_weights=[20, 1]``), with y = target, x = input, G generator,
D discriminator logits, sigma the logistic function, BCE(p, l) = -[l log p + (1 - l) log(1 - p)]:

- ``L_D = 1/2 [BCE(sigma(D(y)), 1) + BCE(sigma(D(G(x))), 0)]``          (:func:`discriminator_loss`)
- ``L_G = lambda_mse * mean((G(x) - y)^2) + lambda_adv * BCE(sigma(D(G(x))), 1)``   (:func:`generator_loss`)
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from common.checkpoint import load_checkpoint, load_model_state, save_checkpoint
from common.device import unwrap_model
from linerefiner.metrics import score_drawing, summarise
from linerefiner.model import LineDiscriminator, LineGenerator, RefinerConfig
from linerefiner.synth import FolderPairs, SynthSample, training_batch


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


def export_generator(src: str | Path, dst: str | Path, **provenance) -> Path:
    """Shippable fp16 generator-only file ``dst`` from a TrainLoop checkpoint ``src`` (best.pt, last.pt).

    Keeps ``src``'s config, step (completed steps), validation metrics and provenance (data, command, wall
    time...), adding ``provenance`` and ``steps``. Raises CheckpointError for a missing/corrupt ``src``.
    """
    ck = load_checkpoint(src, map_location="cpu")
    return save_checkpoint(
        dst,
        model_state=ck["model"],
        config=ck["config"],
        step=int(ck["step"]),
        metrics=dict(ck["metrics"]),
        provenance={**ck["provenance"], "steps": int(ck["step"]), **provenance},
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
