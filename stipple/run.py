"""One image through a stippler and its outputs (used by ``stipple/test.py`` and the figure scripts).

Outputs per image (``common.outputs``, all or nothing): ``stipple.png`` (anti-aliased dots, longer side
``render_side`` px), ``stipple.svg`` (one ``<circle>`` per stipple, ``size_mm`` wide, for pen plotters),
``points.csv`` (one row per stipple), ``strokes.json`` (format ``dots``) and ``metrics.json`` (count,
seconds, tone PSNR/SSIM of the blurred render against the grayscale input).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from common.image_io import load_image
from common.outputs import image_output
from stipple.evaluate import render_stipples, tone_metrics, write_outputs
from stipple.stipplers import lbg_stippling, weighted_voronoi_stippling

__all__ = ["StippleConfig", "stipple_one", "stipple_file"]


@dataclass
class StippleConfig:
    """Options of one stippling run (the flags of ``stipple/test.py``).

    Attributes:
        method: ``"wvs"`` weighted Voronoi, ``"lbg"`` weighted LBG, ``"net"`` the network.
        points: stipples per image. n_iter: WVS Lloyd iterations / LBG maximum iterations.
        gamma: density = (1 - gray) ** gamma (wvs, lbg). size_mm: SVG width, millimetres.
        render_side: longer side of the PNG, pixels. max_side: inputs are downscaled to this first.
        color: coloured stipples (default black). seed: random seed.
        radius: ``"net"`` the network's radii or ``"tone"`` tone-matched ones (``"net"`` only).
        relax: Lloyd steps on the network's points (``"net"`` only).
        progress: a progress bar per image on stderr.
        calibrate: tone-calibration steps on the network's radii (``"net"`` only,
            :func:`stipple.inference.calibrate_tone`).
    """

    method: str = "wvs"
    points: int = 1024
    n_iter: int = 50
    gamma: float = 1.0
    size_mm: float = 200.0
    render_side: int = 1024
    max_side: int = 1024
    color: bool = False
    seed: int = 0
    radius: str = "net"
    relax: int = 0
    progress: bool = True
    calibrate: int = 1


def stipple_one(
    method: str,
    image: torch.Tensor,
    points: int,
    n_iter: int,
    gamma: float,
    model,
    gen,
    radius: str = "net",
    relax: int = 0,
    progress=None,
    calibrate: int = 1,
):
    """Run one method on ``image`` (1, 3, H, W) in [0, 1]; ``model`` is the network for ``"net"`` (else
    unused), ``gen`` a CPU ``torch.Generator`` (the network takes its initial seed: the window of its
    blue-noise slot pattern); ``progress``: optional callable(iteration) after each
    WVS / LBG iteration (0-based). Returns ``(Stipples, seconds)``."""
    start = time.perf_counter()
    if method == "wvs":
        st = weighted_voronoi_stippling(
            image, points, n_iter=n_iter, gamma=gamma, generator=gen, progress=progress
        )[0]
    elif method == "lbg":
        st = lbg_stippling(image, points, max_iter=n_iter, gamma=gamma, generator=gen, progress=progress)
    else:
        from stipple.inference import predict_stipples

        st = predict_stipples(
            model, image, points, radius=radius, relax=relax, calibrate=calibrate, seed=gen.initial_seed()
        )
    return st, time.perf_counter() - start


def stipple_file(
    path: Path, folder: Path, cfg: StippleConfig, model, device, provenance: dict | None = None
) -> dict:
    """Stipple one image file and write its outputs into ``folder``; returns the metrics dict.

    Args:
        path: image file. folder: its output folder. cfg: run options. model: the network (``"net"``)
        or None. device: torch device. provenance: the network checkpoint's provenance, or None.

    A progress bar on stderr (``stippling NAME: k/n iterations``; one step for the network) shows
    from the first iteration on, unless ``cfg.progress`` is False.

    Raises:
        ImageLoadError: unreadable or too small image. OutputDirError: folder not writable.
    """
    from tqdm import tqdm

    image = load_image(path, max_side=cfg.max_side)
    gen = torch.Generator().manual_seed(cfg.seed)
    iterative = cfg.method != "net"
    with tqdm(
        total=cfg.n_iter if iterative else 1,
        desc=f"stippling {path.name} ({cfg.method}, {cfg.points} points)",
        unit="iteration" if iterative else "pass",
        disable=not cfg.progress,
        leave=False,
    ) as bar:
        bar.refresh()  # the 0/n line as the work starts, not after the first iteration

        def tick(it: int) -> None:
            bar.update(it + 1 - bar.n)

        st, seconds = stipple_one(
            cfg.method, image.to(device), cfg.points, cfg.n_iter, cfg.gamma, model, gen, cfg.radius,
            cfg.relax, tick, cfg.calibrate,
        )  # fmt: skip
        bar.update(bar.total - bar.n)
    _, _, h, w = image.shape
    scale = cfg.render_side / max(h, w)
    rh, rw = max(1, round(h * scale)), max(1, round(w * scale))
    metrics = {
        "image": str(path),
        "method": cfg.method,
        "points": len(st),
        "seconds": round(seconds, 4),
        "height": h,
        "width": w,
        "device": str(device),
        **tone_metrics(st, image),
        "config": asdict(cfg),
    }
    if provenance is not None:
        metrics["checkpoint_offline_encoder"] = provenance.get("offline_encoder")
    with image_output(folder) as out:
        out.image("stipple.png", render_stipples(st, rh, rw, color=cfg.color))
        write_outputs(st, out, h, w, cfg.size_mm, color=cfg.color)
        out.metrics(metrics)
    return metrics
