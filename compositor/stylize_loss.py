"""Objective of CNP stylization (paper Eq. 11):
``S* = argmin_S  l_sty L_style + l_con L_content + l_DT L_DT`` over the stroke parameters S.

- ``L_style = sum_l ||G(phi_l(C(S))) - G(phi_l(I_style))||^2`` (Gram matrices, VGG-19 relu1_1..relu5_1);
- ``L_content = sum_l ||phi_l(C(S)) - phi_l(I_content)||^2`` (relu4_1, relu5_1);
- ``L_DT = mean_p DT(E_s)(p) * E_gt(p)`` (common.losses.dt), E_gt = Canny edges of the content.

Departures: each term is divided by its value at the first stylization iteration, so the weights are
relative (the paper's absolute weights, e.g. beta_DT = 200, depend on the VGG weights' scale, which
differs between the pretrained and the offline random VGG); E_s is the straight-through-binarised
Sobel edge map of the rendered painting (the release composites the FCN's per-stroke edge channel;
the edges of the painting are the visible stroke boundaries and need no N x H x W maps).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from common.losses.dt import binarize_ste, canny_edges, dt_loss
from common.losses.perceptual import gram_matrix
from common.renderers.oil import render_oil


def sobel_edges(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) gradient magnitude of the luminance, divided by its maximum."""
    gray = 0.299 * image[:, 0:1] + 0.587 * image[:, 1:2] + 0.114 * image[:, 2:3]
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=image.dtype, device=image.device)
    k = torch.stack([kx, kx.t()])[:, None]
    g = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), k)
    mag = torch.sqrt(g.pow(2).sum(1, keepdim=True) + 1e-8)
    return mag / (mag.amax(dim=(2, 3), keepdim=True).detach() + 1e-8)


class StyleObjective:
    """Style, content and DT terms for a (1, 3, H, W) painting; see the module docstring."""

    def __init__(
        self, vgg, content, style, style_layers, content_layers, w_style=1.0, w_content=1.0, w_dt=0.5
    ):
        self.vgg, self.style_layers, self.content_layers = vgg, style_layers, content_layers
        self.w = {"style": w_style, "content": w_content, "dt": w_dt}
        self.content = content
        with torch.no_grad():
            feats = vgg(style)
            self.style_grams = {k: gram_matrix(feats[k]) for k in style_layers}
            cf = vgg(content)
            self.content_feats = {k: cf[k] for k in content_layers if k in cf}
        self.content_edges = canny_edges(content, blur=11)
        self.scale: dict[str, float] | None = None

    def terms(self, painting: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.vgg(painting)
        style = sum(
            F.mse_loss(gram_matrix(feats[k]), self.style_grams[k], reduction="sum") for k in self.style_layers
        )
        content = sum(F.mse_loss(feats[k], v) for k, v in self.content_feats.items())
        edges = binarize_ste(sobel_edges(painting), 0.2)
        return {"style": style, "content": content, "dt": dt_loss(edges, self.content_edges)}

    def __call__(self, painting: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        t = self.terms(painting)
        if self.scale is None:
            self.scale = {k: max(float(v.detach()), 1e-8) for k, v in t.items()}
        loss = sum(self.w[k] * t[k] / self.scale[k] for k in t if self.w[k] > 0)
        return loss, {k: float(v.detach()) for k, v in t.items()}


def optimise_strokes(
    strokes: torch.Tensor, objective: StyleObjective, iters: int, lr: float = 0.005, warmup_frac: float = 0.1
) -> tuple[torch.Tensor, dict]:
    """Adam on the (N, 8) strokes, clamped to [0, 1] each step: the first ``warmup_frac`` of the iterations
    fit the content with MSE only (the release's first 100 of 1001), then the full objective.

    Returns:
        refined strokes (N, 8) and a log dict (terms before/after, Gram distance, seconds).
    """
    start = time.time()
    params = strokes.detach().clone()[None].requires_grad_(True)
    opt = torch.optim.Adam([params], lr=lr)
    black = torch.zeros_like(objective.content)
    warm = int(iters * warmup_frac)
    log: dict = {}
    with torch.no_grad():
        before = objective.terms(render_oil(params, black).clamp(0, 1))
    for i in range(iters):
        painting = render_oil(params, black, use_boxes=True)
        if i < warm:
            loss = F.mse_loss(painting, objective.content)
        else:
            loss, _ = objective(painting.clamp(0, 1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            params.clamp_(0, 1)
    with torch.no_grad():
        after = objective.terms(render_oil(params, black).clamp(0, 1))
    log.update(
        {
            "iters": iters,
            "gram_before": float(before["style"]),
            "gram_after": float(after["style"]),
            "content_before": float(before["content"]),
            "content_after": float(after["content"]),
            "dt_before": float(before["dt"]),
            "dt_after": float(after["dt"]),
            "seconds": time.time() - start,
        }
    )
    return params.detach()[0], log
