"""Regenerate the README gallery (``docs/gallery/``) from real runs of every method on bundled photos.

    python scripts/make_gallery.py                          # every method and the cheap paper figures
    python scripts/make_gallery.py --only cnp stipple       # some entries (names below)
    python scripts/make_gallery.py --only figures           # only the paper figures (group of fig_* entries)

Each entry runs a method's own ``test.py`` (or a figure script in ``scripts/figures/``) as a subprocess,
exactly as a user would type it, on a bundled photo (``common.data.bundled_photos``) at a modest size, on
the CPU with one torch thread and a fixed seed, using the checkpoints shipped in ``checkpoints/``. Its raw
outputs go to ``--work_dir`` (default ``runs/gallery/``, git-ignored); small optimised copies (JPEG for
paintings, PNG for black-on-white drawings, a short GIF of the painting process, the SVG sketch) go to
``--out`` (default ``docs/gallery/``) with one caption file per entry, ``<entry>.md``: the exact command,
the stroke count, the seconds it took (with the machine's load average) and the checkpoints' SHA-256.

The same command regenerates the same images from the same checkpoints (fixed seeds, CPU, one thread);
only the seconds in the captions change. Entries: segpaint, cnp, stipple, linerefiner, sketching (the
group ``methods``) and fig_cnp, fig_stipple, fig_stipple_spectrum, fig_linerefiner, fig_sketching (the group
``figures``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from common.cli import ArgumentParser, prepare_output_dir, run_main
from common.errors import UserError

if TYPE_CHECKING:  # Pillow is imported by the functions that use it, numpy and torch too (--help stays fast)
    from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PHOTO_SIDE = 256  # longer side of the photo shown beside each result
RESULT_SIDE = 384  # longer side of result images in the gallery
GIF_SIDE = 256  # longer side of the process GIFs
GIF_FRAMES = 24  # frames kept in a process GIF (the last one held for 2 s)


@dataclass
class Run:
    """One finished subprocess: its command as typed, wall seconds and the load average before it ran."""

    command: str
    seconds: float
    load: float
    out_dir: Path


@dataclass
class Caption:
    """What a caption file says about one gallery entry."""

    title: str
    runs: list[Run]
    strokes: str
    files: dict[str, str]  # gallery file name -> what it shows
    notes: list[str] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)


def _sha(name: str) -> str:
    """First 12 hex digits of a shipped checkpoint's SHA-256, so a caption says which weights made it."""
    path = ROOT / "checkpoints" / name
    return f"`checkpoints/{name}` sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"


