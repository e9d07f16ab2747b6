"""Sketch objectives: MROSS's CLIP + VGG objective, and the offline edge objective.

Shape letters: B batch (1 here), V views, H, W canvas size. Every objective is called as
``objective(sketch (1, 3, H, W) in [0, 1], augment: bool) -> dict[str, Tensor]`` with a scalar ``"loss"`` and
its named terms; ``augment=False`` is the deterministic evaluation used every 10 iterations.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from common.errors import WeightsMissingError
from sketching.edges import edge_ink, edge_map

__all__ = [
    "EdgeObjective",
    "ClipVggObjective",
    "MROSS_VGG_LAYERS",
    "ObjectiveNetworks",
    "load_objective_networks",
    "make_objective",
    "build_objective",
    "gaussian_blur",
]

log = logging.getLogger("sketching")

# MROSS's unlearned "LPIPS": VGG16 activations cut before the ReLUs at features[3, 8, 15, 22, 29].
MROSS_VGG_LAYERS = ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3")


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with zero padding (no ink beyond the canvas).

    Args:
        x: ``(B, C, H, W)`` float.
        sigma: standard deviation in pixels; ``<= 0`` returns ``x``.

    Returns:
        ``(B, C, H, W)``, same dtype/device.
    """
    if sigma <= 0:
        return x
    radius = max(1, int(math.ceil(3.0 * sigma)))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    kx = k.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    ky = k.view(1, 1, -1, 1).expand(c, 1, -1, 1)
    x = F.conv2d(x, kx, padding=(0, radius), groups=c)
    return F.conv2d(x, ky, padding=(radius, 0), groups=c)


class EdgeObjective(nn.Module):
    """Offline objective: multi-scale blurred L2 between the sketch's ink and the target's edge drawing.

    ``L_edge = sum_k d^k mean((m_k P_k(1 - gray(S)) - P_k(E))^2) / mean(P_k(E)^2)``,
    ``P_k(x) = G_1 * down_{2^k}(x)``, ``m_0 = 1``, ``m_k = mean(P_k(E)) / mean(P_k(1 - gray(S)))`` (k >= 1)

    with E the anti-aliased contour (or Canny, or XDoG) line drawing of the target
    (:func:`sketching.edges.edge_ink`),
    ``down_f`` an f x f average pool and ``G_1`` a Gaussian blur of sigma 1 px at that level (a Gaussian
    pyramid: level k sees the drawing blurred by about 2^k px). The fine level asks for lines on the edges;
    the coarse levels give strokes far from any edge a gradient towards the edge mass (the role the CLIP
    features' receptive fields play in CLIPasso). Each level is normalised by the target's energy so all
    levels count alike. ``augment`` is accepted for the common interface and ignored (the objective is
    deterministic).

    Args:
        target: ``(1, 3, H, W)`` float in [0, 1].
        method: ``"contour"`` (default: smoothed Canny, short chains removed), ``"canny"`` or ``"xdog"``.
        width_px: stroke width in pixels (edge drawing line width).
        levels: pyramid levels K (5: down to 1/16 of the canvas).
        level_decay: d, the weight of level k is d^k (0.5: the fine level counts most).
        mass_normalise: use the ``m_k`` factors on the coarse levels (compare where the ink is, not how
            much: a fixed stroke budget cannot match the ink mass of a full edge map, and without them the
            strokes grow into long scribbles).
        content_mask: ``(H, W)`` bool where the photo lies (edges outside are ignored), or None.
    """

    name = "edge"

    def __init__(
        self,
        target: torch.Tensor,
        method: str = "contour",
        width_px: float = 1.5,
        levels: int = 5,
        level_decay: float = 0.5,
        mass_normalise: bool = True,
        content_mask=None,
    ) -> None:
        super().__init__()
        self.method = method
        self.levels = int(levels)
        self.level_weights = [float(level_decay) ** k for k in range(self.levels)]
        self.mass_normalise = bool(mass_normalise)
        self.edges = edge_map(target, method, content_mask)  # (H, W) bool, also used to seed strokes
        ink = edge_ink(target, method, width_px, content_mask).to(target.dtype)  # (1, 1, H, W)
        self.register_buffer("ink", ink, persistent=False)
        self.targets = [t.detach() for t in self.pyramid(ink)]
        self.norms = [float(t.square().mean().clamp_min(1e-8)) for t in self.targets]

    def pyramid(self, ink: torch.Tensor) -> list[torch.Tensor]:
        """``(1, 1, H, W)`` ink -> K blurred levels ``(1, 1, H / 2^k, W / 2^k)``."""
        out = []
        for k in range(self.levels):
            x = F.avg_pool2d(ink, 2**k, ceil_mode=True) if k > 0 else ink
            out.append(gaussian_blur(x, 1.0))
        return out

    def forward(self, sketch: torch.Tensor, augment: bool = True) -> dict[str, torch.Tensor]:
        ink = 1.0 - sketch.mean(1, keepdim=True)  # (1, 1, H, W)
        terms = []
        for k, (p, t, n, w) in enumerate(
            zip(self.pyramid(ink), self.targets, self.norms, self.level_weights, strict=True)
        ):
            if k > 0 and self.mass_normalise:
                # compare where the ink is, not how much: a fixed stroke budget cannot match the edge mass
                p = p * (t.mean() / p.mean().clamp_min(1e-6))
            terms.append(w * (p - t.to(p)).square().mean() / n)
        loss = torch.stack(terms).sum()
        return {"loss": loss, **{f"edge_level{k}": t.detach() for k, t in enumerate(terms)}}


