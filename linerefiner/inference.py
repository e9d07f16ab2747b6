"""LineRelifer inference: load a refiner, prepare a drawing, refine it whole or in tiles, post-process.

Shapes: H, W image size. Drawings are gray ``(1, 1, H, W)`` float32 in [0, 1], dark lines on light paper.

Tiling. The generator has no stride, so each output pixel depends only on the input inside its
receptive field (radius r = :func:`linerefiner.model.receptive_radius`, 9 px for 4 blocks) and on where
the image border (zero padding) is. :func:`refine_tiled` cuts the image into ``tile x tile`` cores, runs
each core with a margin ``m >= r`` of real neighbouring pixels (clipped at the image border, where
whole-image inference sees the same zero padding), and keeps only the core. Every kept pixel therefore
sees exactly the inputs it sees in whole-image inference: the result equals :func:`refine_whole` up to
float rounding (measured < 1e-5), while memory is bounded by a few ``(tile + 2m)^2 x 64`` feature maps
instead of ``H x W x 64`` ones (530 MB each at 1920x1080 in fp32).

Blank tiles. A core whose margin-padded window lies inside the image and is entirely white paper
(exactly 1.0) sees a constant input without any border, so its output is the constant response ``c`` of
the network to white paper (computed once per model): such tiles are filled with ``c`` instead of
computed. This keeps equality with whole-image inference and makes sparse line drawings faster;
``skip_blank=False`` turns it off.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from common.checkpoint import default_checkpoint, load_checkpoint, load_model_state
from linerefiner.model import LineGenerator, RefinerConfig, receptive_radius
from linerefiner.synth import get_style
from linerefiner.training import to_signed, to_unit


def checkpoint_for_style(style: str) -> Path:
    """Path of the shipped checkpoint of a named style: ``checkpoints/linerefiner_<style>.pt``."""
    get_style(style)
    return default_checkpoint(f"linerefiner_{style}.pt")


def load_refiner(
    checkpoint: str | Path | None = None, style: str = "taper", device: torch.device | str = "cpu"
) -> tuple[LineGenerator, RefinerConfig, dict]:
    """Rebuild the generator from a checkpoint (its stored config), in eval mode with BN folded.

    Args:
        checkpoint: a ``.pt`` file from ``linerefiner/train.py`` (resumable or exported), or None for the
            shipped checkpoint of ``style``.
        style: named style used when ``checkpoint`` is None. device: target device.
    Returns:
        ``(generator, config, checkpoint_dict)``.
    Raises:
        CheckpointError: missing, corrupt, or mismatching checkpoint. UserError: unknown style.
    """
    path = Path(checkpoint) if checkpoint is not None else checkpoint_for_style(style)
    ck = load_checkpoint(
        path, map_location="cpu", hint="train one with: python linerefiner/train.py --export PATH"
    )
    cfg = RefinerConfig.from_dict(ck["config"])
    g = LineGenerator(cfg)
    load_model_state(g, ck["model"])
    g = fold_batchnorm(g.eval()).to(device).to(memory_format=torch.channels_last)
    return g, cfg, ck


def fold_batchnorm(g: LineGenerator) -> LineGenerator:
    """Copy of an eval-mode generator with each BatchNorm folded into the conv before it (same function).

    :func:`load_refiner` also stores the weights channels-last (about 1.3x faster on CPU, same result).

    ``BN(conv(x)) = gamma (W x + b - mu) / sqrt(var + eps) + beta`` becomes one conv with scaled weights.
    """
    g = copy.deepcopy(g).eval()
    for block in g.body:
        for conv_name, bn_name in (("conv1", "bn1"), ("conv2", "bn2")):
            conv, bn = getattr(block, conv_name), getattr(block, bn_name)
            if not isinstance(bn, nn.BatchNorm2d):
                continue
            with torch.no_grad():
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                conv.weight.mul_(scale.view(-1, 1, 1, 1))
                conv.bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)
            setattr(block, bn_name, nn.Identity())
    return g


@dataclass
class PreparedDrawing:
    """A drawing ready for the refiner: ``gray (1, 1, H, W)`` in [0, 1], dark lines on light paper."""

    gray: torch.Tensor
    inverted: bool = False
    from_color: bool = False
    notes: list[str] = field(default_factory=list)


def prepare_drawing(image: torch.Tensor) -> PreparedDrawing:
    """Gray, dark-on-light version of an image ``(1, C, H, W)`` in [0, 1] (C = 1 or 3).

    Colour is converted to luminance (ITU-R 601). A dark background (median gray < 0.5, i.e. light lines on
    dark paper) is inverted; both facts are recorded in ``notes`` for the user.
    """
    notes = []
    from_color = False
    if image.shape[1] == 3:
        from_color = bool((image.amax(1) - image.amin(1)).max() > 2 / 255)
        w = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype).view(1, 3, 1, 1)
        gray = (image * w).sum(1, keepdim=True)
        if from_color:
            notes.append("colour input converted to gray")
    else:
        gray = image
    inverted = bool(gray.median() < 0.5)
    if inverted:
        gray = 1.0 - gray
        notes.append("dark background detected: input inverted to dark lines on light paper")
    return PreparedDrawing(gray.clamp(0, 1).contiguous(), inverted, from_color, notes)


def _forward(g: nn.Module, gray: torch.Tensor, bf16: bool = False) -> torch.Tensor:
    """``(1, 1, h, w)`` [0, 1] CPU -> generator output in [0, 1], CPU float32 (channels-last inside)."""
    dev = next(g.parameters()).device
    x = to_signed(gray.to(dev)).contiguous(memory_format=torch.channels_last)
    if bf16:
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            y = g(x)
    else:
        y = g(x)
    return to_unit(y.float()).cpu().contiguous()


@torch.inference_mode()
def refine_whole(g: nn.Module, gray: torch.Tensor, bf16: bool = False) -> torch.Tensor:
    """One forward pass over the whole drawing (the original ``predict.py``); memory grows with H x W.

    Args: g: generator (eval). gray: ``(1, 1, H, W)`` in [0, 1]. bf16: bfloat16 autocast (about 3x faster on
    CPUs with AVX512-BF16, output differs from fp32 by up to ~1e-2). Returns: ``(1, 1, H, W)`` in [0, 1].
    """
    return _forward(g, gray, bf16)


@torch.inference_mode()
def paper_response(g: nn.Module, radius: int, bf16: bool = False) -> float:
    """Output value of ``g`` (in [0, 1]) far from any border on constant white paper."""
    side = 2 * radius + 3
    out = _forward(g, torch.ones(1, 1, side, side), bf16)
    return float(out[0, 0, side // 2, side // 2])


@dataclass
class TileStats:
    """Counts of one tiled run: tiles computed and blank tiles filled with the paper response."""

    computed: int = 0
    skipped: int = 0


@torch.inference_mode()
def refine_tiled(
    g: nn.Module,
    gray: torch.Tensor,
    cfg: RefinerConfig,
    tile: int = 512,
    margin: int | None = None,
    skip_blank: bool = True,
    stats: TileStats | None = None,
    progress: bool = False,
    bf16: bool = False,
) -> torch.Tensor:
    """Tiled inference equal to :func:`refine_whole` with bounded memory (see module docstring).

    Args:
        g: generator (eval). gray: ``(1, 1, H, W)`` in [0, 1] on the CPU. cfg: its config (receptive
            field).
        tile: core side in pixels (> 0). margin: context around each core, default receptive radius + 8;
            must be >= the receptive radius. skip_blank: fill all-white interior tiles with the paper
            response. stats: optional :class:`TileStats` filled in. progress: show a tqdm bar.
        bf16: see :func:`refine_whole`.
    Returns:
        ``(1, 1, H, W)`` float32 in [0, 1] on the CPU.
    Raises:
        ValueError: ``tile < 1`` or ``margin`` smaller than the receptive radius.
    """
    r = receptive_radius(cfg)
    m = r + 8 if margin is None else margin
    if tile < 1 or m < r:
        raise ValueError(
            f"tile must be >= 1 and margin >= receptive radius {r} px (got tile {tile}, margin {m})"
        )
    _, _, h, w = gray.shape
    out = torch.empty(1, 1, h, w, dtype=torch.float32)
    stats = stats if stats is not None else TileStats()
    paper = None
    cores = [(i, j) for i in range(0, h, tile) for j in range(0, w, tile)]
    it = cores
    if progress:
        from tqdm import tqdm

        it = tqdm(cores, desc="tiles", leave=False, mininterval=2)
    for i, j in it:
        i1, j1 = min(i + tile, h), min(j + tile, w)
        a0, a1, b0, b1 = max(i - m, 0), min(i1 + m, h), max(j - m, 0), min(j1 + m, w)
        window = gray[:, :, a0:a1, b0:b1]
        interior = i - m >= 0 and j - m >= 0 and i1 + m <= h and j1 + m <= w
        if skip_blank and interior and bool((window == 1.0).all()):
            if paper is None:
                paper = paper_response(g, r, bf16)
            out[:, :, i:i1, j:j1] = paper
            stats.skipped += 1
            continue
        res = _forward(g, window, bf16)
        out[:, :, i:i1, j:j1] = res[:, :, i - a0 : i1 - a0, j - b0 : j1 - b0]
        stats.computed += 1
    return out


def postprocess(
    img: torch.Tensor, threshold: float | None = None, curve: float | None = None
) -> torch.Tensor:
    """The clean-up the original left to an image editor (reference B.3).

    Args:
        img: ``(1, 1, H, W)`` in [0, 1] (dark lines). curve: a curves adjustment ``out = img ** curve``
            (> 1 darkens grays: bolder lines; < 1 lightens). threshold: binarise, ``out = 0 if img < threshold
            else 1`` (applied after ``curve``).
    Returns:
        ``(1, 1, H, W)`` in [0, 1].
    """
    out = img
    if curve is not None:
        out = out.clamp(0, 1) ** curve
    if threshold is not None:
        out = (out >= threshold).to(out.dtype)
    return out
