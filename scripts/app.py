"""StrokeLab in the browser: drop a photo on a page, pick a method and its main knobs, get the result.

    python3 -m uv run --no-dev --group demo python scripts/app.py                # http://127.0.0.1:7860
    python3 -m uv run --no-dev --group demo python scripts/app.py --port 8080 --threads 2
    python scripts/app.py --host 0.0.0.0 --port 7860          # in an environment that has gradio

Needs the ``demo`` dependency group (Gradio); nothing is downloaded when it starts (Gradio's analytics are
switched off and no share link is made). Every method runs through the library functions its ``test.py``
calls: segmentation-based painting and scene sketching through their ``test.py`` ``main`` itself (they load
no model), CNP, the stippling network and the line refiner through the functions ``test.py`` calls, with
their shipped checkpoints loaded once per server and kept (:mod:`scripts.app_requests`, which works
without Gradio). A request's work is capped (``LIMITS``, shown in the page) and requests run one at a
time. Outputs live in a temporary folder per request (the last ``KEEP_RUNS`` are kept) and are offered
for download: the SVG, the strokes JSON, the metrics and the process video.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network call at start (before import gradio)

from common.errors import UserError  # noqa: E402
from segpaint.config import STYLES as SEGPAINT_STYLES  # noqa: E402

if TYPE_CHECKING:
    from scripts.app_requests import Runner

# scripts.app_requests (and common.data) import torch and numpy: imported after the flags, in build_app and
# main, so that --help and a bad flag need neither (issue 16)

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


def build_app(runner: Runner):
    """The Gradio page around ``runner``."""
    import gradio as gr

    from common.data import BUNDLED_PHOTO_NAMES
    from scripts.app_requests import LIMITS, METHODS, bundled, limits_markdown, load_upload

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
    from scripts.app_requests import LIMITS, Runner

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
