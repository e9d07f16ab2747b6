"""Anchor painter: a small fully convolutional CNP painter that proposes one stroke per anchor cell and
paints the 5 best (not in the paper; ``PainterConfig.arch = "anchors"``, the default since issue 10).

Shape letters: B batch, K anchors (341 = 1 + 4 + 16 + 64 + 256 cells), N strokes per call (5),
P = 8 ``oil`` parameters, S patch side (64 or 128 px).

Why (measured, painter/README.md): the paper's ResNet-18 with one global 5 x 8 output, trained for a
few thousand CPU updates, painted the same 5 large strokes (mean side 0.68 of the patch) at every call,
whatever the canvas: its output changed by 0.028 when the canvas was replaced by black, against 0.114
when the target was swapped, and the validation MSE after 2 calls equalled the one after 40. Here

- the input adds the residual ``target - canvas`` to (target, canvas, 2 CoordConv planes), so "where is
  the error" is a local read-out instead of something to learn;
- every cell of a 5-level pyramid of grids (1, 2, 4, 8, 16 cells per side) proposes one stroke inside its
  cell's neighbourhood, with a size bounded by its cell (coarse cells: large strokes, fine cells: small
  ones) and a colour predicted as an offset from the target's mean colour in the cell, plus a score
  (the predicted share of the patch's squared error the stroke removes);
- a call paints the 5 best-scoring proposals (greedy; on the 4 x 4 and 8 x 8 grids at most one per
  3 x 3 cell neighbourhood), coarse to fine. As the canvas fills, the large strokes stop removing
  error and the fine cells win: the stroke size shrinks with the canvas by construction.

Training (``painter/training.py``, ``--arch anchors``): each proposal is trained on its own, through the
exact differentiable ``oil`` renderer, to remove as much squared error as it can from the current
canvas (the greedy per-stroke pixel objective), and the score is regressed on the share it removed.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from common.renderers.oil import NUM_PARAMS

LEVELS = (1, 2, 4, 8, 16)  # cells per side of the anchor grids, coarse to fine


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.GroupNorm(8, cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.GroupNorm(8, cout),
        nn.ReLU(inplace=True),
    )


def anchor_cells(levels=LEVELS) -> torch.Tensor:
    """(K, 3) anchors ``(column, row, cells per side)``, level by level, raster order."""
    out = []
    for g in levels:
        r, c = torch.meshgrid(torch.arange(g), torch.arange(g), indexing="ij")
        out.append(torch.stack([c.flatten(), r.flatten(), torch.full((g * g,), g)], 1))
    return torch.cat(out).float()


def suppression_matrix(cells: torch.Tensor) -> torch.Tensor:
    """(K, K) bool: anchor j is suppressed once anchor i is chosen: the same anchor, or on grids of 4 or
    more cells per side a neighbour on the same grid (Chebyshev distance 1: their strokes would fix the
    same error)."""
    same = cells[:, None, 2] == cells[None, :, 2]
    dist = (cells[:, None, :2] - cells[None, :, :2]).abs().amax(-1)
    return same & ((dist == 0) | ((dist <= 1) & (cells[:, None, 2] >= 4)))


class AnchorPainter(nn.Module):
    """(target, canvas) patches -> 5 ``oil`` strokes, chosen among 85 anchor proposals.

    Args:
        config: a :class:`painter.model.PainterConfig` (``strokes_per_call``, ``patch``, ``width``: channels
            of the first stage, later stages 2x, 3x, 4x; ``levels``: anchor grid sides, default
            :data:`LEVELS`).

    ``takes_step`` is False: the call index is not an input (the canvas and the residual carry it).
    """

    takes_step = False

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config
        self.strokes_per_call, self.levels = config.strokes_per_call, tuple(config.levels)
        w = config.width
        self.stem = _block(11, w, 2)  # S/2
        self.s4 = _block(w, 2 * w, 2)  # S/4
        self.s8 = _block(2 * w, 3 * w, 2)  # S/8
        self.s16 = _block(3 * w, 4 * w, 2)  # S/16
        # One head per level: 10 outputs (dx, dy, length, thickness, cos 2t, sin 2t, dR, dG, dB, score).
        self.heads = nn.ModuleList(nn.Conv2d(9 * w, 10, 1) for _ in self.levels)
        for h in self.heads:
            nn.init.normal_(h.weight, std=0.01)
            nn.init.zeros_(h.bias)
        cells = anchor_cells(self.levels)
        self.register_buffer("cells", cells, persistent=False)
        self.register_buffer("suppress", suppression_matrix(cells), persistent=False)

    def proposals(self, target: torch.Tensor, canvas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """All anchor proposals.

        Args:
            target, canvas: (B, 3, S, S) in [0, 1], S divisible by 16.

        Returns:
            strokes (B, K, 8) ``oil`` strokes in the patch's coordinates, values in [0, 1];
            scores (B, K) unbounded: the predicted log of the share of the patch's squared error each
            proposal removes.
        """
        if target.shape != canvas.shape or target.dim() != 4 or target.shape[1] != 3:
            raise ValueError(
                "target and canvas must both be (B, 3, H, W), "
                f"got {tuple(target.shape)}, {tuple(canvas.shape)}"
            )
        from painter.model import coord_planes

        x = torch.cat([target, canvas, target - canvas], 1)
        x = torch.cat([x, coord_planes(x)], 1)  # (B, 11, S, S)
        f4 = self.s4(self.stem(x))  # (B, 2w, S/4, S/4)
        f8 = self.s8(f4)  # (B, 3w, S/8, S/8)
        f16 = self.s16(f8)  # (B, 4w, S/16, S/16)
        strokes, scores = [], []
        for g, head in zip(self.levels, self.heads, strict=True):
            feats = torch.cat([_resample(f, g) for f in (f4, f8, f16)], 1)  # (B, 9w, g, g)
            out = head(feats)  # (B, 10, g, g)
            colour = nn.functional.adaptive_avg_pool2d(target, g)  # (B, 3, g, g) mean target colour
            strokes.append(self._decode(out, colour, g, getattr(self.config, "stroke_ratio", 0.0)))
            scores.append(out[:, 9].flatten(1))
        return torch.cat(strokes, 1), torch.cat(scores, 1)

    @staticmethod
    def _decode(out: torch.Tensor, colour: torch.Tensor, g: int, ratio: float = 0.0) -> torch.Tensor:
        """(B, 10, g, g) head output -> (B, g*g, 8) strokes in patch coordinates. ``ratio`` > 0: the
        thickness is ``ratio * (0.5 + 0.5 sigmoid)`` times the length (``PainterConfig.stroke_ratio``)."""
        o = out.flatten(2).transpose(1, 2)  # (B, g*g, 10)
        idx = torch.arange(g, device=out.device, dtype=out.dtype)
        row, col = torch.meshgrid(idx, idx, indexing="ij")
        cx = ((col.flatten() + 0.5 + torch.tanh(o[..., 0])) / g).clamp(0, 1)
        cy = ((row.flatten() + 0.5 + torch.tanh(o[..., 1])) / g).clamp(0, 1)
        cell = min(1.0, 2.0 / g)  # longest stroke: two cells (the whole patch at most)
        length = cell * (0.125 + 0.875 * torch.sigmoid(o[..., 2] + 1.0))
        if ratio > 0:  # elongated strokes: thickness a fraction of the length
            thick = length * ratio * (0.5 + 0.5 * torch.sigmoid(o[..., 3]))
        else:
            thick = cell * (0.125 + 0.875 * torch.sigmoid(o[..., 3]))
        theta = (torch.atan2(o[..., 5], o[..., 4] + 1e-6) / (2 * math.pi)) % 1.0
        rgb = (colour.flatten(2).transpose(1, 2) + 0.5 * torch.tanh(o[..., 6:9])).clamp(0, 1)
        shape = torch.stack([cx, cy, length, thick, theta], -1)  # (B, g*g, 5)
        return torch.cat([shape, rgb], -1)

    def select(self, scores: torch.Tensor) -> torch.Tensor:
        """Greedy top-N with suppression: (B, K) scores -> (B, N) anchor indices, coarse to fine."""
        masked = scores.detach().clone()
        chosen = []
        for _ in range(self.strokes_per_call):
            i = masked.argmax(1)  # (B,)
            chosen.append(i)
            masked = masked.masked_fill(self.suppress[i], float("-inf"))
        idx = torch.stack(chosen, 1)  # (B, N), anchors are stored coarse to fine
        return idx.sort(1).values

    def forward(self, target: torch.Tensor, canvas: torch.Tensor, proposals: bool = False):
        """(B, 3, S, S) target and canvas in [0, 1] -> (B, 5, 8) ``oil`` strokes in patch coordinates.

        With ``proposals=True`` it returns :meth:`proposals` instead (all K strokes and scores): the
        training loss calls it this way so that it runs through ``DistributedDataParallel``'s forward,
        whose gradient all-reduce would be skipped by a direct ``.proposals`` call on the inner module.
        """
        strokes, scores = self.proposals(target, canvas)
        if proposals:
            return strokes, scores
        idx = self.select(scores)
        return strokes.gather(1, idx[..., None].expand(-1, -1, NUM_PARAMS))


def _resample(x: torch.Tensor, g: int) -> torch.Tensor:
    """(B, C, h, h) features -> (B, C, g, g): average-pooled when g <= h, else nearest-upsampled."""
    if g <= x.shape[-1]:
        return nn.functional.adaptive_avg_pool2d(x, g)
    return nn.functional.interpolate(x, size=(g, g), mode="nearest")