def run(script: str, args: list[str], out_dir: Path) -> Run:
    """Run ``python SCRIPT ARGS`` from the repository root with one thread; raises UserError on failure."""
    cmd = [sys.executable, script, *args]
    shown = "python " + shlex.join([script, *args])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    env.pop("STROKELAB_POLICY_THREADS", None)  # a user's OMP_NUM_THREADS: common.threads keeps 1 thread
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    load = os.getloadavg()[0]
    print(f"== {shown}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise UserError(f"{shown} failed with exit status {proc.returncode}:\n{tail}")
    print(f"   {seconds:.1f} s (load average {load:.1f})", flush=True)
    return Run(shown, seconds, load, out_dir)


def _rel(path: Path) -> str:
    """``path`` relative to the repository root when it is inside it (shorter commands), else absolute."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _find(folder: Path, *names: str) -> Path:
    """The first of ``names`` (glob patterns) found under ``folder``; raises UserError naming them."""
    for name in names:
        hits = sorted(folder.rglob(name))
        if hits:
            return hits[0]
    raise UserError(f"none of {names} was written under {folder}")


def _resized(im: Image.Image, side: int) -> Image.Image:
    """``im`` scaled (Lanczos) so its longer side is at most ``side`` pixels."""
    from PIL import Image

    scale = side / max(im.size)
    if scale >= 1:
        return im
    return im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)


def save_jpeg(src: Path | Image.Image, dst: Path, side: int = RESULT_SIDE) -> Path:
    """A colour image as an optimised JPEG (quality 85) with its longer side at most ``side``."""
    from PIL import Image

    im = src if isinstance(src, Image.Image) else Image.open(src)
    _resized(im.convert("RGB"), side).save(dst, "JPEG", quality=85, optimize=True)
    return dst


def save_png(src: Path | Image.Image, dst: Path, side: int = RESULT_SIDE, gray: bool = False) -> Path:
    """An image as an optimised PNG (8-bit gray for drawings) with its longer side at most ``side``."""
    from PIL import Image

    im = src if isinstance(src, Image.Image) else Image.open(src)
    im = _resized(im.convert("L" if gray else "RGB"), side)
    if not gray:
        im = im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    im.save(dst, "PNG", optimize=True)
    return dst


def save_gif(video: Path, dst: Path, side: int = GIF_SIDE, frames: int = GIF_FRAMES) -> Path:
    """The painting process (an MP4 or GIF) as a short looping GIF: ``frames`` evenly spaced frames at
    ``side`` px, 8 frames per second, the finished painting held for 2 s."""
    import imageio.v3 as iio
    import numpy as np
    from PIL import Image

    all_frames = [np.asarray(f)[..., :3] for f in iio.imiter(video)]
    if not all_frames:
        raise UserError(f"{video} has no frames")
    first = 0  # skip the blank canvas the recordings start with
    while first < len(all_frames) - 1 and all_frames[first].std() < 2:
        first += 1
    keep = np.unique(np.linspace(first, len(all_frames) - 1, frames).round().astype(int))
    images = [
        _resized(Image.fromarray(all_frames[i]), side).quantize(
            colors=96, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        for i in keep
    ]
    durations = [125] * (len(images) - 1) + [2000]
    images[0].save(dst, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=True)
    return dst


def save_row(images: list[Path], labels: list[str], dst: Path, side: int = 256) -> Path:
    """Images side by side (each ``side`` px high), a label under each, as an optimised JPEG."""
    from PIL import Image, ImageDraw

    tiles = [Image.open(p).convert("RGB") for p in images]
    tiles = [t.resize((round(t.width * side / t.height), side), Image.LANCZOS) for t in tiles]
    gap, label_h = 6, 18
    row = Image.new("RGB", (sum(t.width for t in tiles) + gap * (len(tiles) - 1), side + label_h), "white")
    draw, x = ImageDraw.Draw(row), 0
    for tile, label in zip(tiles, labels, strict=True):
        row.paste(tile, (x, 0))
        draw.text((x + 4, side + 3), label, fill="black")
        x += tile.width + gap
    row.save(dst, "JPEG", quality=85, optimize=True)
    return dst


def write_caption(out: Path, name: str, cap: Caption) -> Path:
    """``out/<name>.md``: how the entry was made, in words a reader can paste into a shell."""
    lines = [
        f"# {cap.title}",
        "",
        "Made by `python scripts/make_gallery.py --only " + name + "`, which ran:",
        "",
    ]
    for r in cap.runs:
        lines += [
            "```bash",
            r.command,
            "```",
            "",
            f"in {r.seconds:.1f} s wall time (CPU, 1 torch thread, load average {r.load:.1f} at its start).",
            "",
        ]
    lines += [f"Strokes: {cap.strokes}.", ""]
    if cap.checkpoints:
        lines += ["Checkpoints: " + "; ".join(cap.checkpoints) + ".", ""]
    lines += [f"- `{f}`: {what}" for f, what in cap.files.items()]
    if cap.notes:
        lines += ["", *cap.notes]
    path = out / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _photo(work: Path, out: Path, name: str) -> Path:
    """Write bundled photo ``name`` as a lossless PNG input (work dir) and a small JPEG (gallery)."""
    from PIL import Image

    from common.data import bundled_photos

    arr = bundled_photos([name])[name]
    src = work / "photos" / f"{name}.png"
    src.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(src)
    save_jpeg(src, out / f"photo_{name}.jpg", side=PHOTO_SIDE)
    return src


def _metrics(path: Path) -> dict:
    return json.loads(path.read_text())


def entry_segpaint(work: Path, out: Path) -> Caption:
    import numpy as np

    photo = _photo(work, out, "chelsea")
    runs, metrics = [], {}
    for style, steps, video in (("realistic", 40, True), ("painterly", 30, False)):
        d = work / f"segpaint_{style}"
        runs.append(
            run(
                "segpaint/test.py",
                [
                    "--image_path",
                    _rel(photo),
                    "--save_dir",
                    _rel(d),
                    "--exp_name",
                    "gallery",
                    "--style",
                    style,
                ]
                + ["--max_side", "256", "--iter_steps", str(steps), "--no-texturize", "--device", "cpu"]
                + ["--seed", "0"]
                + (["--video"] if video else []),
                d,
            )
        )
        metrics[style] = m = _metrics(_find(d, "metrics.json"))
        save_jpeg(_find(d, "painting.png"), out / f"segpaint_chelsea_{style}.jpg")
        if video:
            save_gif(_find(d, "process.mp4", "process.gif"), out / "segpaint_chelsea_process.gif")
            passes = sorted(_find(d, "painting.png").parent.glob("pass_*.png"))
            totals = np.cumsum(m.get("strokes_per_pass") or [0] * len(passes)).tolist()
            labels = [f"pass {k + 1}" + (f": {n} strokes" if n else "") for k, n in enumerate(totals)]
            save_row(passes, labels[: len(passes)], out / "segpaint_chelsea_passes.jpg")

    def regions(m: dict) -> str:
        return f"{m['segmenter']} regions" if m.get("segmenter") else "no region masks (uniform attention)"

    files = {"photo_chelsea.jpg": "the input photo (scikit-image `chelsea`)"}
    for style, m in metrics.items():
        files[f"segpaint_chelsea_{style}.jpg"] = (
            f"the {style} painting: {m['strokes']} bezier13 strokes, PSNR {m['psnr']:.1f} dB, {regions(m)}"
        )
    files["segpaint_chelsea_process.gif"] = "the realistic painting's process, coarse to fine passes"
    files["segpaint_chelsea_passes.jpg"] = "the realistic painting after each pass, with the strokes so far"
    return Caption(
        "Segmentation-based parametric painting: chelsea, realistic and painterly styles",
        runs,
        ", ".join(f"{m['strokes']} bezier13 strokes ({style})" for style, m in metrics.items()),
        files,
        [f"Perceptual term: {metrics['realistic'].get('perceptual')}."],
    )


def entry_cnp(work: Path, out: Path) -> Caption:
    photo = _photo(work, out, "coffee")
    d = work / "cnp"
    r = run(
        "compositor/test.py",
        ["--img_path", _rel(photo), "--stroke_num", "1000", "--size", "384", "--mode", "1"]
        + ["--video", "--video_format", "gif", "--threads", "1", "--no_progress", "--device", "cpu"]
        + ["--seed", "0", "--output_dir", _rel(d)],
        d,
    )
    m = _metrics(_find(d, "metrics.json"))
    save_jpeg(_find(d, "painting.png"), out / "cnp_coffee.jpg")
    save_gif(_find(d, "process.gif", "process.mp4"), out / "cnp_coffee_process.gif")
    return Caption(
        "Compositional Neural Painter: coffee, 1000 oil strokes, mode 1 (multi-scale look-ahead regions)",
        [r],
        f"{m['strokes']} oil strokes in {m.get('regions')} regions",
        {
            "photo_coffee.jpg": "the input photo (scikit-image `coffee`)",
            "cnp_coffee.jpg": f"the painting, PSNR {m.get('psnr', float('nan')):.1f} dB",
            "cnp_coffee_process.gif": "the painting process, 5 strokes per call, regions in picking order",
        },
        checkpoints=[_sha("cnp_painter.pt"), _sha("cnp_compositor.pt")],
    )


def entry_stipple(work: Path, out: Path) -> Caption:
    photo = _photo(work, out, "astronaut")
    runs, files = [], {"photo_astronaut.jpg": "the input photo (scikit-image `astronaut`)"}
    counts = []
    for method in ("wvs", "net"):
        d = work / f"stipple_{method}"
        runs.append(
            run(
                "stipple/test.py",
                [_rel(photo), "--method", method, "--points", "4096", "--max_side", "256"]
                + ["--render_side", "512", "--device", "cpu", "--seed", "0", "--output_dir"]
                + [_rel(d)],
                d,
            )
        )
        m = _metrics(_find(d, "metrics.json"))
        counts.append(f"{m['points']} stipples ({method})")
        save_png(_find(d, "stipple.png"), out / f"stipple_astronaut_{method}.png", side=512, gray=True)
        label = "weighted Voronoi stippling" if method == "wvs" else "the stippling network"
        files[f"stipple_astronaut_{method}.png"] = (
            f"{label}: {m['seconds']:.2f} s of stippling, tone PSNR {m['tone_psnr']:.1f} dB"
        )
    return Caption(
        "Stippling: astronaut, 4096 stipples, weighted Voronoi and the network",
        runs,
        ", ".join(counts),
        files,
        checkpoints=[_sha("stipple_net.pt")],
    )


def entry_linerefiner(work: Path, out: Path) -> Caption:
    import numpy as np
    from PIL import Image

    from common.data import bundled_photos
    from scripts.figures.linerefiner_before_after import xdog_lines

    name = "rocket"
    lines = xdog_lines(bundled_photos([name])[name], side=384)
    src = work / "photos" / f"{name}_lines.png"
    src.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((lines * 255).round().astype(np.uint8)).save(src)
    save_png(src, out / f"linerefiner_{name}_input.png", gray=True)
    runs, files = (
        [],
        {
            f"linerefiner_{name}_input.png": "the input: 1-px XDoG line art of scikit-image `rocket` "
            "(`xdog_lines` in scripts/figures/linerefiner_before_after.py)"
        },
    )
    for style in ("taper", "nib"):
        d = work / f"linerefiner_{style}"
        runs.append(
            run(
                "linerefiner/test.py",
                ["--input", _rel(src), "--output", _rel(d)]
                + ["--style", style, "--device", "cpu", "--seed", "0"],
                d,
            )
        )
        save_png(_find(d, "refined.png"), out / f"linerefiner_{name}_{style}.png", gray=True)
        files[f"linerefiner_{name}_{style}.png"] = f"refined in the `{style}` style"
    return Caption(
        "Line refiner: XDoG line art of rocket, taper and nib styles",
        runs,
        "none (the refiner restyles a raster drawing)",
        files,
        checkpoints=[_sha("linerefiner_taper.pt"), _sha("linerefiner_nib.pt")],
    )


def entry_sketching(work: Path, out: Path) -> Caption:
    photo = _photo(work, out, "astronaut")
    d = work / "sketching"
    r = run(
        "sketching/test.py",
        ["--target", _rel(photo), "--num_strokes", "48", "--loss", "edge"]
        + ["--num_iter", "200", "--video", "--quiet", "--threads", "1", "--device", "cpu", "--seed", "0"]
        + ["--output_dir", _rel(d)],
        d,
    )
    m = _metrics(_find(d, "metrics.json"))
    svg = _find(d, "sketch.svg")
    (out / "sketching_astronaut.svg").write_bytes(svg.read_bytes())
    save_png(_find(d, "sketch.png"), out / "sketching_astronaut.png", gray=True)
    save_gif(_find(d, "process.mp4", "process.gif"), out / "sketching_astronaut_process.gif")
    return Caption(
        "Scene sketching (MROSS): astronaut, 48 cubic Bezier strokes, offline edge objective",
        [r],
        f"{m.get('num_strokes')} cubic Bezier strokes",
        {
            "photo_astronaut.jpg": "the input photo (scikit-image `astronaut`)",
            "sketching_astronaut.svg": "the sketch as SVG, one `<path>` per stroke",
            "sketching_astronaut.png": "its raster render",
            "sketching_astronaut_process.gif": "the optimisation",
        },
        [f"Objective used: {m.get('objective_used')} (CLIP RN101 weights are not shipped)."],
    )


#: figure entry -> (title, figure script, its arguments, {file it writes: (gallery file, what it shows)},
#: checkpoints it reads)
FIGURES = {
    "fig_cnp": (
        "CNP paper figures on chelsea, 256 px",
        "scripts/figures/cnp_figures.py",
        ["--which", "counts", "boundary", "--image", "chelsea", "--size", "256"],
        {
            "cnp_counts.png": ("fig_cnp_counts.jpg", "200 / 500 / 1000 / 5000 strokes"),
            "cnp_boundary.png": (
                "fig_cnp_boundary.jpg",
                "uniform grid (mode 3) vs mode 1's multi-scale look-ahead regions",
            ),
        },
        ["cnp_painter.pt", "cnp_compositor.pt"],
    ),
    "fig_stipple": (
        "Stippling figures: methods side by side, and the spectra of their point sets",
        "scripts/figures/stipple_comparison.py",
        ["--photos", "camera", "--points", "4096", "--side", "256"],
        {
            "stipple_comparison.png": (
                "fig_stipple_comparison.png",
                "input | WVS | LBG | network, 4096 stipples",
            )
        },
        ["stipple_net.pt"],
    ),
    "fig_stipple_spectrum": (
        "Stippling figure: radially averaged power spectrum and anisotropy on constant gray",
        "scripts/figures/stipple_spectrum.py",
        ["--points", "1024", "--runs", "2"],
        {
            "stipple_spectrum.png": (
                "fig_stipple_spectrum.png",
                "RAPS and anisotropy of each stippler's points",
            )
        },
        ["stipple_net.pt"],
    ),
    "fig_linerefiner": (
        "Line refiner before / after figures",
        "scripts/figures/linerefiner_before_after.py",
        [],
        {
            "linerefiner_rough.png": (
                "fig_linerefiner_rough.png",
                "held-out rough synthetic drawings, refined",
            ),
            "linerefiner_gaps.png": ("fig_linerefiner_gaps.png", "thin lines with gaps punched in, refined"),
        },
        ["linerefiner_taper.pt", "linerefiner_nib.pt"],
    ),
    "fig_sketching": (
        "MROSS rounds on chelsea: the whole image, then two regions",
        "scripts/figures/sketching_figures.py",
        ["--figure", "rounds", "--photo", "chelsea", "--num_iter", "100", "--threads", "1"],
        {
            "sketching_rounds.png": (
                "fig_sketching_rounds.jpg",
                "regions outlined, then the sketch after each round",
            )
        },
        [],
    ),
}


def entry_figure(key: str, work: Path, out: Path) -> Caption:
    """Run one figure script of :data:`FIGURES` and copy its figures into the gallery."""
    title, script, args, wanted, checkpoints = FIGURES[key]
    d = work / "figures"
    r = run(script, [*args, "--output_dir", _rel(d)], d)
    files = {}
    for written, (name, what) in wanted.items():
        src = d / written
        if not src.is_file():
            raise UserError(f"{script} did not write {src}")
        if name.endswith(".jpg"):
            save_jpeg(src, out / name, side=1280)
        else:
            save_png(src, out / name, side=1280)
        files[name] = what
    return Caption(
        title, [r], "as labelled in each figure", files, checkpoints=[_sha(c) for c in checkpoints]
    )


ENTRIES = {
    "segpaint": entry_segpaint,
    "cnp": entry_cnp,
    "stipple": entry_stipple,
    "linerefiner": entry_linerefiner,
    "sketching": entry_sketching,
    **{key: functools.partial(entry_figure, key) for key in FIGURES},
}
GROUPS = {"figures": list(FIGURES), "methods": ["segpaint", "cnp", "stipple", "linerefiner", "sketching"]}


def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__)
    p.add_argument(
        "--only",
        nargs="+",
        choices=[*ENTRIES, *GROUPS],
        default=None,
        help="entries, or a group: methods, figures (default: all)",
    )
    p.add_argument("--work_dir", default="runs/gallery", help="raw outputs (default: runs/gallery)")
    p.add_argument("--out", default="docs/gallery", help="gallery folder (default: docs/gallery)")
    args = p.parse_args(argv)
    work = prepare_output_dir(ROOT / args.work_dir)
    out = prepare_output_dir(ROOT / args.out)
    total = time.perf_counter()
    names = [n for key in args.only or list(ENTRIES) for n in GROUPS.get(key, [key])]
    for name in dict.fromkeys(names):
        cap = ENTRIES[name](work, out)
        print(f"   wrote {_rel(write_caption(out, name, cap))}", flush=True)
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(f"gallery: {out} ({size / 1e6:.2f} MB), {time.perf_counter() - total:.0f} s")
    return 0


if __name__ == "__main__":
    run_main(main)
