"""Typed configuration of segmentation-based painting and its four style presets.

The presets follow the paper (de Guevara, Fisher, Hertzmann, arXiv 2311.14271, Sec. 4 and Table 1) where it
differs from the release's ``define_styles``; each difference is listed in ``segpaint/__init__.py``.

Two budgets (``--preset``): ``default`` runs 1/6 of the paper's Adam steps per pass (50 instead of 300; 83
instead of 500 for expressionist), so that a 512-px photo is painted in minutes on a CPU; ``paper`` runs the
paper's / release's 300 (500). Measured in ``segpaint/README.md`` (issue 16): the default gives exactly the
quality of the former ``--iter_steps 50`` (it is the same configuration) in about a sixth of the paper
preset's time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

STYLES = ("realistic", "painterly", "abstract", "expressionist")
PRESETS = ("default", "paper")
PAPER_STEPS = {"realistic": 300, "painterly": 300, "abstract": 300, "expressionist": 500}
DEFAULT_STEP_FRACTION = 1 / 6  # the default preset's share of the paper's Adam steps per pass


@dataclass
class SegPaintConfig:
    """All settings of one painting run (visible defaults = the ``realistic`` preset at 512 px).

    Attributes:
        style: preset name, one of :data:`STYLES`.
        strokes_per_patch: strokes T per 128-px window in each pass (s_p in the paper); its length is the
            number of passes P.
        brush_sizes: maximum stroke radius per pass, in the LtP radius unit r of a 128-px patch (radius in px
            ``0.5 + 32 r``); halved every pass, as in the paper.
        iter_steps: Adam iterations per pass (50, the default preset; 300 in the paper and the release).
        lr: Adam learning rate on the raw stroke parameters (0.004, the release default).
        w_perc: weight beta of the VGG16 perceptual term (paper: 0.01 for realistic, 0 otherwise); used only
            when the VGG16 weights are in the local torch.hub cache.
        patch_size: window side in pixels (128, fixed by the LtP renderer); overlap: window overlap (20 px).
        uniform_passes: passes [0, uniform_passes) paint the uniform grid of windows; later passes use
            error-driven attention windows.
        mask_from_pass: first pass painted per semantic region (None: no masks).
        mask_keep_fraction: a stroke painted for a region survives only if at least this fraction of its
            alpha lies inside the region (the release: 98% of its pixels).
        max_regions: at most this many semantic regions (offline segmenter budget).
        init_sigma: std of the start/end points around the grid midpoint, per pass (patch units).
        global_loss: also compare the pasted full canvas with the image at half resolution.
        canvas_color: initial canvas, "black" (the paper) or "white".
        texturize: also write a texturized copy of the painting (procedural bristle texture).
        max_side: images whose longer side exceeds this are downscaled to it first.
    """

    style: str = "realistic"
    strokes_per_patch: tuple[int, ...] = (16, 36, 49, 64)
    brush_sizes: tuple[float, ...] = (0.8, 0.4, 0.2, 0.1)
    iter_steps: int = 50
    lr: float = 0.004
    w_perc: float = 0.01
    patch_size: int = 128
    overlap: int = 20
    uniform_passes: int = 4
    mask_from_pass: int | None = None
    mask_keep_fraction: float = 0.9
    max_regions: int = 8
    init_sigma: tuple[float, ...] = (0.2, 0.1, 0.05, 0.05)
    global_loss: bool = False
    canvas_color: str = "black"
    texturize: bool = True
    max_side: int = 512
    extra: dict = field(default_factory=dict)

    @property
    def passes(self) -> int:
        return len(self.strokes_per_patch)

    def to_dict(self) -> dict:
        return asdict(self)


def style_config(style: str, preset: str = "default", **overrides) -> SegPaintConfig:
    """The preset of ``style`` at budget ``preset`` with keyword overrides (``None`` values are ignored).

    Args:
        style: one of :data:`STYLES`.
        preset: ``"default"`` (1/6 of the paper's Adam steps per pass) or ``"paper"`` (the paper's 300, 500
            for expressionist); an explicit ``iter_steps`` override wins over both.

    Raises:
        ValueError: unknown style or preset.
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    steps = PAPER_STEPS[style]
    if preset == "default":
        steps = round(steps * DEFAULT_STEP_FRACTION)
    overrides = {"iter_steps": steps, **{k: v for k, v in overrides.items() if v is not None}}
    if style == "realistic":  # paper: P = 4 passes, uniform attention, beta = 0.01
        cfg = SegPaintConfig()
    elif style == "painterly":  # paper: 16 strokes per window per pass, masks from pass 1, beta = 0
        cfg = SegPaintConfig(
            style=style, strokes_per_patch=(16, 16, 16, 9), w_perc=0.0, uniform_passes=1, mask_from_pass=1
        )
    elif style == "abstract":  # paper era: no uniform base pass, masks from the start
        cfg = SegPaintConfig(
            style=style,
            strokes_per_patch=(16, 16, 9),
            brush_sizes=(0.8, 0.4, 0.2),
            w_perc=0.0,
            uniform_passes=0,
            mask_from_pass=0,
            init_sigma=(0.2, 0.1, 0.05),
        )
    else:  # expressionist (release only): two coarse passes, big brush, 500 iterations
        cfg = SegPaintConfig(
            style=style,
            strokes_per_patch=(9, 9),
            brush_sizes=(0.8, 0.8),
            w_perc=0.0,
            uniform_passes=1,
            init_sigma=(0.2, 0.2),
        )
    return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
