"""The browser demo's requests without Gradio (``scripts/app.py`` is the page around them).

:class:`Runner` runs one request of any method into its own folder through the library functions its
``test.py`` calls (segmentation-based painting and scene sketching through their ``test.py`` ``main``
itself, CNP, the stippling network and the line refiner through ``compositor.run``, ``stipple.run`` and
``linerefiner.run`` with their shipped checkpoints loaded once and kept). :data:`LIMITS` caps what one
request may ask for (:func:`check_knobs` checks them again on the server); :func:`load_upload` reads an
upload or says in one sentence why it cannot. Photos are ``(H, W, 3)`` uint8 RGB.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from common.data import bundled_photos
from common.errors import UserError

__all__ = [
    "METHODS",
    "LIMITS",
    "KEEP_RUNS",
    "Runner",
    "check_knobs",
    "load_upload",
    "bundled",
    "limits_markdown",
]

METHODS = {
    "CNP painting": "cnp",
    "segmentation painting": "segpaint",
    "stippling": "stipple",
    "line refiner": "linerefiner",
    "sketching": "sketching",
}

#: Caps on what one request may ask for; the sliders stop there and the server checks them again.
LIMITS = {
    "upload_megapixels": 40,  # larger uploads are rejected (decompression bombs)
    "upload_mb": 20,  # larger files are refused by the upload itself
    "side": 512,  # working long side in pixels (inputs are downscaled to the chosen side)
    "cnp_strokes": 5000,
    "segpaint_steps": 100,  # Adam steps per pass (the stroke count follows from the passes)
    "stipple_points": 8192,
    "sketch_strokes": 64,
    "sketch_rounds": 3,
    "sketch_iterations": 300,
}
KEEP_RUNS = 20  # request folders kept on disk


class Runner:
    """Runs one request of any method into its own folder; holds the models, each loaded once.

    Args:
        work_root: where the per-request folders go.
        device: "auto", "cpu", "cuda" or "mps" (as ``--device``).
    """

    def __init__(self, work_root: Path, device: str = "auto") -> None:
        from common.device import get_device

        self.work_root = Path(work_root)
        self.work_root.mkdir(parents=True, exist_ok=True)
        self.device_flag = device
        self.device = get_device(device)
        self._lock = threading.Lock()

    # -- models, loaded on first use and kept ------------------------------------------------------------
    @functools.cached_property
    def cnp_models(self):
        """(painter, actor) from the shipped checkpoints, as compositor/test.py loads them."""
        from common.checkpoint import default_checkpoint
        from compositor.model import load_actor
        from painter.model import load_painter

        painter = load_painter(default_checkpoint("cnp_painter.pt"), self.device)
        actor = load_actor(default_checkpoint("cnp_compositor.pt"), self.device)
        return painter, actor

    @functools.cached_property
    def stipple_net(self):
        from common.checkpoint import default_checkpoint
        from stipple.inference import load_stipple_net

        return load_stipple_net(default_checkpoint("stipple_net.pt"), self.device)[0]

    @functools.cache  # noqa: B019 - one Runner per server; the refiners are meant to live as long
    def refiner(self, style: str):
        from linerefiner.inference import load_refiner

        return load_refiner(None, style, self.device)

    # -- requests -------------------------------------------------------------------------------------
    def new_run_dir(self) -> Path:
        """A fresh folder for one request; the oldest beyond :data:`KEEP_RUNS` are removed."""
        runs = sorted(self.work_root.glob("run_*"), key=lambda p: p.stat().st_mtime)
        for old in runs[: max(0, len(runs) - KEEP_RUNS + 1)]:
            shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(prefix="run_", dir=self.work_root))

    def run(self, method: str, photo: np.ndarray, knobs: dict, progress=None) -> dict:
        """Run ``method`` on ``photo`` ((H, W, 3) uint8 RGB) with ``knobs``; returns the output paths.

        Returns:
            ``{"result": png, "process": gif or None, "downloads": [paths], "summary": markdown}``.

        Raises:
            UserError: a knob beyond :data:`LIMITS` or a method's own bad-input error.
        """
        check_knobs(method, knobs)
        out = self.new_run_dir()
        photo = downscale(photo, knobs["side"])
        src = out / "input" / "photo.png"
        src.parent.mkdir()
        Image.fromarray(photo).save(src)
        start = time.perf_counter()
        with self._lock:  # one request at a time: CPU work does not share well
            result = getattr(self, f"_run_{method}")(src, out / "out", knobs, progress)
        result["seconds"] = time.perf_counter() - start
        result["summary"] = summary_markdown(method, result)
        return result

    def _run_cnp(self, src: Path, out: Path, knobs: dict, progress) -> dict:
        from common.device import seed_everything
        from compositor.run import CNPConfig, paint_file

        cfg = CNPConfig(
            stroke_num=knobs["strokes"], mode=knobs["mode"], size=knobs["side"], video=bool(knobs["video"]),
            video_format="gif", progress=True,  # a tqdm bar: gr.Progress(track_tqdm) shows it
        )  # fmt: skip
        painter, actor = self.cnp_models
        _progress(progress, 0.05, "painting")
        seed_everything(cfg.seed)
        d = out / src.stem
        summary = paint_file(src, d, painter, actor, cfg, self.device)
        return {
            "result": d / "painting.png",
            "process": _existing(d / "process.gif"),
            "downloads": _existing(d / "painting.svg", d / "strokes.json", d / "metrics.json"),
            "strokes": summary["strokes"],
            "psnr": summary.get("psnr"),
        }

    def _run_segpaint(self, src: Path, out: Path, knobs: dict, progress) -> dict:
        from segpaint.test import main

        _progress(progress, 0.05, "painting")
        main(
            ["--image_path", str(src), "--save_dir", str(out), "--exp_name", "app", "--style", knobs["style"]]
            + ["--iter_steps", str(knobs["steps"]), "--max_side", str(knobs["side"]), "--no-texturize"]
            + ["--device", self.device_flag]
            + (["--video"] if knobs["video"] else [])
        )
        d = out / "app" / src.stem
        metrics = json.loads((d / "metrics.json").read_text())
        return {
            "result": d / "painting.png",
            "process": _process_gif(d, knobs["video"]),
            "downloads": _existing(
                d / "painting.svg", d / "strokes.json", d / "metrics.json", d / "process.mp4"
            ),
            "strokes": metrics["strokes"],
            "psnr": metrics.get("psnr"),
        }

    def _run_stipple(self, src: Path, out: Path, knobs: dict, progress) -> dict:
        from common.device import seed_everything
        from stipple.model import grid_for_points
        from stipple.run import StippleConfig, stipple_file

        cfg = StippleConfig(
            method=knobs["stipple_method"], points=knobs["points"], max_side=knobs["side"],
            render_side=max(512, knobs["side"]),
        )  # fmt: skip
        if cfg.method == "net":
            grid_for_points(cfg.points)  # raises UserError: the network needs a square grid size
        model = self.stipple_net if cfg.method == "net" else None
        seed_everything(cfg.seed)
        _progress(progress, 0.05, f"stippling ({cfg.method})")
        d = out / src.stem
        metrics = stipple_file(src, d, cfg, model, self.device)
        return {
            "result": d / "stipple.png",
            "process": None,
            "downloads": [d / "stipple.svg", d / "strokes.json", d / "points.csv", d / "metrics.json"],
            "strokes": metrics["points"],
            "psnr": metrics.get("tone_psnr"),
        }

    def _run_linerefiner(self, src: Path, out: Path, knobs: dict, progress) -> dict:
        from common.cli import prepare_output_dir
        from common.image_io import image_to_tensor, save_image
        from linerefiner.run import RefineRunConfig, refine_file

        if knobs["make_lines"]:  # a photo: thin XDoG line art first, as the figure script makes it
            from scripts.figures.linerefiner_before_after import xdog_lines

            rgb = np.asarray(Image.open(src).convert("RGB"))
            lines = xdog_lines(rgb, side=knobs["side"])
            lines_png = prepare_output_dir(out.parent / "lines") / "lines.png"
            src = save_image(image_to_tensor((lines * 255).round().astype(np.uint8)), lines_png)
        g, cfg, ck = self.refiner(knobs["line_style"])
        _progress(progress, 0.05, "refining")
        d = out / src.stem
        refine_file(src, d, g, cfg, RefineRunConfig(), {"style": cfg.style, "checkpoint_step": ck["step"]})
        result = d / "refined.png"
        downloads = [result, d / "metrics.json"] + ([src] if knobs["make_lines"] else [])
        return {"result": result, "process": None, "downloads": downloads, "strokes": None, "psnr": None}

    def _run_sketching(self, src: Path, out: Path, knobs: dict, progress) -> dict:
        from sketching.test import main

        _progress(progress, 0.05, "sketching")
        rounds = knobs["rounds"]
        main(
            ["--target", str(src), "--num_strokes", str(knobs["sketch_strokes"]), "--loss", "edge"]
            + ["--num_iter", str(knobs["iterations"]), "--region_round", str(rounds)]
            + (["--auto_roi"] if rounds > 1 else [])
            + ["--output_dir", str(out), "--device", self.device_flag]
            + (["--video"] if knobs["video"] else [])
        )
        d = out / src.stem
        metrics = json.loads((d / "metrics.json").read_text())
        return {
            "result": d / "sketch.png",
            "process": _process_gif(d, knobs["video"]),
            "downloads": _existing(d / "sketch.svg", d / "strokes.json", d / "metrics.json"),
            "strokes": metrics.get("num_strokes"),
            "psnr": None,
        }


def _existing(*paths: Path) -> list[Path] | Path | None:
    """The paths that exist (a single path in, the path or None out)."""
    found = [p for p in paths if p.is_file()]
    if len(paths) == 1:
        return found[0] if found else None
    return found


def _process_gif(folder: Path, video: bool) -> Path | None:
    """A short looping GIF (384 px, 30 frames) of ``folder/process.mp4`` for the page, when recorded."""
    if not (video and (folder / "process.mp4").is_file()):
        return None
    from scripts.make_gallery import save_gif

    return save_gif(folder / "process.mp4", folder / "process.gif", side=384, frames=30)


def _progress(progress, fraction: float, desc: str) -> None:
    if progress is not None:
        progress(fraction, desc=desc)


def downscale(photo: np.ndarray, side: int) -> np.ndarray:
    """(H, W, 3) uint8 scaled (area) so its longer side is at most ``side`` px."""
    h, w = photo.shape[:2]
    if max(h, w) <= side:
        return photo
    s = side / max(h, w)
    im = Image.fromarray(photo).resize((max(1, round(w * s)), max(1, round(h * s))), Image.BOX)
    return np.asarray(im)


def check_knobs(method: str, knobs: dict) -> None:
    """Raise UserError when a request asks for more than :data:`LIMITS` allows (the API can skip sliders)."""
    checks = {
        "side": (64, LIMITS["side"]),
        "strokes": (5, LIMITS["cnp_strokes"]),
        "steps": (1, LIMITS["segpaint_steps"]),
        "points": (16, LIMITS["stipple_points"]),
        "sketch_strokes": (1, LIMITS["sketch_strokes"]),
        "rounds": (1, LIMITS["sketch_rounds"]),
        "iterations": (1, LIMITS["sketch_iterations"]),
    }
    if method not in METHODS.values():
        raise UserError(f"unknown method {method!r}; choose one of {', '.join(METHODS.values())}")
    for key, (lo, hi) in checks.items():
        value = knobs.get(key)
        if value is not None and not lo <= int(value) <= hi:
            raise UserError(f"{key} must be between {lo} and {hi}, got {value}")


def load_upload(path: str | os.PathLike) -> np.ndarray:
    """Read an uploaded file as (H, W, 3) uint8 RGB; raises UserError with a sentence a user understands."""
    name = Path(path).name
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > LIMITS["upload_megapixels"] * 1e6:
                raise UserError(
                    f"{name} is {w}x{h} px ({w * h / 1e6:.0f} megapixels); the limit is "
                    f"{LIMITS['upload_megapixels']} megapixels"
                )
            im.load()
            arr = np.asarray(im.convert("RGB"))
    except UserError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UserError(
            f"{name} is not an image this demo can read (PNG, JPEG, WebP, BMP, TIFF): {exc}"
        ) from None
    if min(arr.shape[:2]) < 16:
        raise UserError(f"{name} is only {arr.shape[1]}x{arr.shape[0]} px; the minimum is 16 px a side")
    return arr


@functools.cache
def bundled(name: str) -> np.ndarray:
    return bundled_photos([name])[name]


def summary_markdown(method: str, result: dict) -> str:
    parts = [f"**{method}** done in {result['seconds']:.1f} s"]
    if result.get("strokes") is not None:
        parts.append(f"{result['strokes']} strokes")
    if result.get("psnr") is not None:
        parts.append(f"PSNR {result['psnr']:.2f} dB")
    return ", ".join(parts) + "."


def limits_markdown() -> str:
    L = LIMITS
    return (
        f"**Limits per request:** uploads up to {L['upload_mb']} MB and {L['upload_megapixels']} megapixels; "
        f"work at up to {L['side']} px on the long side; CNP up to {L['cnp_strokes']} strokes; segmentation "
        f"painting up to {L['segpaint_steps']} Adam steps per pass; up to {L['stipple_points']} stipples; "
        f"sketches up to {L['sketch_strokes']} strokes, {L['sketch_rounds']} rounds and "
        f"{L['sketch_iterations']} iterations per round. One request runs at a time."
    )
