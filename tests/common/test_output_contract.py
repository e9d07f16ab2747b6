"""Every test.py on a folder holding a good image, a truncated JPEG, a 1 x 1 PNG and another good image:
both good images written (per-image folder, files 0644 under umask 022), one ``error:`` line per bad
image, the summary line, exit status 1. The scripts run in this process through ``run_main`` (the code
path of ``python <method>/test.py``), with tiny sizes so each takes seconds."""

from __future__ import annotations

import importlib
import json
import os
import stat

import pytest
from PIL import Image

from common.cli import run_main

CLIS = {
    "compositor": (
        "compositor.test",
        lambda src, out: (
            ["--img_path", src, "--output_dir", out, "--stroke_num", "10", "--size", "64"] + ["--no_progress"]
        ),
        ("painting.png", "strokes.json", "painting.svg", "metrics.json"),
    ),
    "segpaint": (
        "segpaint.test",
        lambda src, out: (
            ["--image_path", src, "--save_dir", out, "--exp_name", ".", "--iter_steps", "1"]
            + ["--max_side", "32", "--w_perc", "0", "--no-texturize"]
        ),
        ("painting.png", "strokes.json", "painting.svg", "metrics.json"),
    ),
    "stipple": (
        "stipple.test",
        lambda src, out: [src, "--output_dir", out, "--points", "16", "--n_iter", "2", "--render_side", "32"],
        ("stipple.png", "strokes.json", "stipple.svg", "points.csv", "metrics.json"),
    ),
    "linerefiner": (
        "linerefiner.test",
        lambda src, out: ["--input", src, "--output", out, "--tile", "0"],
        ("refined.png", "metrics.json"),
    ),
    "sketching": (
        "sketching.test",
        lambda src, out: (
            ["--target", src, "--output_dir", out, "--loss", "edge", "--num_strokes", "2"]
            + ["--num_iter", "1", "--canvas", "32", "--quiet"]
        ),
        ("sketch.png", "strokes.json", "sketch.svg", "metrics.json"),
    ),
}


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    import skimage.data

    folder = tmp_path_factory.mktemp("mixed")
    Image.fromarray(skimage.data.coffee()).resize((48, 32)).save(folder / "a_good.png")
    Image.fromarray(skimage.data.chelsea()).resize((40, 32)).save(folder / "d_good.jpg", quality=90)
    data = (folder / "d_good.jpg").read_bytes()
    (folder / "b_truncated.jpg").write_bytes(data[: len(data) // 2])
    Image.new("RGB", (1, 1), "red").save(folder / "c_tiny.png")
    return folder


@pytest.mark.parametrize("method", sorted(CLIS))
def test_folder_run_paints_good_images_reports_bad_ones(method, mixed_folder, tmp_path, capsys):
    module, argv, files = CLIS[method]
    main = importlib.import_module(module).main
    out = tmp_path / "out"
    old = os.umask(0o022)
    try:
        with pytest.raises(SystemExit) as exit_info:
            run_main(main, argv(str(mixed_folder), str(out)))
    finally:
        os.umask(old)
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith(("error:", "painted"))]
    assert exit_info.value.code == 1
    assert len(err) == 3, err
    assert err[0].startswith("error:") and "b_truncated.jpg" in err[0]
    assert err[1].startswith("error:") and "c_tiny.png" in err[1]
    assert err[2].startswith("painted 2, failed 2")
    assert sorted(p.name for p in out.iterdir()) == ["a_good", "d_good"]  # no hidden partial folder
    for name in ("a_good", "d_good"):
        folder = out / name
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755
        for f in files:
            assert (folder / f).is_file() and (folder / f).stat().st_size > 0, (name, f)
            assert stat.S_IMODE((folder / f).stat().st_mode) == 0o644, (name, f)
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["image"].endswith(name + (".png" if name == "a_good" else ".jpg"))
