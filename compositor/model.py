"""CNP compositor ("where to paint"): DDPG actor and critic, boxes, and patch <-> canvas stroke mapping.

Shape letters: B batch (environments), N strokes, H, W canvas size. A box is ``(x0, y0, x1, y1)``,
normalised to the canvas (x = column / W, y = row / H), ``x0 < x1``, ``y0 < y1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torchvision
from torch import nn
from torchvision.ops import roi_align

from painter.model import coord_planes

PATCH = 128


@dataclass
class CompositorConfig:
    """Rebuilds an :class:`Actor` (stored in its checkpoint)."""

    min_box: float = 0.08  # smallest box side, fraction of the region side (release: none)
    patch: int = PATCH
    coord: bool = True  # two CoordConv planes after (target, canvas); False for checkpoints from before


def _resnet18(in_channels: int, out: int, batch_norm: bool = True) -> nn.Module:
    norm = None if batch_norm else (lambda c: nn.Identity())
    net = torchvision.models.resnet18(num_classes=out, norm_layer=norm)
    net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=2, padding=1, bias=False)
    return net


class Actor(nn.Module):
    """ResNet-18 (BN) policy mu(s): (target, canvas) region at 128 -> 4 sigmoid outputs (two corners).

    The input order is (target, canvas), the same as the painter's, then (``config.coord``, default)
    two CoordConv planes (not in the paper; a box regressor has to know where it looks).
    """

    def __init__(self, config: CompositorConfig | None = None) -> None:
        super().__init__()
        self.config = config or CompositorConfig()
        self.net = _resnet18(8 if self.config.coord else 6, 4)

    def forward(self, target: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) target and canvas in [0, 1] -> (B, 4) action in [0, 1] (x_a, y_a, x_b, y_b)."""
        x = torch.cat([target, canvas], dim=1)
        if x.shape[-1] != self.config.patch or x.shape[-2] != self.config.patch:
            x = nn.functional.interpolate(x, size=(self.config.patch,) * 2, mode="bilinear", antialias=True)
        if self.config.coord:
            x = torch.cat([x, coord_planes(x)], dim=1)
        return torch.sigmoid(self.net(x))


class Critic(nn.Module):
    """Action-conditioned Q(s, a): ResNet-18 without BatchNorm on (target, canvas, 4 action planes)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = _resnet18(10, 1, batch_norm=False)

    def forward(self, target: torch.Tensor, canvas: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(B, 3, 128, 128) x2 and (B, 4) action -> (B,) Q values."""
        planes = action[:, :, None, None].expand(-1, -1, *target.shape[-2:])
        return self.net(torch.cat([target, canvas, planes], dim=1))[:, 0]


def action_to_box(action: torch.Tensor, min_size: float) -> torch.Tensor:
    """Sort the two corners and enforce a minimum side, keeping the box inside [0, 1].

    Args:
        action: (B, 4) in [0, 1].
        min_size: smallest side, fraction of the region (the release had none, so a 1-pixel box could be
            blown up to 128 pixels).

    Returns:
        (B, 4) boxes ``(x0, y0, x1, y1)`` with ``x1 - x0 >= min_size`` and ``y1 - y0 >= min_size``.
    """
    lo = torch.minimum(action[:, :2], action[:, 2:])
    hi = torch.maximum(action[:, :2], action[:, 2:])
    centre = (lo + hi) / 2
    half = torch.maximum(hi - lo, torch.full_like(lo, min_size)) / 2
    centre = torch.minimum(torch.maximum(centre, half), 1 - half)
    return torch.cat([centre - half, centre + half], dim=1)


def box_to_action(box: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`action_to_box` for boxes already valid: (B, 4) -> (B, 4)."""
    return box.clone()


def sub_box(outer: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
    """Absolute box of ``inner`` given relative to ``outer``; both (B, 4) normalised."""
    size = outer[:, 2:] - outer[:, :2]
    return torch.cat([outer[:, :2] + inner[:, :2] * size, outer[:, :2] + inner[:, 2:] * size], dim=1)


def crop_boxes(images: torch.Tensor, boxes: torch.Tensor, size: int = PATCH) -> torch.Tensor:
    """Crop normalised boxes from images and resample each to ``size x size`` (area-averaging).

    Args:
        images: (B, C, H, W). boxes: (B, 4) normalised ``(x0, y0, x1, y1)``.

    Returns:
        (B, C, size, size); differentiable (``torchvision.ops.roi_align`` with adaptive sampling).
    """
    h, w = images.shape[-2:]
    scale = torch.tensor([w, h, w, h], dtype=images.dtype, device=images.device)
    rois = torch.cat(
        [torch.arange(len(boxes), device=images.device, dtype=images.dtype)[:, None], boxes * scale], 1
    )
    return roi_align(images, rois, output_size=size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)


def patch_to_canvas(strokes: torch.Tensor, boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Map ``oil`` strokes painted on a square patch of a box to the full canvas's coordinates.

    A box that is not square in pixels stretches its patch anisotropically; the stretched rectangle is
    a parallelogram, which is replaced by the rectangle with the same length axis and the same area
    (exact when the box is square in pixels).

    Args:
        strokes: (B, N, 8) in the patch's coordinates. boxes: (B, 4) normalised boxes on the canvas.
        height, width: canvas size in pixels.

    Returns:
        (B, N, 8) strokes in canvas coordinates (sizes relative to ``min(height, width)``), in [0, 1]
        except sizes of strokes larger than the canvas.
    """
    x0, y0, x1, y1 = (boxes[:, i, None] for i in range(4))  # each (B, 1)
    sx = (x1 - x0) * width  # region width in canvas pixels per unit of patch
    sy = (y1 - y0) * height
    short = float(min(height, width))
    ang = strokes[..., 4] * math.pi
    cos, sin = torch.cos(ang), torch.sin(ang)
    half_l, half_t = strokes[..., 2] / 2, strokes[..., 3] / 2  # fractions of the patch side
    lx, ly = half_l * cos * sx, half_l * sin * sy  # length half-axis in canvas pixels
    tx, ty = -half_t * sin * sx, half_t * cos * sy
    len_l = torch.sqrt(lx * lx + ly * ly + 1e-12)
    half_thick = (lx * ty - ly * tx).abs() / len_l
    theta = torch.remainder(torch.atan2(ly, lx), math.pi) / math.pi
    return torch.stack(
        [
            x0 + strokes[..., 0] * (x1 - x0),
            y0 + strokes[..., 1] * (y1 - y0),
            2 * len_l / short,
            2 * half_thick / short,
            theta,
            strokes[..., 5],
            strokes[..., 6],
            strokes[..., 7],
        ],
        dim=-1,
    )


def load_actor(path, device: torch.device | str = "cpu") -> Actor:
    """Rebuild the :class:`Actor` from a checkpoint written by ``compositor/train.py`` (eval mode).

    Raises:
        CheckpointError: missing file (the message names where the shipped file belongs), foreign file or
            mismatch.
    """
    from common.checkpoint import load_checkpoint, load_model_state

    ckpt = load_checkpoint(
        path,
        hint="the shipped compositor is checkpoints/cnp_compositor.pt; train one: python compositor/train.py",
    )
    cfg = {"coord": False, **ckpt["config"].get("model", {})}  # checkpoints without the key predate it
    actor = Actor(
        CompositorConfig(**{k: v for k, v in cfg.items() if k in CompositorConfig.__dataclass_fields__})
    )
    load_model_state(actor, ckpt)
    return actor.to(device).eval()
