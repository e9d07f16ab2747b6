"""One stylization run (CNP paper Sec. 3.4, Eq. 11): paint the content with CNP, optimise its strokes
against :class:`compositor.stylize_loss.StyleObjective`, write the image's outputs.

What ``compositor/stylize.py`` calls per content image, after loading the VGG-19, the painter, the
actor and the style image once (``common.outputs`` per-image contract). Images are ``(1, 3, H, W)``
float in [0, 1]; strokes ``(N, 8)`` oil rows in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from common.outputs import image_output
from common.renderers.oil import render_oil
from compositor.paint import paint_image
from compositor.run import load_target
from compositor.stylize_loss import StyleObjective, optimise_strokes

#: VGG-19 layers of the Gram style term and of the content term (the paper's and the release's).
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYERS = ("relu4_1", "relu5_1")


@dataclass
class StylizeConfig:
    """Options of one stylization run (the flags of ``compositor/stylize.py``).

    Attributes:
        stroke_num: strokes of the CNP painting (mode 1, compositor). size: canvas long side, pixels.
        iters: Adam iterations on the strokes [paper 1001]. lr: Adam learning rate.
        style_weight, content_weight, dt_weight: the relative weights lambda_sty, lambda_con, lambda_DT
            of Eq. 11 (each term divided by its first value). no_dt: ablation, lambda_DT = 0.
        random_vgg: the offline path, a randomly initialised VGG-19. seed: random seed.
    """

    stroke_num: int = 500
    size: int = 256
    iters: int = 200
    lr: float = 0.005
    style_weight: float = 1.0
    content_weight: float = 1.0
    dt_weight: float = 0.5
    no_dt: bool = False
    random_vgg: bool = False
    seed: int = 0


def stylize_file(
    path: Path, folder: Path, style: torch.Tensor, style_name: str, vgg, painter, actor, cfg: StylizeConfig
) -> dict:
    """Stylize the content image ``path`` and write ``folder`` (all or nothing, ``common.outputs``).

    Files: ``stylized.png``, ``initial.png`` (the CNP painting), ``strokes.json`` (format ``oil``, black
    background), ``stylized.svg`` and ``metrics.json`` (terms before/after, Gram distance, seconds,
    content, style, strokes, whether the DT loss was used, the VGG weights).

    Args:
        path: the content image. folder: its output folder. style: ``(1, 3, h, w)`` style image on the
            device, long side ``cfg.size``; style_name: its path, for ``metrics.json``.
        vgg: :class:`common.losses.perceptual.VGGFeatures` with the :data:`STYLE_LAYERS` (eval, on the
            device). painter: :class:`painter.model.Painter`. actor: :class:`compositor.model.Actor`.
        cfg: the run's options.

    Returns:
        The metrics written to ``metrics.json``.

    Raises:
        ImageLoadError: an unreadable content image (before anything is written).
    """
    content = load_target(path, cfg.size, style.device)
    # black ground: the strokes are optimised and re-rendered on a black canvas below
    init = paint_image(content, painter, actor, cfg.stroke_num, mode=1, ground="black")
    dt_weight = 0.0 if cfg.no_dt else cfg.dt_weight
    objective = StyleObjective(
        vgg, content, style, STYLE_LAYERS, CONTENT_LAYERS, cfg.style_weight, cfg.content_weight, dt_weight
    )
    strokes, metrics = optimise_strokes(init.strokes, objective, cfg.iters, cfg.lr)
    with torch.no_grad():
        final = render_oil(strokes[None], torch.zeros_like(content)).clamp(0, 1)
    h, w = content.shape[-2:]
    metrics.update(
        content=str(path),
        style=style_name,
        strokes=int(strokes.shape[0]),
        dt_loss_used=not cfg.no_dt,
        vgg19_weights="random (offline path)" if cfg.random_vgg else "IMAGENET1K_V1",
    )
    with image_output(folder) as out:
        out.image("stylized.png", final)
        out.image("initial.png", init.canvas)
        out.strokes("oil", strokes.cpu(), h, w, background=[0.0, 0.0, 0.0], svg="stylized.svg")
        out.metrics(metrics)
    return metrics