class ClipVggObjective(nn.Module):
    """MROSS's objective: CLIPasso's CLIP loss plus the unlearned VGG16 feature loss, on shared views.

    ``L = L_CLIP(S, I) + w_vgg * mean_v sum_l || n(VGG_l(A_v(S))) - n(VGG_l(A_v(I))) ||^2`` with n the
    channel-wise unit normalisation, the VGG16 layers of :data:`MROSS_VGG_LAYERS`, w_vgg = 1 and the same
    4 augmented views + original as the CLIP term (:func:`common.losses.clip_loss.augment_pairs`).

    Args:
        target: ``(1, 3, H, W)`` float in [0, 1].
        clip_loss: a :class:`common.losses.clip_loss.CLIPConvLoss`.
        vgg_loss: a ``VGG16PerceptualLoss(MROSS_VGG_LAYERS, "normalized_l2", [1] * 5)`` or None (term off).
        vgg_weight: w_vgg (1.0).
        num_augs: augmented views per step (4).
    """

    name = "clip"

    def __init__(self, target, clip_loss: nn.Module, vgg_loss: nn.Module | None, vgg_weight=1.0, num_augs=4):
        super().__init__()
        self.register_buffer("target", target, persistent=False)
        self.clip_loss = clip_loss
        self.vgg_loss = vgg_loss
        self.vgg_weight = float(vgg_weight)
        self.num_augs = int(num_augs)

    def forward(self, sketch: torch.Tensor, augment: bool = True) -> dict[str, torch.Tensor]:
        from common.losses.clip_loss import augment_pairs

        views = augment_pairs(sketch, self.target, self.num_augs if augment else 0)
        out = self.clip_loss(sketch, self.target, views=views)
        loss = out["loss"]
        terms = {"clip_conv": out["conv"].detach(), "clip_fc": out["fc"].detach()}
        if self.vgg_loss is not None:
            vgg = self.vgg_loss(*views)
            loss = loss + self.vgg_weight * vgg
            terms["vgg"] = vgg.detach()
        return {"loss": loss, **terms}


@dataclass
class ObjectiveNetworks:
    """The networks of a sketch objective, loaded once per run (:func:`load_objective_networks`).

    Attributes:
        name: ``"clip"`` or ``"edge"`` (the objective that will run).
        clip: a :class:`common.losses.clip_loss.CLIPConvLoss`, or None for ``"edge"``.
        vgg: MROSS's VGG16 feature loss, or None (term off or weights missing).
        notes: log lines for ``metrics.json`` (what was missing, what runs instead).
    """

    name: str
    clip: nn.Module | None = None
    vgg: nn.Module | None = None
    notes: list[str] = field(default_factory=list)


