"""``--help`` of every entry script (found by :func:`entry_scripts`): it works, and it imports no heavy
library (issue 16: --help < 1 s).

Checked by module, not by timing (timings on a shared machine are noise): each script runs ``--help`` in a
fresh interpreter, which then reports which heavy modules ended up in ``sys.modules``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# optional libraries that only some code paths use: never imported for --help
OPTIONAL_HEAVY = ("transformers", "open_clip", "matplotlib", "skimage.segmentation", "kornia", "gradio")
# torch and friends: 2.5-6 s to import on the project's CPU (Pillow: 0.05 s); kept out of every --help
TORCH_HEAVY = ("torch", "torchvision", "cv2", "scipy", "skimage", "numpy", "PIL", *OPTIONAL_HEAVY)


def _bench_load():
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "scripts" / "bench_load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def entry_scripts() -> list[str]:
    """Every entry script (``<method>/*.py`` and ``scripts/*.py`` with a ``__main__`` block), paths relative
    to the repository root: the list ``scripts/bench_load.py`` times, found by the same function."""
    return _bench_load().entry_scripts()


def test_entry_scripts_found():
    """The discovery sees the known entry scripts (a broken glob would make the tests below vacuous)."""
    scripts = entry_scripts()
    for name in ("segpaint/test.py", "painter/train.py", "stipple/train.py", "scripts/demo.py"):
        assert name in scripts
    assert len(scripts) >= 25


RUNNER = """
import json, runpy, sys
script, heavy = sys.argv[1], json.loads(sys.argv[2])
sys.argv = [script, "--help"]
sys.path[0] = __import__("os").path.dirname(script)
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as exc:
    code = exc.code
else:
    code = None
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def help_imports(script: str, heavy: tuple[str, ...]) -> tuple[dict, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(ROOT / script), json.dumps(heavy)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    *help_lines, report = proc.stdout.strip().splitlines()
    return json.loads(report), "\n".join(help_lines)


@pytest.mark.parametrize("script", entry_scripts())
def test_help_imports_no_heavy_library(script):
    report, text = help_imports(script, TORCH_HEAVY)
    assert report["code"] == 0 and text.startswith("usage:")
    assert "--threads" in text  # the shared thread flag (common.cli)
    assert report["loaded"] == [], f"{script} --help imports {report['loaded']}"


# the modules each test.py's default run goes through (segpaint realistic, CNP mode 1, WVS stippling, tiled
# line refinement, sketching's objectives): the optional libraries stay out until a path needs them
DEFAULT_PATH_MODULES = (
    "segpaint.run",
    "segpaint.painter",
    "compositor.run",
    "stipple.stipplers",
    "stipple.evaluate",
    "linerefiner.inference",
    "sketching.objectives",
    "sketching.pipeline",
)


def test_default_paths_import_no_optional_library():
    code = (
        "import importlib, json, sys\n"
        f"for m in {list(DEFAULT_PATH_MODULES)!r}: importlib.import_module(m)\n"
        f"print(json.dumps([m for m in {list(OPTIONAL_HEAVY)!r} if m in sys.modules]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_linerefiner_style_names_match_the_styles():
    from linerefiner.config import STYLE_NAMES
    from linerefiner.synth import STYLES

    assert STYLE_NAMES == tuple(sorted(STYLES))
