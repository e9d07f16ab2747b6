"""The painter's configurations, torch-free: ``painter/train.py --help`` and flag errors need no torch.

:class:`PainterConfig` rebuilds a :class:`painter.model.Painter` (stored in its checkpoint);
:class:`PainterTrainConfig` holds every knob of ``painter/train.py``. Both are re-exported from
:mod:`painter.model` and :mod:`painter.training`, where they were defined before.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

PATCH = 128


@dataclass
class PainterConfig:
    """Rebuilds a :class:`painter.model.Painter` (stored in its checkpoint)."""

    strokes_per_call: int = 5
    patch: int = PATCH
    coord: bool = True  # two CoordConv planes after (target, canvas); False for checkpoints from before
    arch: str = "resnet18"  # "resnet18" (paper) or "anchors" (painter.anchor_model, issue 10)
    width: int = 32  # first-stage channels of the "anchors" network
    levels: tuple = (1, 2, 4, 8, 16)  # anchor grids (cells per side) of the "anchors" network
    # "anchors": 0 = thickness bounded by the cell like the length (the strokes came out square);
    # r > 0 = thickness between r / 2 and r times the length (elongated, oriented strokes)
    stroke_ratio: float = 0.0


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
    init: str = ""  # painter checkpoint whose weights a fresh run starts from ("" = new weights)
    clip: float = 1.0  # gradient-norm clip of the painter update ("gains"; 0 = none)
    val_calls: tuple = (1, 5, 20)  # keep-best val_mse: mean held-out MSE after these calls from black
    save_every: int = 100
    max_minutes: float = 0.0  # stop (and save) after this wall time; 0 = no limit
    seed: int = 0
    model: dict = field(default_factory=lambda: asdict(PainterConfig()))
