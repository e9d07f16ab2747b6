"""Held-out validation of the compositor's region pickers, every one painted by ``compositor.paint``.

    python -m compositor.validation --actor shipped=checkpoints/cnp_compositor.pt
    python -m compositor.validation --actor imitation=runs/cnp_imitation/compositor_best.pt \\
        --actor ddpg=runs/cnp_ddpg/compositor_best.pt --photos 256 --stroke_num 1000

Figures: the mean MSE (and mean PSNR, dB) after exactly ``--stroke_num`` strokes, painted by
:func:`compositor.paint.paint_image` from a black canvas with the shipped painter (or ``--painter``), on
images that no training run sees: crops of :data:`painter.data.VAL_OPENCV` (16 crops of 64 px, seed
4321: the figure ``compositor/train.py`` keeps its best snapshot by; ``--crops N``: the first N) or,
with ``--photos SIDE``, the five whole photos at that long side. Rows: each ``--actor NAME=CHECKPOINT``
(``--policy actor``, the paper's compositor with the release's region schedule), mode 3's raster grid,
mode 1's look-ahead picker (``--policy lookahead``) and its multi-scale picker (``--policy
multiscale``, mode 1's default). On the paper's black canvas (the training environment's), or with
``--ground mean`` on the toned ground of ``compositor/test.py --ground mean``. The table is printed and
written to ``--output_dir/validation.json``.

Shape letters: V validation images, H, W their size.
"""

from __future__ import annotations

from common.cli import ArgumentParser, add_common_args, positive_int, run_main

VAL_CROPS = 16  # held-out crops of the validation figure
VAL_CROP_SEED = 4321
VAL_STROKES = 200  # its stroke budget: 40 painter calls, one compositor region each


def val_crops(size: int, count: int = VAL_CROPS, seed: int = VAL_CROP_SEED):
    """The held-out validation crops: (count, 3, size, size) float in [0, 1], random crops of 30-100 %
    of the short side of the :data:`painter.data.VAL_OPENCV` photos (never trained on), fixed by ``seed``.

    Raises:
        whatever :func:`painter.data.load_opencv_photos` raises when the opencv-doc photos cannot be had.
    """
    from painter.data import VAL_OPENCV, CropSampler, load_opencv_photos

    return CropSampler(load_opencv_photos(VAL_OPENCV), size=size, min_frac=0.3, seed=seed).sample(count)


def val_photos(side: int) -> list:
    """The five whole :data:`painter.data.VAL_OPENCV` photos, each (1, 3, H, W) float in [0, 1] with the
    long side ``side`` pixels (aspect ratio kept).

    Raises:
        whatever :func:`painter.data.load_opencv_photos` raises when the opencv-doc photos cannot be had.
    """
    import torch.nn.functional as F

    from painter.data import VAL_OPENCV, load_opencv_photos

    out = []
    for photo in load_opencv_photos(VAL_OPENCV, max_side=max(side, 512)):
        scale = side / max(photo.shape[-2:])
        out.append(F.interpolate(photo[None], scale_factor=scale, mode="area").clamp(0, 1))
    return out


def paint_mse(
    targets,
    painter,
    actor,
    stroke_num: int = VAL_STROKES,
    policy: str = "actor",
    mode: int = 1,
    ground="black",
):
    """Paint every target with :func:`compositor.paint.paint_image` and measure it.

    Args:
        targets: (V, 3, H, W) tensor or a list of (1, 3, H, W) tensors, float in [0, 1].
        painter: the frozen painter (eval). actor: :class:`compositor.model.Actor` (put in eval mode
            here; only ``policy="actor"`` uses it) or None.
        stroke_num: strokes per image (exact). policy, mode: as :func:`compositor.paint.paint_image`
            (mode 3 is the raster grid, whatever the policy).
        ground: ``"black"`` (the paper's canvas, the training environment's) or ``"mean"`` (each
            target's mean colour, :func:`compositor.paint.ground_colour`); the MSE is measured on
            the final canvas, ground included.

    Returns:
        dict with ``mse`` (mean over the images of the per-image MSE, squared [0, 1] units) and ``psnr``
        (mean per-image PSNR, dB, data range 1).
    """
    import math

    import torch

    from compositor.paint import paint_image

    if actor is not None:
        actor.eval()  # BatchNorm: the running statistics, as at test time
    errors = []
    with torch.no_grad():
        for target in targets:
            target = target if target.dim() == 4 else target[None]
            res = paint_image(target, painter, actor, stroke_num, mode=mode, policy=policy, ground=ground)
            errors.append((res.canvas - target).pow(2).mean().item())
    return {
        "mse": sum(errors) / len(errors),
        "psnr": sum(10 * math.log10(1 / max(e, 1e-12)) for e in errors) / len(errors),
    }


