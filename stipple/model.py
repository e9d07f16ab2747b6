"""The stippling network: image encoder -> 1024-d style code -> style MLP -> AdaIN grid decoder -> heads.

Shape letters: B batch, G grid cells per side (G = sqrt(points)), K point slots per cell, S input side.

- Encoder: torchvision ResNet-50 / ResNet-18 (frozen, kept in eval mode, weights from the local torch.hub
  cache through ``common.pretrained``) or ``scratch``, a small trainable CNN (the offline path).
- Style code z = Linear(features) (1024-d); style MLP w = 3 x [Linear(1024, 1024), ReLU](z).
- Decoder: a learned constant (C0, 4, 4); per level [nearest x2 -> Conv3x3 -> AdaIN(w) -> ELU] up to G x G
  (Lim, Ibing & Kobbelt 2019's AdaIN grid decoder in 2-D, as in the release's revision 3741ffe). With
  ``skip`` (default) the input's density map, area-pooled to the level's size, is concatenated to every
  conv input (a departure, see ``stipple/__init__.py``).
- Heads (1x1 convs): density lambda >= 0 (expected stipples per cell, softplus), K location offsets in the
  cell (sigmoid) and K colours (sigmoid). A cell emits its first n_c slots, n_c from lambda by error
  diffusion: :func:`diffuse_counts`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from common.errors import UserError

log = logging.getLogger(__name__)

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_TV_WEIGHTS = {"resnet50": "IMAGENET1K_V2", "resnet18": "IMAGENET1K_V1"}


def grid_for_points(points: int) -> int:
    """G with G * G == points; raises UserError when ``points`` is not a square grid size."""
    g = math.isqrt(max(points, 0))
    if points < 1 or g * g != points:
        raise UserError(f"--points must be a square grid size (G x G, e.g. 1024 = 32 x 32), got {points}")
    return g


@dataclass
class StippleNetConfig:
    """Network configuration (stored in every checkpoint; the model is rebuilt from it).

    points: N stipples of the training targets; the point grid is G x G with G = sqrt(N), G = 4 * 2^k.
    slots: K point slots per cell (a cell emits 0..K stipples).
    image_size: S, input side in pixels.
    encoder: "resnet50" | "resnet18" (frozen, pretrained) | "scratch" (trainable small CNN).
    encoder_trainable: train the encoder too (the offline path for a ResNet without weights).
    style_dim: size of the style code z and of w.
    base_channels: C0 of the 4 x 4 constant.
    skip: concatenate the pooled input density to every decoder level.
    slot_prior: slot offsets are a learned correction (in logit space) of a fixed progressive low-discrepancy
        pattern per cell (R2 sequence, random shift per cell); the location head starts at zero, so an
        untrained network already draws a jittered, lattice-free pattern.
    density_prior: the density head predicts a log-correction of the proportional allocation
        lambda0_c = mean_rho_c / mean_cells(mean_rho) (one stipple per cell on average, more where darker);
        its last layer starts at zero, so training starts from lambda = lambda0.
    """

    points: int = 1024
    slots: int = 6
    image_size: int = 128
    encoder: str = "scratch"
    encoder_trainable: bool = True
    style_dim: int = 1024
    base_channels: int = 256
    skip: bool = True
    slot_prior: bool = False
    density_prior: bool = False

    @property
    def grid(self) -> int:
        return grid_for_points(self.points)

    def validate(self) -> StippleNetConfig:
        g = self.grid
        if g < 4 or (g & (g - 1)) != 0:
            raise UserError(f"--points must be G x G with G = 4, 8, 16, 32, 64 ... (got {self.points})")
        if self.encoder not in ("resnet50", "resnet18", "scratch"):
            raise UserError(f"--encoder must be resnet50, resnet18 or scratch, got {self.encoder!r}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


class ScratchEncoder(nn.Module):
    """Small CNN trained with the network: 4 x [Conv3x3 stride 2, GroupNorm, ReLU], global average pool.

    forward: (B, 3, S, S) in [0, 1] -> (B, 256).
    """

    out_dim = 256

    def __init__(self) -> None:
        super().__init__()
        chans = [3, 32, 64, 128, 256]
        layers = []
        for cin, cout in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv2d(cin, cout, 3, 2, 1), nn.GroupNorm(8, cout), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x - 0.5).mean((2, 3))


class ResNetEncoder(nn.Module):
    """torchvision ResNet without its fc layer: (B, 3, S, S) in [0, 1] -> (B, 2048 or 512).

    Frozen unless ``trainable``; a frozen encoder stays in eval mode (its BatchNorm statistics never drift,
    the release's ``model.train()`` bug).
    """

    def __init__(self, name: str, random_weights: bool, trainable: bool) -> None:
        super().__init__()
        from common.pretrained import load_torchvision_backbone

        net = load_torchvision_backbone(name, _TV_WEIGHTS[name], random_weights=random_weights)
        self.out_dim = net.fc.in_features
        net.fc = nn.Identity()
        self.net, self.trainable = net, trainable
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        if not trainable:
            self.net.requires_grad_(False)
            self.net.eval()

    def train(self, mode: bool = True) -> ResNetEncoder:
        super().train(mode)
        if not self.trainable:
            self.net.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


class AdaIN(nn.Module):
    """Adaptive instance norm: InstanceNorm(x) * (1 + gamma(w)) + beta(w); x (B, C, H, W), w (B, D)."""

    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.gamma = nn.Linear(style_dim, channels)
        self.beta = nn.Linear(style_dim, channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.norm(x) * (1 + self.gamma(w)[..., None, None]) + self.beta(w)[..., None, None]


class DecoderBlock(nn.Module):
    """[nearest x2 (optional) -> Conv3x3 (+ skip channel) -> AdaIN(w) -> ELU]."""

    def __init__(self, cin: int, cout: int, style_dim: int, upsample: bool, skip: bool) -> None:
        super().__init__()
        self.upsample, self.skip = upsample, skip
        self.conv = nn.Conv2d(cin + int(skip), cout, 3, 1, 1, bias=False)
        self.adain = AdaIN(cout, style_dim)

    def forward(self, x: torch.Tensor, w: torch.Tensor, density: torch.Tensor | None) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        if self.skip:
            x = torch.cat([x, F.adaptive_avg_pool2d(density, x.shape[-2:])], 1)
        return F.elu(self.adain(self.conv(x), w))


def _slot_prior(grid: int, slots: int, seed: int = 0) -> torch.Tensor:
    """Logits (K, 2, G, G) of a progressive R2 low-discrepancy pattern per cell (Roberts 2018: offsets
    frac(s + k (1/phi, 1/phi^2)), phi = 1.32472 the plastic number) with a random shift s per cell, kept
    0.08 away from the cell border. Deterministic in (grid, slots, seed)."""
    gen = torch.Generator().manual_seed(seed)
    phi = 1.324717957244746
    alpha = torch.tensor([1 / phi, 1 / phi**2])
    shift = torch.rand(grid, grid, 2, generator=gen)
    k = torch.arange(slots, dtype=torch.float32).view(slots, 1, 1, 1)
    u = torch.remainder(shift[None] + k * alpha, 1.0)  # (K, G, G, 2)
    u = 0.08 + 0.84 * u
    return torch.logit(u).permute(0, 3, 1, 2).contiguous()


def _head(cin: int, hidden: list[int], cout: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Conv2d(cin, h, 1), nn.ELU()]
        cin = h
    layers.append(nn.Conv2d(cin, cout, 1))
    return nn.Sequential(*layers)


class StippleNet(nn.Module):
    """Image -> per-cell stipple density, K point slots per cell with positions and colours.

    forward(image (B, 3, S, S) float in [0, 1]) -> dict:
        ``density`` (B, G, G) expected stipples per cell (>= 0),
        ``positions`` (B, G*G, K, 2) normalised (x, y) of every slot (cells in row-major order),
        ``colors`` (B, G*G, K, 3) in [0, 1].
    """

    def __init__(self, config: StippleNetConfig, random_weights: bool = False) -> None:
        super().__init__()
        self.config = config.validate()
        c = config
        if c.encoder == "scratch":
            self.encoder: nn.Module = ScratchEncoder()
        else:
            self.encoder = ResNetEncoder(c.encoder, random_weights, c.encoder_trainable)
        self.to_style = nn.Linear(self.encoder.out_dim, c.style_dim)
        self.style_mlp = nn.Sequential(
            *[m for _ in range(3) for m in (nn.Linear(c.style_dim, c.style_dim), nn.ReLU())]
        )
        self.const = nn.Parameter(torch.randn(1, c.base_channels, 4, 4))
        levels = int(math.log2(c.grid // 4))
        chans = [c.base_channels] + [max(64, c.base_channels >> (i + 1)) for i in range(levels)]
        self.blocks = nn.ModuleList(
            [DecoderBlock(c.base_channels, c.base_channels, c.style_dim, False, c.skip)]
        )
        for i in range(levels):
            self.blocks.append(DecoderBlock(chans[i], chans[i + 1], c.style_dim, True, c.skip))
        cf, k = chans[-1], c.slots
        self.density_head = _head(cf, [16, 8], 1)
        self.location_head = _head(cf, [64, 32], 2 * k)
        self.color_head = _head(cf, [32], 3 * k)
        nn.init.constant_(self.density_head[-1].bias, 0.5)
        if c.density_prior:
            nn.init.zeros_(self.density_head[-1].weight)
            nn.init.zeros_(self.density_head[-1].bias)
        if c.slot_prior:
            nn.init.zeros_(self.location_head[-1].weight)
            nn.init.zeros_(self.location_head[-1].bias)
        self.register_buffer("prior_logits", _slot_prior(c.grid, k), persistent=False)  # (K, 2, G, G)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        b = image.shape[0]
        g, k = self.config.grid, self.config.slots
        z = self.to_style(self.encoder(image))  # (B, style_dim)
        w = self.style_mlp(z)
        luma = 0.299 * image[:, 0:1] + 0.587 * image[:, 1:2] + 0.114 * image[:, 2:3]
        rho = 1.0 - luma  # (B, 1, S, S)
        x = self.const.expand(b, -1, -1, -1)
        for block in self.blocks:
            x = block(x, w, rho if self.config.skip else None)
        if self.config.density_prior:
            cell_rho = F.adaptive_avg_pool2d(rho, g)[:, 0] + 1e-3  # (B, G, G)
            prior = cell_rho / cell_rho.mean((1, 2), keepdim=True)
            density = prior * torch.exp(self.density_head(x)[:, 0].clamp(max=5))
        else:
            density = F.softplus(self.density_head(x))[:, 0]  # (B, G, G)
        logits = self.location_head(x).view(b, k, 2, g, g)
        if self.config.slot_prior:
            logits = logits + self.prior_logits
        offsets = torch.sigmoid(logits).permute(0, 3, 4, 1, 2)  # (B, G, G, K, 2)
        rows = torch.arange(g, device=x.device, dtype=x.dtype).view(1, g, 1, 1)
        cols = torch.arange(g, device=x.device, dtype=x.dtype).view(1, 1, g, 1)
        px = (cols + offsets[..., 0]) / g
        py = (rows + offsets[..., 1]) / g
        positions = torch.stack([px, py], -1).reshape(b, g * g, k, 2)
        colors = (
            torch.sigmoid(self.color_head(x))
            .view(b, k, 3, g, g)
            .permute(0, 3, 4, 1, 2)
            .reshape(b, g * g, k, 3)
        )
        return {"density": density, "positions": positions, "colors": colors}


def slot_mask(counts: torch.Tensor, slots: int) -> torch.Tensor:
    """(B, C, K) bool: slot k of a cell is used when k < count. counts (B, C) int."""
    return torch.arange(slots, device=counts.device).view(1, 1, slots) < counts[..., None]


def gather_points(values: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pack the used slots of every row first: values (B, C, K, D), mask (B, C, K) ->
    (packed (B, M, D), packed_mask (B, M)) with M the largest used count in the batch."""
    b, c, k, d = values.shape
    flat_v, flat_m = values.reshape(b, c * k, d), mask.reshape(b, c * k)
    order = torch.argsort(flat_m.to(torch.int8), dim=1, descending=True, stable=True)
    m = max(1, int(flat_m.sum(1).max()))
    idx = order[:, :m]
    return flat_v.gather(1, idx[..., None].expand(-1, -1, d)), flat_m.gather(1, idx)


def diffuse_counts(weights: torch.Tensor, n_points: int, cap: int) -> torch.Tensor:
    """Integer stipple counts on a cell grid by Floyd-Steinberg error diffusion of the expected counts.

    The real-valued targets are ``weights`` scaled to sum to ``n_points`` with no cell above ``cap``
    (excess redistributed proportionally); each cell then takes round(target + diffused error) in serpentine
    order, clamped to [0, cap], and the last few points are fixed up where the residual is largest, so the
    total is exact. Unlike per-cell rounding this spreads sparse points evenly (a cell of expected 0.3
    still gets a stipple every ~3 cells), which matters when asking for fewer points than cells.

    Args:
        weights: (H, W) float >= 0 (cells of the point grid; H, W = t * G for t x t tiles).
        n_points: total (<= H * W * cap).
        cap: K, most stipples per cell.

    Returns:
        (H, W) int64 counts summing to ``n_points``.
    """
    import numpy as np

    w = weights.detach().double().clamp(min=0).cpu().numpy() + 1e-12
    target = w / w.sum() * n_points
    for _ in range(32):  # cap: move the excess to the uncapped cells
        over = target > cap
        if not over.any():
            break
        excess = (target[over] - cap).sum()
        target[over] = cap
        free = target < cap
        target[free] += excess * target[free] / target[free].sum()
    h, wd = target.shape
    err = target.copy()
    counts = np.zeros((h, wd), dtype=np.int64)
    for i in range(h):
        cols = range(wd) if i % 2 == 0 else range(wd - 1, -1, -1)
        step = 1 if i % 2 == 0 else -1
        for j in cols:
            c = int(min(cap, max(0, round(err[i, j]))))
            counts[i, j] = c
            e = err[i, j] - c
            if 0 <= j + step < wd:
                err[i, j + step] += e * 7 / 16
            if i + 1 < h:
                if 0 <= j - step < wd:
                    err[i + 1, j - step] += e * 3 / 16
                err[i + 1, j] += e * 5 / 16
                if 0 <= j + step < wd:
                    err[i + 1, j + step] += e * 1 / 16
    flat, resid = counts.reshape(-1), (target - counts).reshape(-1)
    diff = n_points - int(flat.sum())
    if diff > 0:
        order = np.argsort(-np.where(flat < cap, resid, -np.inf), kind="stable")[:diff]
        flat[order] += 1
    elif diff < 0:
        order = np.argsort(np.where(flat > 0, resid, np.inf), kind="stable")[:-diff]
        flat[order] -= 1
    return torch.from_numpy(flat.reshape(h, wd)).to(weights.device)
