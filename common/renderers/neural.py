"""Neural stroke renderer: Learning-to-Paint's FCN (Huang, Heng & Zhou, ICCV 2019, "Learning to Paint With
Model-based Deep Reinforcement Learning", Sec. 3.3 / the released ``Renderer/model.py`` architecture).

Shape letters: M strokes (flattened batch), D parameters per stroke (``in_dim``).

Architecture (rewritten from the paper's description)::

    params (M, D) -> fc D-512 -> ReLU -> fc 512-1024 -> ReLU -> fc 1024-2048 -> ReLU -> fc 2048-4096 -> ReLU
      -> view (M, 16, 16, 16)
      -> conv3x3 16-32 -> ReLU -> conv3x3 32-32   -> PixelShuffle(2) -> (M,  8, 32, 32)
      -> conv3x3 8-16  -> ReLU -> conv3x3 16-16   -> PixelShuffle(2) -> (M,  4, 64, 64)
      -> conv3x3 4-8   -> ReLU -> conv3x3 8-4*C   -> PixelShuffle(2) -> (M,  C, 128, 128) -> sigmoid

Departure from the release: the original returns ``1 - sigmoid(x)`` (a white-on-black "canvas" image); here
channel 0 is the stroke's alpha/coverage directly (1 = fully covered), which is what the compositing
functions take, and ``out_channels > 1`` adds channels (e.g. a brush-texture shading map for ``oil``).

The FCN imitates an analytic renderer: train it with ``l2_loss(fcn(params), <name>_alpha(params on 128x128))``
(see ``segpaint/train.py``, ``compositor/train_renderer_FCN.py``). Save/restore it with
``common.checkpoint`` using :meth:`FCNRenderer.config` and :meth:`FCNRenderer.from_config`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["FCNRenderer", "FCN_SIZE"]

#: Side of the FCN's output patch in pixels.
FCN_SIZE = 128


class FCNRenderer(nn.Module):
    """Learning-to-Paint's fully-connected + PixelShuffle stroke renderer.

    Args:
        in_dim: parameters per stroke D (e.g. 10 for bezier13 without colour, 5 for oil's shape).
        out_channels: output channels C (channel 0 = alpha/coverage).

    Forward:
        params: ``(M, in_dim)`` float, normally in [0, 1] (the stroke format's normalised parameters).
        returns: ``(M, out_channels, 128, 128)`` float in [0, 1]; same device/dtype as the module.

    Raises (forward):
        ValueError: ``params`` not ``(M, in_dim)``.
    """

    def __init__(self, in_dim: int, out_channels: int = 1) -> None:
        super().__init__()
        if in_dim < 1 or out_channels < 1:
            raise ValueError(f"in_dim and out_channels must be >= 1, got {in_dim}, {out_channels}")
        self.in_dim = int(in_dim)
        self.out_channels = int(out_channels)
        self.fc1 = nn.Linear(in_dim, 512)
        self.fc2 = nn.Linear(512, 1024)
        self.fc3 = nn.Linear(1024, 2048)
        self.fc4 = nn.Linear(2048, 4096)
        self.conv1 = nn.Conv2d(16, 32, 3, 1, 1)
        self.conv2 = nn.Conv2d(32, 32, 3, 1, 1)
        self.conv3 = nn.Conv2d(8, 16, 3, 1, 1)
        self.conv4 = nn.Conv2d(16, 16, 3, 1, 1)
        self.conv5 = nn.Conv2d(4, 8, 3, 1, 1)
        self.conv6 = nn.Conv2d(8, 4 * out_channels, 3, 1, 1)
        self.pixel_shuffle = nn.PixelShuffle(2)

    def config(self) -> dict[str, Any]:
        """Constructor arguments, for ``save_checkpoint(config=...)``."""
        return {"in_dim": self.in_dim, "out_channels": self.out_channels}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FCNRenderer:
        """Rebuild from :meth:`config` (extra keys are ignored), or from a trainer's stored config
        ``{"model": {...}, "train": {...}}`` (``common.renderers.neural_training``)."""
        config = config.get("model", config)
        return cls(int(config["in_dim"]), int(config.get("out_channels", 1)))

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        if params.dim() != 2 or params.shape[1] != self.in_dim:
            raise ValueError(f"FCNRenderer expects params (M, {self.in_dim}), got {tuple(params.shape)}")
        x = F.relu(self.fc1(params))
        x = F.relu(self.fc2(x))
        x = F.relu(self.fc3(x))
        x = F.relu(self.fc4(x))
        x = x.view(-1, 16, 16, 16)  # (M, 16, 16, 16)
        x = self.pixel_shuffle(self.conv2(F.relu(self.conv1(x))))  # (M, 8, 32, 32)
        x = self.pixel_shuffle(self.conv4(F.relu(self.conv3(x))))  # (M, 4, 64, 64)
        x = self.pixel_shuffle(self.conv6(F.relu(self.conv5(x))))  # (M, C, 128, 128)
        return torch.sigmoid(x)
