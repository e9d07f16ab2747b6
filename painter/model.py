"""CNP painter ("what to paint") and its WGAN critic.

Shape letters: B batch, N strokes (5 per painter call), P = 8 ``oil`` parameters, H = W = 128 patch.

The painter always takes the channels in ONE order, ``(target, canvas)``, everywhere (training,
compositor, test, stylization): the release mixed ``(target, canvas)`` in training with
``(canvas, target)`` at test time.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from common.compositing import composite_sequential
from common.renderers.oil import NUM_PARAMS, oil_edge, oil_maps, render_oil
from painter.config import PATCH, PainterConfig  # noqa: F401 - torch-free, re-exported here

# Where the 5 strokes of a call start (output-layer prior) and which labelled stroke each one learns in
# the warm start: the patch centre and the four quadrant centres, (x, y) fractions of the patch.
STROKE_ANCHORS = ((0.5, 0.5), (0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75))


def build_painter(config: PainterConfig) -> nn.Module:
    """The painter network named by ``config.arch``: :class:`Painter` (ResNet-18, the paper's) or
    :class:`painter.anchor_model.AnchorPainter`. Both map (B, 3, S, S) target and canvas to (B, 5, 8).

    Raises:
        ValueError: unknown ``arch``.
    """
    if config.arch == "resnet18":
        return Painter(config)
    if config.arch == "anchors":
        from painter.anchor_model import AnchorPainter

        return AnchorPainter(config)
    raise ValueError(f"unknown painter arch {config.arch!r} (resnet18, anchors)")


class Painter(nn.Module):
    """ResNet-18 (BasicBlock [2, 2, 2, 2], BatchNorm) mapping (target, canvas) to 5 oil strokes.

    Input channels: target (3), canvas (3) and, with ``config.coord`` (default), two CoordConv planes
    (row, column in [-1, 1]; not in the paper: they let a short CPU training learn *where* the error is,
    as Learning to Paint's actor does). The stem is a 3x3 stride-2 conv on them followed by max-pooling,
    so a 128 patch is reduced 128 -> 64 -> 32 -> 16 -> 8 -> 4 as in the release; then global average
    pooling, FC 512 -> 40,
    sigmoid.
    """

    def __init__(self, config: PainterConfig | None = None) -> None:
        super().__init__()
        self.config = config or PainterConfig()
        net = torchvision.models.resnet18(num_classes=self.config.strokes_per_call * NUM_PARAMS)
        in_channels = 8 if self.config.coord else 6
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=2, padding=1, bias=False)
        self.net = net
        self._init_stroke_prior()

    @torch.no_grad()
    def _init_stroke_prior(self) -> None:
        """Start from small strokes spread over the patch (not in the paper; see painter/__init__.py).

        The output bias puts the 5 strokes of a call at the centre and the four quadrant centres with
        length and thickness 0.25 of the patch, and the FC weights are scaled by 0.1, so training starts
        in the "many local strokes" regime instead of the one-big-stroke optimum that a short training
        run otherwise falls into.
        """
        fc = self.net.fc
        fc.weight.mul_(0.1)
        n = self.config.strokes_per_call
        centres = STROKE_ANCHORS
        bias = torch.zeros(n, NUM_PARAMS)
        for i in range(n):
            cx, cy = centres[i % len(centres)]
            bias[i, 0], bias[i, 1] = torch.logit(torch.tensor(cx)), torch.logit(torch.tensor(cy))
            bias[i, 2] = bias[i, 3] = torch.logit(torch.tensor(0.25))
        fc.bias.copy_(bias.flatten())

    def forward(self, target: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
        """Predict strokes for a patch.

        Args:
            target: (B, 3, 128, 128) target patch in [0, 1].
            canvas: (B, 3, 128, 128) current canvas patch in [0, 1].

        Returns:
            (B, 5, 8) ``oil`` strokes in [0, 1], in the patch's own coordinates (x, y fractions of the
            patch, w, h fractions of its side).
        """
        if target.shape != canvas.shape or target.dim() != 4 or target.shape[1] != 3:
            raise ValueError(
                f"target and canvas must both be (B, 3, H, W), got {target.shape}, {canvas.shape}"
            )
        x = torch.cat([target, canvas], dim=1)  # (B, 6, 128, 128): fixed order (target, canvas)
        if self.config.coord:
            x = torch.cat([x, coord_planes(x)], dim=1)  # (B, 8, 128, 128)
        out = torch.sigmoid(self.net(x))
        return out.view(-1, self.config.strokes_per_call, NUM_PARAMS)


def coord_planes(x: torch.Tensor) -> torch.Tensor:
    """CoordConv planes (Liu et al. 2018; Learning to Paint's actor input) for a (B, C, H, W) batch:
    (B, 2, H, W), channel 0 the pixel-centre row and channel 1 the column, both mapped to [-1, 1]."""
    b, _, h, w = x.shape
    ys = (torch.arange(h, device=x.device, dtype=x.dtype) + 0.5) / h * 2 - 1
    xs = (torch.arange(w, device=x.device, dtype=x.dtype) + 0.5) / w * 2 - 1
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"))  # (2, H, W)
    return grid[None].expand(b, -1, -1, -1)


class TReLU(nn.Module):
    """ReLU with a learnable threshold: ``max(x - a, 0) + a`` (Learning to Paint's critic)."""

    def __init__(self) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x - self.alpha) + self.alpha


class Critic(nn.Module):
    """WGAN critic on the canvas only: 5 weight-normalised 5x5 stride-2 convs 3-16-32-64-128-1, TReLU,
    global average pooling; (B, 3, 128, 128) -> (B,) scores (unbounded)."""

    def __init__(self) -> None:
        super().__init__()
        chans = [3, 16, 32, 64, 128]
        layers: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:], strict=True):
            layers += [weight_norm(nn.Conv2d(cin, cout, 5, stride=2, padding=2)), TReLU()]
        layers.append(weight_norm(nn.Conv2d(128, 1, 5, stride=2, padding=2)))
        self.net = nn.Sequential(*layers)

    def forward(self, canvas: torch.Tensor) -> torch.Tensor:
        return self.net(canvas).mean(dim=(1, 2, 3))


