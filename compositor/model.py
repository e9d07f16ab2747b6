"""CNP compositor ("where to paint"): DDPG actor and critic, boxes, and patch <-> canvas stroke mapping.

Shape letters: B batch (environments), N strokes, H, W canvas size. A box is ``(x0, y0, x1, y1)``,
normalised to the canvas (x = column / W, y = row / H), ``x0 < x1``, ``y0 < y1``.
"""

from __future__ import annotations

import math

import torch
import torchvision
from torch import nn
from torchvision.ops import roi_align

from compositor.config import PATCH, CompositorConfig  # noqa: F401 - torch-free, re-exported here
from painter.model import coord_planes

# Anchor boxes of the "anchors" head: square boxes of these sides (fractions of the region), placed
# with a stride of half their side: 1 + 9 + 49 + 225 = 284 boxes.
ANCHOR_SIDES = (1.0, 0.5, 0.25, 0.125)


def anchor_boxes(sides=ANCHOR_SIDES) -> torch.Tensor:
    """All anchor boxes: (K, 4) normalised ``(x0, y0, x1, y1)``, largest side first, raster order."""
    out = []
    for side in sides:
        n = max(1, round(2 / side) - 1)  # positions per axis at stride side / 2
        starts = torch.arange(n, dtype=torch.float32) * side / 2
        y0, x0 = torch.meshgrid(starts, starts, indexing="ij")
        x0, y0 = x0.flatten(), y0.flatten()
        out.append(torch.stack([x0, y0, x0 + side, y0 + side], 1))
    return torch.cat(out).clamp(0, 1)


def nearest_anchor(boxes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Index (E,) of the anchor (K, 4) closest (L1 over the corners) to each box (E, 4)."""
    return (boxes[:, None] - anchors[None].to(boxes)).abs().sum(-1).argmin(1)


def _resnet18(in_channels: int, out: int, batch_norm: bool = True) -> nn.Module:
    norm = None if batch_norm else (lambda c: nn.Identity())
    net = torchvision.models.resnet18(num_classes=out, norm_layer=norm)
    net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=2, padding=1, bias=False)
    return net


class Actor(nn.Module):
    """ResNet-18 (BN) policy mu(s): (target, canvas) region at ``config.patch`` -> a box.

    The input order is (target, canvas), the same as the painter's, then (``config.coord``, default)
    two CoordConv planes (not in the paper; a box predictor has to know where it looks).

    Heads: ``"corners"`` is the paper's (4 sigmoid outputs, two corners). ``"anchors"`` (default, not in
    the paper) scores the K = 284 boxes of :func:`anchor_boxes` from the ResNet's stages, like a
    detector (boxes of side 1/8 from layer1 pooled to 16 x 16 cells, 1/4 from layer2 at 8 x 8, 1/2 from
    layer3 at 4 x 4, 1 from layer4 at 2 x 2, each by a 2 x 2 convolution over the cells under the box,
    plus a per-side bias from the globally pooled layer4 features); the action is the best box, and
    the differentiable action that DDPG's actor update needs is the softmax-weighted mean box
    (:meth:`soft_action`). Regressing corners towards a teacher whose boxes jump between equally good
    places learns the mean of those places (measured: the corner actor repainted one central box, MSE
    0.0253 vs 0.0112 for a grid); scoring boxes keeps the modes apart.
    """

    def __init__(self, config: CompositorConfig | None = None) -> None:
        super().__init__()
        self.config = config or CompositorConfig()
        if self.config.head not in ("anchors", "corners"):
            raise ValueError(f"head must be 'anchors' or 'corners', got {self.config.head!r}")
        in_channels = 8 if self.config.coord else 6
        if self.config.head == "corners":
            self.net = _resnet18(in_channels, 4)
            return
        self.register_buffer("anchors", anchor_boxes(), persistent=False)
        self.net = _resnet18(in_channels, len(ANCHOR_SIDES))  # fc: one bias per side from global features
        # One 2 x 2 scoring conv per side s on the stage whose map, pooled to 2 / s cells, has cells of
        # s / 2: score (i, j) reads exactly the 2 x 2 cells under anchor (i, j) (a detection-style head).
        self.score_convs = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=2) for c in (512, 256, 128, 64))

    def _input(self, target: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
        x = torch.cat([target, canvas], dim=1)
        if x.shape[-1] != self.config.patch or x.shape[-2] != self.config.patch:
            x = nn.functional.interpolate(x, size=(self.config.patch,) * 2, mode="bilinear", antialias=True)
        if self.config.coord:
            x = torch.cat([x, coord_planes(x)], dim=1)
        return x

    def _features(self, target: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
        """Corners head: (B, 4) pre-sigmoid outputs. Anchors head: (B, K) logits."""
        x = self._input(target, canvas)
        if self.config.head == "corners":
            return self.net(x)
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        stages = []
        for layer in (n.layer1, n.layer2, n.layer3, n.layer4):
            x = layer(x)
            stages.append(x)
        side_bias = n.fc(torch.flatten(n.avgpool(x), 1))  # (B, 4)
        scores = []
        for i, (side, feat, conv) in enumerate(
            zip(ANCHOR_SIDES, reversed(stages), self.score_convs, strict=True)
        ):
            cells = max(2, round(2 / side))
            pooled = nn.functional.adaptive_avg_pool2d(feat, cells)
            scores.append(conv(pooled).flatten(1) + side_bias[:, i : i + 1])
        return torch.cat(scores, 1)

    def scores(self, target: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
        """(B, K) unnormalised anchor scores for (B, 3, S, S) target and canvas in [0, 1], in the order of
        :func:`anchor_boxes` (K = 284).

        Raises:
            ValueError: if the actor has the "corners" head.
        """
        if self.config.head != "anchors":
            raise ValueError("scores() needs the 'anchors' head")
        return self._features(target, canvas)

    def soft_action(self, target: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
        """Differentiable action (B, 4) in [0, 1]: the sigmoid corners, or the softmax-weighted mean
        anchor box."""
        out = self._features(target, canvas)
        if self.config.head == "corners":
            return torch.sigmoid(out)
        return out.softmax(-1) @ self.anchors

    def forward(self, target: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) target and canvas in [0, 1] -> (B, 4) action in [0, 1] (x_a, y_a, x_b, y_b):
        the sigmoid corners, or the best-scoring anchor box."""
        out = self._features(target, canvas)
        if self.config.head == "corners":
            return torch.sigmoid(out)
        return self.anchors[out.argmax(-1)]


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


def crop_many(image: torch.Tensor, boxes: torch.Tensor, size: int = PATCH) -> torch.Tensor:
    """Crop M normalised boxes from ONE image: (1, C, H, W), (M, 4) -> (M, C, size, size).

    The same resampling as :func:`crop_boxes` (``roi_align``, adaptive sampling) without expanding the
    image to M copies (``crop_boxes(image.expand(M, ...))`` made roi_align copy the whole image M times:
    35 of 79 s of a 1000-stroke look-ahead painting).
    """
    h, w = image.shape[-2:]
    scale = torch.tensor([w, h, w, h], dtype=image.dtype, device=image.device)
    rois = torch.cat([torch.zeros(len(boxes), 1, device=image.device, dtype=image.dtype), boxes * scale], 1)
    return roi_align(image, rois, output_size=size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)


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
    # checkpoints without these keys predate them
    cfg = {"coord": False, "head": "corners", **ckpt["config"].get("model", {})}
    actor = Actor(
        CompositorConfig(**{k: v for k, v in cfg.items() if k in CompositorConfig.__dataclass_fields__})
    )
    load_model_state(actor, ckpt)
    return actor.to(device).eval()
