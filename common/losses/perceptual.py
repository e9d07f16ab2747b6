"""VGG feature extraction and perceptual losses (torchvision VGG16 / VGG19, weights from the local cache).

Shape letters: B batch, C channels, H, W size, L layers.

- :class:`VGGFeatures`: named intermediate activations of ``vgg16``/``vgg19`` ``.features`` (``conv3_1``,
  ``relu4_3``, ``pool2``, ...; or integer indices into ``features``), input in [0, 1], ImageNet-normalised
  inside. Frozen (no parameter gradients); gradients flow to the input.
- :func:`gram_matrix`: ``G = F F^T / (C H W)`` for style losses (Gatys et al., CVPR 2016, Eq. 3, with the
  normalisation moved into G).
- :class:`VGG16PerceptualLoss`: ``L_perc = 1/L sum_l d(phi_l(pred), phi_l(target))`` over VGG16 layers l, with
  d one of
    * ``"l2"``: mean squared feature difference (Johnson et al., ECCV 2016, feature reconstruction loss);
    * ``"l1"``: mean absolute feature difference;
    * ``"cosine"``: mean over positions of ``1 - cos(phi(p), phi(t))`` across channels (the STROTSS-style
      loss of the segpaint release, which uses ``-cos``; the constant 1 makes it >= 0);
    * ``"normalized_l2"``: channel-unit-normalised features, squared difference summed over channels and
      averaged over positions (the unlearned "LPIPS" of the MROSS release).
When the VGG weights are not in the local cache the constructor raises
:class:`common.errors.WeightsMissingError`; the caller decides whether to continue without the term.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from common.pretrained import load_torchvision_backbone

__all__ = [
    "VGGFeatures",
    "VGG16PerceptualLoss",
    "gram_matrix",
    "vgg_layer_names",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg_layer_names(features: nn.Sequential) -> list[str]:
    """Names of the modules of a torchvision VGG ``features`` block, in order.

    ``conv{b}_{i}`` / ``relu{b}_{i}`` for the i-th convolution of block b (1-based), ``pool{b}`` for the
    max-pool ending block b; e.g. VGG16 index 3 is relu1_2, 15 relu3_3, 22 relu4_3, 29 relu5_3.
    """
    names, block, conv = [], 1, 0
    for module in features:
        if isinstance(module, nn.Conv2d):
            conv += 1
            names.append(f"conv{block}_{conv}")
        elif isinstance(module, nn.ReLU):
            names.append(f"relu{block}_{conv}")
        elif isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:
            names.append(f"{type(module).__name__.lower()}{block}_{conv}")
    return names


class VGGFeatures(nn.Module):
    """Frozen VGG feature extractor returning named activations.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        layers: layer names (see :func:`vgg_layer_names`) or integer indices into ``features``.
        weights: torchvision weights name (``"IMAGENET1K_V1"``).
        random_weights: random weights instead of pretrained (tests, timing).
        pool: ``"max"`` (torchvision) or ``"avg"`` (Gatys et al. recommend average pooling for synthesis).

    Forward:
        x: ``(B, 3, H, W)`` float in [0, 1] (gray ``(B, 1, H, W)`` is repeated to 3 channels); H, W >= 16 is
            sensible for deep layers.
        returns: ``dict`` layer -> ``(B, C_l, H_l, W_l)`` activation, in the order of ``layers``.

    Raises:
        WeightsMissingError: pretrained weights are not in the local cache (message says which file, where).
        ValueError: unknown layer name.
    """

    def __init__(
        self,
        arch: str = "vgg16",
        layers: Sequence[str | int] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
        weights: str = "IMAGENET1K_V1",
        random_weights: bool = False,
        pool: str = "max",
    ) -> None:
        super().__init__()
        if arch not in ("vgg16", "vgg19"):
            raise ValueError(f"arch must be 'vgg16' or 'vgg19', got {arch!r}")
        if random_weights:  # only the conv part: skips initialising VGG's 120M-parameter classifier
            from torchvision.models.vgg import cfgs, make_layers

            features = make_layers(cfgs["D" if arch == "vgg16" else "E"])
            for module in features.modules():
                if isinstance(module, nn.Conv2d):  # torchvision's VGG initialisation
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(module.bias)
        else:
            features = load_torchvision_backbone(arch, weights).features
        names = vgg_layer_names(features)
        self.layers = [names[i] if isinstance(i, int) else str(i) for i in layers]
        unknown = [name for name in self.layers if name not in names]
        if unknown:
            raise ValueError(f"unknown {arch} layer(s) {unknown}; known: {', '.join(names)}")
        last = max(names.index(name) for name in self.layers)
        modules = []
        for module in list(features)[: last + 1]:
            if isinstance(module, nn.ReLU):
                module = nn.ReLU(inplace=False)  # in-place would overwrite returned conv activations
            elif isinstance(module, nn.MaxPool2d) and pool == "avg":
                module = nn.AvgPool2d(kernel_size=2, stride=2)
            modules.append(module)
        self.features = nn.Sequential(*modules)
        self._names = names[: last + 1]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGFeatures:
        """Always stays in eval mode (the extractor is frozen)."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"VGGFeatures expects (B, 3, H, W) images in [0, 1], got {tuple(x.shape)}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        h = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        wanted = set(self.layers)
        found: dict[str, torch.Tensor] = {}
        for name, module in zip(self._names, self.features, strict=True):
            h = module(h)
            if name in wanted:
                found[name] = h
        return {name: found[name] for name in self.layers}


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of feature maps, normalised by the number of entries.

    Args:
        features: ``(B, C, H, W)``.

    Returns:
        ``(B, C, C)``: ``G_b = F_b F_b^T / (C * H * W)`` with ``F_b`` the ``(C, H*W)`` flattened features.
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)  # (B, C, HW)
    return flat @ flat.transpose(1, 2) / (c * h * w)