def compare(targets, painter, actors: dict, stroke_num: int = VAL_STROKES, ground: str = "black") -> dict:
    """:func:`paint_mse` of each named actor (``policy="actor"``), the raster grid (mode 3), the
    look-ahead picker (mode 1, ``policy="lookahead"``) and the multi-scale picker (``"multiscale"``) on
    the same targets and ground: {name: {"mse", "psnr"}}."""
    rows = {
        name: paint_mse(targets, painter, actor, stroke_num, ground=ground) for name, actor in actors.items()
    }
    rows["grid (mode 3)"] = paint_mse(targets, painter, None, stroke_num, mode=3, ground=ground)
    for policy in ("lookahead", "multiscale"):
        rows[policy] = paint_mse(targets, painter, None, stroke_num, policy=policy, ground=ground)
    return rows


def _named_checkpoint(text: str) -> tuple[str, str]:
    from common.errors import UserError

    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise UserError(f"--actor takes NAME=CHECKPOINT, got {text!r}")
    return name, path


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    add_common_args(parser, output_dir_default="results/compositor_validation")
    parser.add_argument("--actor", action="append", default=[], help="NAME=CHECKPOINT (repeatable)")
    parser.add_argument("--painter", default=None, help="painter checkpoint (default: shipped)")
    parser.add_argument("--stroke_num", type=positive_int, default=VAL_STROKES, help="strokes per image")
    parser.add_argument("--ground", choices=("black", "mean"), default="black", help="canvas before painting")
    parser.add_argument("--crops", type=positive_int, default=VAL_CROPS, help="held-out crops (first N)")
    parser.add_argument(
        "--photos", type=positive_int, default=0, help="whole photos at this long side (default: crops)"
    )
    args = parser.parse_args(argv)
    actors_named = [_named_checkpoint(a) for a in args.actor]

    import json

    from common.checkpoint import default_checkpoint
    from common.cli import prepare_output_dir
    from common.device import get_device
    from compositor.model import load_actor
    from painter.model import load_painter

    out_dir = prepare_output_dir(args.output_dir)
    device = get_device(args.device)
    painter = load_painter(args.painter or default_checkpoint("cnp_painter.pt"), device)
    actors = {name: load_actor(path, device).float() for name, path in actors_named}
    if args.photos:
        targets = [t.to(device) for t in val_photos(args.photos)]
        where = f"{len(targets)} held-out photos at {args.photos} px"
    else:
        size = next(iter(actors.values())).config.patch if actors else painter.config.patch
        targets = val_crops(size, max(args.crops, VAL_CROPS))[: args.crops].to(device)  # a prefix of the 16
        where = f"{len(targets)} held-out crops of {size} px"
    rows = compare(targets, painter, actors, args.stroke_num, args.ground)
    print(f"{where}, {args.stroke_num} strokes, {args.ground} ground, MSE / PSNR dB:")
    for name, row in rows.items():
        print(f"  {name:24s} {row['mse']:.5f}  {row['psnr']:6.2f}")
    table = {"images": where, "stroke_num": args.stroke_num, "ground": args.ground, "rows": rows}
    table["actors"] = dict(actors_named)
    (out_dir / "validation.json").write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    run_main(main)