def load_objective_networks(
    loss: str,
    clip_weights: str | os.PathLike | None = None,
    random_weights: bool = False,
    use_vgg: bool = True,
    device: torch.device | str = "cpu",
) -> ObjectiveNetworks:
    """Load the networks of the requested objective once for a run.

    Args:
        loss: ``"auto"`` (CLIP when its weights can be had, else the edge objective, with a note),
            ``"clip"`` (CLIP or an error) or ``"edge"``.
        clip_weights: ``--clip_weights`` file, or None for open_clip's standard cache (downloaded into it
            when online, see ``common.losses.clip_loss.load_clip_rn101``).
        random_weights: random CLIP and VGG (tests, timing only).
        use_vgg: add MROSS's VGG16 term to the CLIP objective (without its weights the term is dropped,
            with a note).
        device: where the networks go.

    Raises:
        WeightsMissingError: ``loss == "clip"`` or ``clip_weights`` given, and CLIP cannot be loaded (the user
            asked for that model by name: no silent fallback).
        ValueError: unknown ``loss``.
    """
    if loss not in ("auto", "clip", "edge"):
        raise ValueError(f"unknown loss {loss!r} (auto, clip, edge)")
    notes: list[str] = []
    if loss == "edge":
        return ObjectiveNetworks("edge")
    from common.losses.clip_loss import CLIPConvLoss

    try:
        clip = CLIPConvLoss(clip_weights, random_weights=random_weights)
    except WeightsMissingError as err:
        if loss == "clip" or clip_weights is not None:
            raise
        notes.append(f"{err}; using the offline edge objective (--loss edge)")
        log.warning(notes[-1])
        return ObjectiveNetworks("edge", notes=notes)
    vgg = None
    if use_vgg:
        from common.losses.perceptual import VGG16PerceptualLoss

        try:
            vgg = VGG16PerceptualLoss(
                MROSS_VGG_LAYERS, "normalized_l2", [1.0] * 5, random_weights=random_weights
            )
        except WeightsMissingError as err:
            notes.append(f"{err}; running the CLIP objective without MROSS's VGG16 term")
    if random_weights:
        notes.append("random CLIP/VGG weights (timing/testing only: the objective is not semantic)")
    for note in notes:
        log.warning(note)
    return ObjectiveNetworks("clip", clip.to(device), None if vgg is None else vgg.to(device), notes)


def make_objective(
    networks: ObjectiveNetworks,
    target: torch.Tensor,
    edge_method: str = "contour",
    width_px: float = 1.5,
    num_augs: int = 4,
    content_mask=None,
) -> nn.Module:
    """The objective of one target image from the run's networks.

    Args:
        networks: from :func:`load_objective_networks`.
        target: ``(1, 3, H, W)`` float in [0, 1] on the run's device.
        edge_method, width_px: edge objective settings. num_augs: views per step of the CLIP objective.
        content_mask: ``(H, W)`` bool where the photo lies on the canvas (edge objective), or None.
    """
    if networks.name == "clip":
        return ClipVggObjective(target, networks.clip, networks.vgg, num_augs=num_augs).to(target.device)
    return EdgeObjective(target, edge_method, width_px, content_mask=content_mask).to(target.device)


def build_objective(
    loss: str,
    target: torch.Tensor,
    clip_weights: str | os.PathLike | None = None,
    random_weights: bool = False,
    edge_method: str = "contour",
    width_px: float = 1.5,
    use_vgg: bool = True,
    num_augs: int = 4,
    content_mask=None,
) -> tuple[nn.Module, list[str]]:
    """One-image shortcut of :func:`load_objective_networks` + :func:`make_objective` (benchmarks, figures).

    Returns:
        ``(objective, notes)``. Raises as :func:`load_objective_networks`.
    """
    nets = load_objective_networks(loss, clip_weights, random_weights, use_vgg, target.device)
    objective = make_objective(nets, target, edge_method, width_px, num_augs, content_mask)
    return objective, list(nets.notes)
