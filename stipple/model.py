"""The stippling network: image encoder -> style code -> AdaIN-modulated convolutional decoder on a cell grid
-> heads (density, slot positions free of the grid, radii, colours).

Shape letters: B batch, Gh x Gw the point grid (cells), K point slots per cell, S = cell_px * G input side.

- Encoder: two (``cell_px`` = 4) or three (``cell_px`` = 8) stride-2 convolutions take the image (RGB and
  its density rho = 1 - luma, 4 channels) to one feature vector per cell; the style code z is the global
  mean of these features through a 3-layer MLP (the paper's image code driving the decoder through AdaIN).
- Decoder: ``blocks`` residual blocks [Conv3x3 (dilation 1, 2, 4, ...) -> AdaIN(w) -> ELU] at the cell grid
  (Lim, Ibing & Kobbelt 2019's AdaIN grid decoder, made fully convolutional so that one network draws any
  grid, square or not: see ``stipple/__init__.py``, departure 11).
- Heads (1x1 convs): density lambda >= 0 (expected stipples per cell), K slot offsets that may leave the
  cell (up to ``reach`` cells from its centre), K radii and K colours.
- Slot prior: the offsets are a learned correction of a fixed pattern. ``prior="r2"`` (the 2025 network):
  an R2 low-discrepancy sequence per cell with a random shift per cell. ``prior="blue"``: a progressive
  blue-noise pattern on a 64 x 64-cell torus (:func:`blue_noise_slots`, stored in the checkpoint): slot k
  of every cell is the k-th round of a stratified best-candidate process, so the slots of rank < n over all
  cells are well spaced for every n; a grid takes a window of it (shifted per seed).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from common.errors import UserError

MIN_POINTS, MAX_POINTS = 256, 16384


@dataclass
class StippleNetConfig:
    """Network configuration (stored in every checkpoint; the model is rebuilt from it).

    points: N stipples of a training target (its image has ``image_size`` px; the grid is
        image_size / cell_px cells per side, N / cells = ``points_per_cell`` on average).
    slots: K point slots per cell (a cell emits 0..K stipples).
    image_size: training input side, pixels.
    cell_px: input pixels per grid cell (the encoder's stride: 4 or 8).
    width: decoder channels; blocks: residual decoder blocks; style_dim: size of the style code.
    reach: slot offsets lie within +-reach cells of the cell centre (> 0.5: stipples may leave the cell).
    slot_prior: slot offsets are a learned correction of a fixed progressive low-discrepancy pattern per
        cell (R2 sequence, random shift per cell); the location head starts at zero.
    density_prior: the density head predicts a log-correction of the proportional allocation
        lambda0_c = points_per_cell * rho_c / mean(rho); its last layer starts at zero.
    prior: the slot pattern under the offsets, ``"r2"`` (R2 sequence per cell, random shift per cell) or
        ``"blue"`` (a window of the progressive blue-noise torus :func:`blue_noise_slots`).
    """

    points: int = 1024
    slots: int = 6
    image_size: int = 128
    cell_px: int = 4
    width: int = 64
    blocks: int = 5
    style_dim: int = 128
    reach: float = 1.5
    slot_prior: bool = True
    density_prior: bool = True
    prior: str = "r2"

    @property
    def grid(self) -> int:
        """Cells per side of a training image."""
        return self.image_size // self.cell_px

    @property
    def points_per_cell(self) -> float:
        return self.points / self.grid**2

    def validate(self) -> StippleNetConfig:
        if self.cell_px not in (4, 8):
            raise UserError(
                f"cell_px must be 4 or 8 (two or three stride-2 convolutions), got {self.cell_px}"
            )
        if self.image_size % self.cell_px or self.grid < 4:
            raise UserError(
                f"--image_size must be a multiple of {self.cell_px} and >= {4 * self.cell_px}, "
                f"got {self.image_size}"
            )
        if self.prior not in ("r2", "blue"):
            raise UserError(f"prior must be 'r2' or 'blue', got {self.prior!r}")
        if self.points < 1 or self.points > self.grid**2 * self.slots:
            raise UserError(
                f"--points must be in 1..{self.grid**2 * self.slots} for a {self.grid} x {self.grid} grid "
                f"with {self.slots} slots, got {self.points}"
            )
        if self.reach <= 0:
            raise UserError(f"reach must be > 0, got {self.reach}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def grid_for_count(n_points: int, height: int, width: int, points_per_cell: float) -> tuple[int, int]:
    """Point grid (Gh, Gw) for ``n_points`` stipples on an H x W image: square cells, about
    ``points_per_cell`` stipples per cell, the image's aspect ratio.

    Raises:
        UserError: ``n_points`` outside 256..16384.
    """
    if not MIN_POINTS <= n_points <= MAX_POINTS:
        raise UserError(f"--points must be in {MIN_POINTS}..{MAX_POINTS} for the network, got {n_points}")
    cells = n_points / points_per_cell
    gh = max(4, round(math.sqrt(cells * height / width)))
    gw = max(4, round(math.sqrt(cells * width / height)))
    return gh, gw


def grid_for_points(points: int) -> int:
    """Check a stipple count for the network (256..16384, any count) and return the side of a square grid
    with one cell per stipple, round(sqrt(points)). Kept for callers that validate a count up front
    (the grid actually used follows the image's aspect ratio: :func:`grid_for_count`).

    Raises:
        UserError: ``points`` outside 256..16384.
    """
    grid_for_count(points, 1, 1, 1.0)
    return round(math.sqrt(points))


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
    """Residual block x + ELU(AdaIN(Conv3x3_dilated([x, rho_cell]), w)); x (B, C, Gh, Gw)."""

    def __init__(self, channels: int, style_dim: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels + 1, channels, 3, 1, dilation, dilation=dilation, bias=False)
        self.adain = AdaIN(channels, style_dim)

    def forward(self, x: torch.Tensor, w: torch.Tensor, rho_cell: torch.Tensor) -> torch.Tensor:
        return x + F.elu(self.adain(self.conv(torch.cat([x, rho_cell], 1)), w))


def slot_prior(gh: int, gw: int, slots: int, seed: int = 0) -> torch.Tensor:
    """(K, 2, Gh, Gw) offsets in [-0.42, 0.42] cells from the cell centre: a progressive R2 low-discrepancy
    pattern per cell (Roberts 2018: frac(s + k (1/phi, 1/phi^2)), phi = 1.32472 the plastic number) with a
    random shift s per cell. Deterministic in (gh, gw, slots, seed)."""
    gen = torch.Generator().manual_seed(seed)
    phi = 1.324717957244746
    alpha = torch.tensor([1 / phi, 1 / phi**2])
    shift = torch.rand(gh, gw, 2, generator=gen)
    k = torch.arange(slots, dtype=torch.float32).view(slots, 1, 1, 1)
    u = torch.remainder(shift[None] + k * alpha, 1.0)  # (K, Gh, Gw, 2)
    return (0.84 * (u - 0.5)).permute(0, 3, 1, 2).contiguous()


PATTERN_SIDE = 64  # cells per side of the blue-noise torus (:func:`blue_noise_slots`)


def blue_noise_slots(side: int, slots: int, seed: int = 0, candidates: int = 32) -> torch.Tensor:
    """(K, 2, side, side) progressive blue-noise slot offsets on a torus of side x side cells, in cells from
    each cell's centre, in [-0.5, 0.5).

    Stratified best-candidate sampling (Mitchell 1991, one point per cell per round): round k places slot k of
    every cell, the four parity classes of cells one after another in a random order; each cell draws
    ``candidates`` uniform points inside itself and keeps the one farthest from every slot already placed in
    its 3 x 3 neighbourhood (toroidal). So the slots 0..n-1 of all cells are well spaced for every n, and a
    cell that emits n stipples uses its first n slots. Flat 50 % gray, 512 px, 64 x 64 cells, nearest-
    neighbour distance mean/std of the first 1 / 2 / 4 / 8 rounds: 8.3 / 8.1 / 8.0 / 8.0 (one uniform point
    per cell 2.9, the R2 prior at one stipple per cell 3.6, WVS 20.3). Deterministic in (side, slots, seed,
    candidates); about 2 s for 64 x 64 x 16.
    """
    gen = torch.Generator().manual_seed(seed)
    off = torch.full((slots, side, side, 2), float("nan"))  # (K, S, S, 2) (x, y) in [0, 1) of the cell
    ii, jj = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    shifts = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1)]
    for r in range(slots):
        for phase in torch.randperm(4, generator=gen).tolist():
            sel = (ii % 2 == phase // 2) & (jj % 2 == phase % 2)
            ci, cj = ii[sel], jj[sel]  # (C,)
            cand = torch.rand(ci.numel(), candidates, 2, generator=gen)  # (C, m, 2)
            near = torch.cat(
                [
                    off[: r + 1, (ci + di) % side, (cj + dj) % side] + torch.tensor([float(dj), float(di)])
                    for di, dj in shifts
                ]
            ).transpose(0, 1)  # (C, 9 (r + 1), 2) neighbours in this cell's frame, NaN where not placed
            d2 = ((cand[:, :, None] - near[:, None]) ** 2).sum(-1).nan_to_num(nan=float("inf")).amin(-1)
            off[r, ci, cj] = cand[torch.arange(ci.numel()), d2.argmax(1)]
    return (off - 0.5).permute(0, 3, 1, 2).contiguous()


def _head(cin: int, hidden: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, hidden, 1), nn.ELU(), nn.Conv2d(hidden, cout, 1))


class StippleNet(nn.Module):
    """Image -> per-cell stipple density and K point slots per cell (positions, radii, colours).

    forward(image (B, 3, P Gh, P Gw) float in [0, 1] (P = cell_px), n_points=None, shift=(0, 0)) -> dict
    (``shift``: rows and columns of the blue-noise window, ``prior="blue"``):
        ``density`` (B, Gh, Gw) expected stipples per cell (>= 0; with the density prior it sums to about
            n_points, default points_per_cell * Gh * Gw),
        ``positions`` (B, Gh*Gw, K, 2) normalised (x, y) of every slot (cells in row-major order; a slot
            may lie up to ``reach`` cells away from its cell's centre, clamped to the canvas),
        ``radii`` (B, Gh*Gw, K) stipple radii as fractions of min(H, W) of the input,
        ``colors`` (B, Gh*Gw, K, 3) in [0, 1].

    Radii: r = r0 exp(head), r0 = sqrt(mean(rho) / (pi n)) cells the radius that gives the image's mean
    tone with n = n_points / (Gh Gw) stipples per cell; the head starts at zero.
    """

    def __init__(self, config: StippleNetConfig, build_pattern: bool = True) -> None:
        super().__init__()
        self.config = c = config.validate()
        w, k = c.width, c.slots
        chans = [4, w // 2, w] if c.cell_px == 4 else [4, w // 4, w // 2, w]
        self.encoder = nn.Sequential(
            *[
                m
                for cin, cout in zip(chans[:-1], chans[1:], strict=True)
                for m in (nn.Conv2d(cin, cout, 3, 2, 1), nn.GroupNorm(math.gcd(8, cout), cout), nn.ELU())
            ]
        )
        if c.prior == "blue":  # the pattern is part of the weights: a loaded checkpoint brings its own
            side = PATTERN_SIDE
            pattern = blue_noise_slots(side, k) if build_pattern else torch.zeros(k, 2, side, side)
            self.register_buffer("slot_pattern", pattern)
        self.style_mlp = nn.Sequential(
            nn.Linear(w, c.style_dim),
            nn.ReLU(),
            *[m for _ in range(2) for m in (nn.Linear(c.style_dim, c.style_dim), nn.ReLU())],
        )
        self.blocks = nn.ModuleList([DecoderBlock(w, c.style_dim, 2 ** (i % 3)) for i in range(c.blocks)])
        self.density_head = _head(w, 16, 1)
        self.location_head = _head(w, 64, 2 * k)
        self.radius_head = _head(w, 32, k)
        self.color_head = _head(w, 32, 3 * k)
        for head in (self.location_head, self.radius_head):
            nn.init.zeros_(head[-1].weight)
            nn.init.zeros_(head[-1].bias)
        if c.density_prior:
            nn.init.zeros_(self.density_head[-1].weight)
            nn.init.zeros_(self.density_head[-1].bias)
        self._prior_cache: dict[tuple[int, int], torch.Tensor] = {}

    def _slot_prior(self, gh: int, gw: int, device, shift: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """(K, 2, Gh, Gw) prior offsets in cells from the cell centres; ``shift`` (rows, columns) picks the
        window of the blue-noise torus (``prior="blue"``; the R2 prior ignores it)."""
        if self.config.prior == "blue":
            side = self.slot_pattern.shape[-1]
            rows = (torch.arange(gh, device=device) + shift[0]) % side
            cols = (torch.arange(gw, device=device) + shift[1]) % side
            return self.slot_pattern[:, :, rows][:, :, :, cols].float()
        key = (gh, gw)
        if key not in self._prior_cache:
            self._prior_cache[key] = slot_prior(gh, gw, self.config.slots)
        return self._prior_cache[key].to(device)

    def forward(
        self, image: torch.Tensor, n_points: float | None = None, shift: tuple[int, int] = (0, 0)
    ) -> dict[str, torch.Tensor]:
        c = self.config
        p = c.cell_px
        if image.dim() != 4 or image.shape[1] != 3 or image.shape[2] % p or image.shape[3] % p:
            raise ValueError(
                f"image must be (B, 3, {p} Gh, {p} Gw) float in [0, 1], got {tuple(image.shape)}"
            )
        b, _, sh, sw = image.shape
        gh, gw, k = sh // p, sw // p, c.slots
        luma = 0.299 * image[:, 0:1] + 0.587 * image[:, 1:2] + 0.114 * image[:, 2:3]
        rho = 1.0 - luma  # (B, 1, S, S)
        x = self.encoder(torch.cat([image - 0.5, rho - 0.5], 1))  # (B, W, Gh, Gw)
        w = self.style_mlp(x.mean((2, 3)))  # (B, style_dim)
        rho_cell = F.avg_pool2d(rho, p)  # (B, 1, Gh, Gw)
        for block in self.blocks:
            x = block(x, w, rho_cell - 0.5)
        per_cell = (n_points / (gh * gw)) if n_points is not None else c.points_per_cell
        if c.density_prior:
            r = rho_cell[:, 0] + 1e-3
            prior = per_cell * r / r.mean((1, 2), keepdim=True)
            density = prior * torch.exp(self.density_head(x)[:, 0].clamp(max=4))
        else:
            density = F.softplus(self.density_head(x))[:, 0]  # (B, Gh, Gw)
        raw = self.location_head(x).view(b, k, 2, gh, gw)
        if c.slot_prior:
            prior_off = self._slot_prior(gh, gw, x.device, shift)[None]  # (1, K, 2, Gh, Gw) in cells
            raw = raw + torch.atanh(prior_off / c.reach)
        off = (c.reach * torch.tanh(raw)).permute(0, 3, 4, 1, 2)  # (B, Gh, Gw, K, 2) cells from centre
        rows = torch.arange(gh, device=x.device, dtype=x.dtype).view(1, gh, 1, 1) + 0.5
        cols = torch.arange(gw, device=x.device, dtype=x.dtype).view(1, 1, gw, 1) + 0.5
        px = ((cols + off[..., 0]) / gw).clamp(0, 1)
        py = ((rows + off[..., 1]) / gh).clamp(0, 1)
        positions = torch.stack([px, py], -1).reshape(b, gh * gw, k, 2)
        mean_rho = rho.mean((1, 2, 3)).clamp(min=1e-4).view(b, 1, 1, 1)
        r0 = (mean_rho / (math.pi * per_cell)).sqrt()  # cells
        r_cells = r0 * torch.exp(self.radius_head(x).clamp(-4, 3))  # (B, K, Gh, Gw)
        radii = (r_cells / min(gh, gw)).permute(0, 2, 3, 1).reshape(b, gh * gw, k)
        colors = (
            torch.sigmoid(self.color_head(x))
            .view(b, k, 3, gh, gw)
            .permute(0, 3, 4, 1, 2)
            .reshape(b, gh * gw, k, 3)
        )
        return {"density": density, "positions": positions, "radii": radii, "colors": colors}


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
    # plain Python floats row by row, no builtin call but round() in the inner loop: the same counts as numpy
    # element access (the same float operations in the same order) in a sixth of its time (128 x 128 cells,
    # CPU time: numpy 64 ms, with min/max calls and bounds tests 10.9 ms, this loop 6.8 ms)
    rows = target.tolist()
    out = []
    for i in range(h):
        cur, nxt = rows[i], rows[i + 1] if i + 1 < h else None
        if i % 2 == 0:
            cols, step, last, first = range(wd), 1, wd - 1, 0
        else:
            cols, step, last, first = range(wd - 1, -1, -1), -1, 0, wd - 1
        row_counts = [0] * wd
        for j in cols:
            v = cur[j]
            c = round(v)
            if c > cap:
                c = cap
            elif c < 0:
                c = 0
            row_counts[j] = c
            e = v - c
            if j != last:
                cur[j + step] += e * 7 / 16
            if nxt is not None:
                if j != first:
                    nxt[j - step] += e * 3 / 16
                nxt[j] += e * 5 / 16
                if j != last:
                    nxt[j + step] += e * 1 / 16
        out.append(row_counts)
    counts = np.array(out, dtype=np.int64).reshape(h, wd)
    flat, resid = counts.reshape(-1), (target - counts).reshape(-1)
    diff = n_points - int(flat.sum())
    if diff > 0:
        order = np.argsort(-np.where(flat < cap, resid, -np.inf), kind="stable")[:diff]
        flat[order] += 1
    elif diff < 0:
        order = np.argsort(np.where(flat > 0, resid, np.inf), kind="stable")[:-diff]
        flat[order] -= 1
    return torch.from_numpy(flat.reshape(h, wd)).to(weights.device)