class VGG16PerceptualLoss(nn.Module):
    """Perceptual loss between two images from VGG16 features (see the module docstring for the distances).

    Args:
        layers: VGG16 layer names (default relu1_2, relu2_2, relu3_3, relu4_3).
        distance: ``"l2"``, ``"l1"``, ``"cosine"`` or ``"normalized_l2"``.
        layer_weights: one weight per layer (default equal, averaging over layers).
        random_weights: random VGG weights (tests, timing only: the loss is then not perceptual).

    Forward:
        pred, target: ``(B, 3, H, W)`` in [0, 1], same shape.
        returns: scalar tensor >= 0, differentiable in ``pred`` (and ``target``).

    Raises:
        WeightsMissingError: VGG16 weights (``vgg16-397923af.pth``) not in the torch.hub cache.
        ValueError: unknown distance or layer, or mismatched shapes.
    """

    DISTANCES = ("l2", "l1", "cosine", "normalized_l2")

    def __init__(
        self,
        layers: Sequence[str | int] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
        distance: str = "l2",
        layer_weights: Sequence[float] | None = None,
        random_weights: bool = False,
    ) -> None:
        super().__init__()
        if distance not in self.DISTANCES:
            raise ValueError(f"distance must be one of {self.DISTANCES}, got {distance!r}")
        self.features = VGGFeatures("vgg16", layers, random_weights=random_weights)
        n = len(self.features.layers)
        weights = [1.0 / n] * n if layer_weights is None else [float(w) for w in layer_weights]
        if len(weights) != n:
            raise ValueError(f"layer_weights needs {n} values, got {len(weights)}")
        self.layer_weights = weights
        self.distance = distance

    def _distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.distance == "l2":
            return (a - b).square().mean()
        if self.distance == "l1":
            return (a - b).abs().mean()
        if self.distance == "cosine":
            return (1.0 - F.cosine_similarity(a, b, dim=1, eps=1e-8)).mean()
        a = a / (a.square().sum(1, keepdim=True).sqrt() + 1e-10)
        b = b / (b.square().sum(1, keepdim=True).sqrt() + 1e-10)
        return (a - b).square().sum(1).mean()

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
        fp = self.features(pred)
        ft = self.features(target)
        total = pred.new_zeros(())
        for weight, name in zip(self.layer_weights, self.features.layers, strict=True):
            total = total + weight * self._distance(fp[name], ft[name])
        return total
