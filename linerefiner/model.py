"""LineRelifer networks: a full-resolution residual generator and a global discriminator.

Shapes: B batch, H, W image size. Images entering both networks are gray ``(B, 1, H, W)`` float in
[-1, 1] (white paper = +1, black ink = -1), the original's ``x / 127.5 - 1``.

- :class:`LineGenerator` (reference B.1): Conv3x3-64 + ReLU, ``blocks`` residual blocks
  ``Conv3x3 -> BN -> ReLU -> Conv3x3 -> BN -> + skip -> ReLU``, then Conv1x1 -> 1 channel -> tanh.
  No stride, no pooling: output size == input size, receptive field 19x19 px with 4 blocks.
  ``dilated=True`` gives block ``i`` the dilation ``2 ** (i mod 4)`` (1, 2, 4, 8, ...) for wider gaps.
- :class:`LineDiscriminator` (reference B.1): Conv4x4/2 16-32-64-128 with ReLU, Dropout 0.3,
  Conv4x4/2 256, Dropout 0.3, Flatten, Linear -> 1 logit (global, not PatchGAN). The Linear size is
  fixed by the training crop size (``8 x 8 x 256`` for 256 px crops).
"""

from __future__ import annotations

import torch
from torch import nn

from linerefiner.config import RefinerConfig  # noqa: F401 - torch-free, re-exported here


def block_dilations(cfg: RefinerConfig) -> list[int]:
    """Dilation of each residual block: all 1, or 1, 2, 4, 8 repeating when ``cfg.dilated``."""
    return [2 ** (i % 4) if cfg.dilated else 1 for i in range(cfg.blocks)]


def receptive_radius(cfg: RefinerConfig) -> int:
    """Receptive-field radius of :class:`LineGenerator` in pixels.

    The input conv adds 1, each residual block adds ``2 * dilation`` (two 3x3 convs), the 1x1 output
    conv adds 0. With 4 plain blocks: 9 (a 19 x 19 field); 4 dilated blocks: 31. A tile margin of at
    least this many pixels makes tiled inference equal to whole-image inference.
    """
    return 1 + sum(2 * d for d in block_dilations(cfg))


class ResidualBlock(nn.Module):
    """Conv3x3 -> BN -> ReLU -> Conv3x3 -> BN -> add skip -> ReLU at constant resolution.

    Args:
        channels: feature channels C. dilation: dilation (and 'same' padding) of both convs.
        batch_norm: use BatchNorm2d (the original) or identity.
    Input/output: ``(B, C, H, W)`` float.
    """

    def __init__(self, channels: int, dilation: int = 1, batch_norm: bool = True):
        super().__init__()
        norm = nn.BatchNorm2d if batch_norm else (lambda c: nn.Identity())
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.bn1 = norm(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.bn2 = norm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(x + y)


class LineGenerator(nn.Module):
    """LineRelifer generator G: thin uniform lines -> styled lines, same resolution.

    Input ``(B, 1, H, W)`` float in [-1, 1] (any H, W >= 1); output ``(B, 1, H, W)`` in (-1, 1] (tanh,
    then with ``cfg.white_point`` p > 0 the levels curve ``u = min(1, u / p)`` on ``u = (out + 1) / 2``, so
    values the network puts above p come out as paper of exactly +1). Built from a :class:`RefinerConfig`
    (channels, blocks, dilated, batch_norm, white_point).
    """

    def __init__(self, cfg: RefinerConfig):
        super().__init__()
        c = cfg.channels
        self.head = nn.Conv2d(1, c, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(c, d, cfg.batch_norm) for d in block_dilations(cfg)])
        self.tail = nn.Conv2d(c, 1, 1)
        self.white_point = float(cfg.white_point)

    def forward(self, x: torch.Tensor, levels: bool = True) -> torch.Tensor:
        """``levels=False`` returns the tanh output before the white-point curve (what training fits)."""
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"LineGenerator expects (B, 1, H, W) gray in [-1, 1], got {tuple(x.shape)}")
        y = torch.tanh(self.tail(self.body(torch.relu(self.head(x)))))
        return self.levels(y) if levels else y

    def levels(self, y: torch.Tensor) -> torch.Tensor:
        """The white-point curve on ``(B, 1, H, W)`` [-1, 1]: ``u -> min(1, u / p)`` in [0, 1] units."""
        if self.white_point > 0:  # levels: [0, p] -> [0, 1], above p -> exactly 1 (paper)
            y = (((y + 1) * (0.5 / self.white_point)).clamp(max=1.0) * 2 - 1).to(y.dtype)
        return y

    def raw_target(self, y: torch.Tensor) -> torch.Tensor:
        """Target of the tanh output for a target drawing ``y`` ``(B, 1, H, W)`` [-1, 1]: paper (y = +1)
        maps to +1, far above the white point, so that the fit keeps paper there with a margin instead of
        hovering at the clamp's edge; other values are ``u * p`` (the curve's inverse)."""
        if self.white_point <= 0:
            return y
        u = (y + 1) * 0.5
        return torch.where(u >= 1.0, torch.ones_like(u), u * self.white_point) * 2 - 1


class LineDiscriminator(nn.Module):
    """LineRelifer discriminator D: one real/fake logit per whole crop.

    Input ``(B, 1, S, S)`` float in [-1, 1] with S = ``cfg.crop_size`` (a multiple of 32); output
    ``(B,)`` logits (apply sigmoid for the original's probability; the loss uses BCE-with-logits).
    Raises ValueError for another crop size, since the final Linear layer is sized by S.
    """

    def __init__(self, cfg: RefinerConfig):
        super().__init__()
        if cfg.crop_size % 32:
            raise ValueError(f"crop_size must be a multiple of 32 for the discriminator, got {cfg.crop_size}")
        layers: list[nn.Module] = []
        cin = 1
        for cout in (16, 32, 64, 128):
            layers += [nn.Conv2d(cin, cout, 4, stride=2, padding=1), nn.ReLU(inplace=True)]
            cin = cout
        layers += [
            nn.Dropout(cfg.d_dropout),
            nn.Conv2d(128, 256, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.d_dropout),
            nn.Flatten(),
        ]
        self.features = nn.Sequential(*layers)
        self.crop_size = cfg.crop_size
        side = cfg.crop_size // 32
        self.fc = nn.Linear(256 * side * side, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[-1] != self.crop_size or x.shape[-2] != self.crop_size:
            raise ValueError(
                f"LineDiscriminator expects (B, 1, {self.crop_size}, {self.crop_size}), got {tuple(x.shape)}"
            )
        return self.fc(self.features(x)).squeeze(1)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
