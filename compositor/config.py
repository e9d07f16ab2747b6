"""The compositor's configurations, torch-free: ``compositor/train.py --help`` and flag errors need no torch.

:class:`CompositorConfig` rebuilds a :class:`compositor.model.Actor` (stored in its checkpoint);
:class:`CompositorTrainConfig` holds every knob of ``compositor/train.py``. Both are re-exported from
:mod:`compositor.model` and :mod:`compositor.training`, where they were defined before.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from painter.config import PATCH  # the painter's patch side: the compositor crops its regions to it


@dataclass
class CompositorConfig:
    """Rebuilds a :class:`compositor.model.Actor` (stored in its checkpoint)."""

    min_box: float = 0.08  # smallest box side, fraction of the region side (release: none)
    patch: int = PATCH
    coord: bool = True  # two CoordConv planes after (target, canvas); False for checkpoints from before
    head: str = "anchors"  # "anchors": scores over ANCHOR_SIDES boxes; "corners": 4 sigmoids (paper)


@dataclass
class CompositorTrainConfig:
    """Every knob of ``compositor/train.py`` (defaults sized for a 2-core CPU; the paper's in brackets)."""

    dataset: str | None = None
    painter: str = ""  # painter checkpoint; "" = the shipped checkpoints/cnp_painter.pt
    episodes: int = 200  # [2M env steps / 100 steps]
    env_batch: int = 8  # parallel environments [32]
    max_step: int = 10  # compositor steps per episode [100]
    calls: int = 4  # painter calls per region (4 x 5 = 20 strokes) [4]
    updates: int = 10  # updates after each episode [50]
    batch_size: int = 16  # [32]
    buffer: int = 4000  # transitions [80k]
    warmup: int = 32  # transitions before the first update [120 steps x 32]
    reward: str = "paper"  # paper | piecewise | plain
    noise: float = 0.1  # Gaussian exploration noise on actions [0]
    teacher_prob: float = 0.3  # fraction of episode steps acting with the imitation teacher
    bc_weight: float = 1.0  # imitation term of the actor loss (0 = plain DDPG)
    bc_episodes: int = 0  # first episodes: imitation-only actor updates (no critic), cheap warm start
    teacher: str = "lookahead"  # imitation teacher: mode 1's look-ahead picker | "greedy" (env.teacher_box)
    critic_warmup: int = 0  # first DDPG updates train the critic only (the actor waits)
    lr_actor: float = 1e-4
    lr_critic: float = 3e-4
    tau: float = 0.01  # [0.001]
    max_minutes: float = 0.0
    opencv: bool = False  # also train on the opencv-doc photos (painter.data.train_opencv_names)
    init: str = ""  # actor checkpoint to start from (e.g. the shipped actor); "" = fresh weights
    val_every: int = 5  # episodes between held-out validations (keep-best by val_mse_actor)
    val_crops: int = 16  # held-out crops of the validation (compositor.validation.val_crops)
    val_strokes: int = 200  # strokes each validation crop is painted with (compositor.paint)
    seed: int = 0
    model: dict = field(default_factory=lambda: asdict(CompositorConfig()))
