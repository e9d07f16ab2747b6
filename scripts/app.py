"""StrokeLab in the browser: drop a photo on a page, pick a method and its main knobs, get the result.

    python3 -m uv run --no-dev --group demo python scripts/app.py                # http://127.0.0.1:7860
    python3 -m uv run --no-dev --group demo python scripts/app.py --port 8080 --threads 2
    python scripts/app.py --host 0.0.0.0 --port 7860          # in an environment that has gradio

Needs the ``demo`` dependency group (Gradio); nothing is downloaded when it starts (Gradio's analytics are
switched off and no share link is made). Every method runs through the library functions its ``test.py``
calls: segmentation-based painting and scene sketching through their ``test.py`` ``main`` itself (they load
no model), CNP, the stippling network and the line refiner through the functions ``test.py`` calls, with
their shipped checkpoints loaded once per server and kept. A request's work is capped (:data:`LIMITS`, shown
in the page) and requests run one at a time. Outputs live in a temporary folder per request (the last
:data:`KEEP_RUNS` are kept) and are offered for download: the SVG, the strokes JSON, the metrics and the
process video.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network call at start (before import gradio)

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from common.data import BUNDLED_PHOTO_NAMES, bundled_photos  # noqa: E402
from common.errors import UserError  # noqa: E402
from segpaint.config import STYLES as SEGPAINT_STYLES  # noqa: E402

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

#: The knobs of a request (what :meth:`Runner.run` takes) and how each is read from its widget's value.
KNOB_TYPES = {
    "side": int,
    "strokes": int,
    "mode": lambda label: 1 if label.startswith("1") else 3,  # "1: compositor regions" | "3: uniform grid"
    "style": str,
    "steps": int,
    "stipple_method": str,
    "points": int,
    "line_style": str,
    "make_lines": bool,
    "sketch_strokes": int,
    "rounds": int,
    "iterations": int,
    "video": bool,
}


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
        process = None
        if knobs["video"] and (d / "process.mp4").is_file():
            from scripts.make_gallery import save_gif

            process = save_gif(d / "process.mp4", d / "process.gif", side=384, frames=30)
        return {
            "result": d / "painting.png",
            "process": process,
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
        process = None
        if knobs["video"] and (d / "process.mp4").is_file():
            from scripts.make_gallery import save_gif

            process = save_gif(d / "process.mp4", d / "process.gif", side=384, frames=30)
        return {
            "result": d / "sketch.png",
            "process": process,
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


def build_app(runner: Runner):
    """The Gradio page around ``runner``."""
    import gradio as gr

    def pick_photo(upload, name):
        """(preview, status): the uploaded photo when there is one, else the bundled photo ``name``."""
        if upload:
            try:
                arr = load_upload(upload)
            except UserError as exc:
                return None, f"**error:** {exc}"
            return arr, f"uploaded {Path(upload).name}: {arr.shape[1]}x{arr.shape[0]} px"
        return bundled(name), f"bundled photo `{name}`"

    def run(values, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 - Gradio's progress bar
        """One request: ``values`` maps each input component of the page to its value."""
        try:
            photo = load_upload(values[upload]) if values[upload] else bundled(values[name])
            settings = {key: KNOB_TYPES[key](values[knob]) for key, knob in knobs.items()}
            res = runner.run(METHODS[values[method]], photo, settings, progress)  # logs on the console
        except UserError as exc:
            raise gr.Error(f"error: {exc}", print_exception=False) from None
        except SystemExit:  # an argparse error inside a test.py main (already printed on the console)
            raise gr.Error(
                "error: these settings were refused; see the server console", print_exception=False
            ) from None
        files = [str(p) for p in res["downloads"]]
        return str(res["result"]), (str(res["process"]) if res["process"] else None), files, res["summary"]

    method_groups, knobs = {}, {}  # knobs: the inputs of Runner.run, by name (see KNOB_TYPES)
    with gr.Blocks(title="StrokeLab demo") as app:
        gr.Markdown(
            "# StrokeLab\nTurn a photo into a painting, a stipple drawing, refined line art or a vector "
            "sketch with the methods of this repository and their shipped checkpoints, on this machine."
        )
        gr.Markdown(limits_markdown(), elem_id="limits")
        with gr.Row():
            with gr.Column(scale=1):
                upload = gr.File(label="upload a photo (or leave empty)", type="filepath", elem_id="upload")
                name = gr.Dropdown(
                    list(BUNDLED_PHOTO_NAMES), value="chelsea", label="or a bundled photo", elem_id="bundled"
                )
                status = gr.Markdown(elem_id="status")
                preview = gr.Image(label="input", interactive=False, height=220, elem_id="preview")
            with gr.Column(scale=1):
                method = gr.Radio(list(METHODS), value="CNP painting", label="method", elem_id="method")
                knobs["side"] = gr.Slider(
                    64,
                    LIMITS["side"],
                    value=256,
                    step=16,
                    label="working size (long side, px)",
                    elem_id="side",
                )
                knobs["video"] = gr.Checkbox(
                    value=True, label="record the process (painters and sketching)", elem_id="video"
                )
                with gr.Group(visible=True) as method_groups["cnp"]:
                    knobs["strokes"] = gr.Slider(
                        5, LIMITS["cnp_strokes"], value=500, step=5, label="strokes", elem_id="cnp_strokes"
                    )
                    knobs["mode"] = gr.Radio(
                        ["1: compositor regions", "3: uniform grid"],
                        value="1: compositor regions",
                        label="mode",
                    )
                with gr.Group(visible=False) as method_groups["segpaint"]:
                    knobs["style"] = gr.Radio(list(SEGPAINT_STYLES), value="realistic", label="style")
                    knobs["steps"] = gr.Slider(
                        5, LIMITS["segpaint_steps"], value=20, step=5, label="Adam steps per pass"
                    )
                with gr.Group(visible=False) as method_groups["stipple"]:
                    knobs["stipple_method"] = gr.Radio(["wvs", "lbg", "net"], value="wvs", label="stippler")
                    knobs["points"] = gr.Number(
                        value=2048,
                        minimum=16,
                        maximum=LIMITS["stipple_points"],
                        precision=0,
                        label="points (the network needs a square: 1024, 4096, ...)",
                        elem_id="points",
                    )
                with gr.Group(visible=False) as method_groups["linerefiner"]:
                    knobs["line_style"] = gr.Radio(["taper", "nib"], value="taper", label="style")
                    knobs["make_lines"] = gr.Checkbox(
                        value=True, label="the input is a photo: make line art first (XDoG)"
                    )
                with gr.Group(visible=False) as method_groups["sketching"]:
                    knobs["sketch_strokes"] = gr.Slider(
                        4,
                        LIMITS["sketch_strokes"],
                        value=32,
                        step=4,
                        label="strokes",
                        elem_id="sketch_strokes",
                    )
                    knobs["rounds"] = gr.Slider(
                        1, LIMITS["sketch_rounds"], value=1, step=1, label="rounds (regions + 1)"
                    )
                    knobs["iterations"] = gr.Slider(
                        10,
                        LIMITS["sketch_iterations"],
                        value=100,
                        step=10,
                        label="iterations per round",
                        elem_id="iterations",
                    )
                go = gr.Button("Run", variant="primary", elem_id="run")
            with gr.Column(scale=1):
                result = gr.Image(
                    label="result", type="filepath", interactive=False, height=320, elem_id="result"
                )
                process = gr.Image(
                    label="process", type="filepath", interactive=False, height=320, elem_id="process"
                )
                info = gr.Markdown(elem_id="info")
                downloads = gr.File(
                    label="downloads", file_count="multiple", interactive=False, elem_id="downloads"
                )

        def show_knobs(label):
            return [gr.update(visible=key == METHODS[label]) for key in method_groups]

        method.change(show_knobs, method, list(method_groups.values()))
        upload.change(pick_photo, [upload, name], [preview, status])
        name.change(pick_photo, [upload, name], [preview, status])
        app.load(pick_photo, [upload, name], [preview, status])
        go.click(
            run,
            {upload, name, method, *knobs.values()},
            [result, process, downloads, info],
            concurrency_limit=1,
        )
    return app


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"], help="default: cpu")
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: common.threads' policy)"
    )
    p.add_argument("--work_dir", default=None, help="per-request folders (default: a temporary folder)")
    args = p.parse_args(argv)
    try:
        import gradio  # noqa: F401
    except ImportError:
        print(
            "error: gradio is not installed (it is in the demo group); run: "
            "python3 -m uv run --no-dev --group demo python scripts/app.py"
        )
        return 2
    if args.threads:  # as a user's OMP_NUM_THREADS, which common.threads leaves alone in every method
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
        os.environ.pop("STROKELAB_POLICY_THREADS", None)
        import torch

        torch.set_num_threads(args.threads)
    work = Path(args.work_dir or Path(tempfile.gettempdir()) / "strokelab-app")
    runner = Runner(work, args.device)
    app = build_app(runner)
    # system fonts: the default theme would fetch Google Fonts, which an offline machine cannot reach
    theme = gradio.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    app.queue(default_concurrency_limit=1)
    app.launch(
        server_name=args.host,
        server_port=args.port,
        share=False,
        ssr_mode=False,
        allowed_paths=[str(work)],
        max_file_size=f"{LIMITS['upload_mb']}mb",
        footer_links=[],
        theme=theme,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
