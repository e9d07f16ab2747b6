"""LineRelifer's run configuration and style names, torch-free: ``linerefiner/train.py --help`` and flag
errors need no torch. :class:`RefinerConfig` is re-exported from :mod:`linerefiner.model`, where it was
defined before; :data:`STYLE_NAMES` are the keys of :data:`linerefiner.synth.STYLES` (a test checks it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

STYLE_NAMES = ("nib", "taper")


@dataclass
class RefinerConfig:
    """Everything that defines a LineRelifer run; stored in every checkpoint and rebuilt from it.

    Model: ``channels`` (64), ``blocks`` residual blocks (4), ``dilated`` (off), ``batch_norm`` (on).
    Loss: ``mse_weight`` x MSE + ``adv_weight`` x BCE (20 and 1, the original ``loss_weights``);
    ``adv_warmup`` generator steps trained on MSE alone before the adversarial term switches on
    (0 = original behaviour). Optimiser: Adam ``lr`` 2e-4, ``beta1`` 0.5. Data: ``batch_size`` 8 crops
    of ``crop_size`` 256 px in target ``style`` (see :data:`linerefiner.synth.STYLES`), optionally mixed
    with real pairs from ``pairs_dir`` at fraction ``real_fraction``. ``steps`` iterations, each one D
    step then one G step; checkpoint every ``save_every`` steps. ``bf16``: bfloat16 autocast for the
    forward passes (fp32 weights and optimiser; about 1.7x faster on AVX512-BF16 CPUs).
    ``white_point`` (0.95; 0 = off): the generator's last operation is the levels curve
    ``u -> min(1, u / white_point)`` on its [0, 1] output, so everything the network puts above the white
    point is paper of exactly 1.0 (trained through, see :class:`LineGenerator`). ``diff_weight`` (0 = plain
    MSE): per-pixel MSE weight ``1 + diff_weight * |x - y|`` ([0, 1] units), which up-weights exactly the
    pixels the damage changed (gaps, specks, gray paper, width).
    """

    channels: int = 64
    blocks: int = 4
    dilated: bool = False
    batch_norm: bool = True
    d_dropout: float = 0.3
    mse_weight: float = 20.0
    adv_weight: float = 1.0
    adv_warmup: int = 0
    lr: float = 2e-4
    beta1: float = 0.5
    batch_size: int = 8
    crop_size: int = 256
    style: str = "taper"
    pairs_dir: str | None = None
    real_fraction: float = 0.0
    steps: int = 10001
    save_every: int = 250
    seed: int = 0
    bf16: bool = False
    white_point: float = 0.95
    diff_weight: float = 0.0

    def to_dict(self) -> dict:
        """Plain dict (JSON-safe) of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RefinerConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys are ignored (older/newer checkpoints)."""
        names = {f.name for f in fields(cls)}
        d = {"white_point": 0.0, **d}  # checkpoints from before the white point had none
        return cls(**{k: v for k, v in d.items() if k in names})