class PatchRenderer(nn.Module):
    """Renders painter strokes on 128 patches, analytically (``oil``) or through the neural FCN.

    Args:
        fcn: a trained ``FCNRenderer(5, 3)`` (channels alpha, intensity, edge) or None for the
            analytic renderer (default: exact and, on CPU, cheaper than the FCN).
    """

    def __init__(self, fcn: nn.Module | None = None) -> None:
        super().__init__()
        self.fcn = fcn

    def maps(self, strokes: torch.Tensor, size: int = PATCH) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, 8) -> intensity, alpha, each (B, N, size, size) in [0, 1]."""
        if self.fcn is None:
            return oil_maps(strokes, size, size)
        b, n, _ = strokes.shape
        out = self.fcn(strokes.reshape(b * n, NUM_PARAMS)[:, :5])  # (B*N, C, 128, 128)
        if out.shape[-1] != size:
            out = nn.functional.interpolate(out, size=(size, size), mode="bilinear", align_corners=False)
        return out[:, 1].reshape(b, n, size, size), out[:, 0].reshape(b, n, size, size)

    def edges(self, strokes: torch.Tensor, size: int = PATCH) -> torch.Tensor:
        """Stroke-edge maps E_s (B, N, size, size) in [0, 1] (FCN channel 2, or :func:`oil_edge`)."""
        if self.fcn is not None and self.fcn.out_channels >= 3:
            b, n, _ = strokes.shape
            out = self.fcn(strokes.reshape(b * n, NUM_PARAMS)[:, :5])[:, 2]
            return out.view(b, n, *out.shape[-2:])
        return oil_edge(self.maps(strokes, size)[1])

    def forward(self, strokes: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
        """Composite (B, N, 8) strokes in order onto the (B, 3, S, S) canvas patch (the analytic
        renderer composites inside ``render_oil``; the FCN's maps go through
        ``common.compositing.composite_sequential``)."""
        if self.fcn is None:
            return render_oil(strokes, canvas, use_boxes=False)
        intensity, alpha = self.maps(strokes, canvas.shape[-1])  # (B, N, S, S) each
        colors = intensity[:, :, None] * strokes[..., 5:8, None, None]  # (B, N, 3, S, S) foregrounds
        return composite_sequential(canvas, colors, alpha)


def load_painter(path, device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild a painter (:func:`build_painter`) from a ``painter/train.py`` checkpoint (eval, float32).

    Raises:
        CheckpointError: missing file (the message says where the shipped file belongs), foreign or
            mismatching checkpoint.
    """
    from common.checkpoint import load_checkpoint, load_model_state

    ckpt = load_checkpoint(
        path,
        hint="the shipped painter is checkpoints/cnp_painter.pt; train one with: python painter/train.py",
    )
    cfg = {"coord": False, **ckpt["config"].get("model", {})}  # checkpoints without the key predate it
    model = build_painter(
        PainterConfig(**{k: v for k, v in cfg.items() if k in PainterConfig.__dataclass_fields__})
    )
    load_model_state(model, ckpt)
    return model.to(device).eval()
