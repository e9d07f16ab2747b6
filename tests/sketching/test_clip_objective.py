"""The CLIP objective of ``sketching/test.py`` end to end on random weights (open_clip builds RN101 offline,
torchvision builds VGG16; nothing is downloaded)."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from PIL import Image

from common.cli import run_main
from sketching.test import main


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from skimage import data

    path = tmp_path_factory.mktemp("photos") / "coffee.png"
    Image.fromarray(data.coffee()).save(path)
    return path


def _run(argv):
    with pytest.raises(SystemExit) as info:
        run_main(main, [str(a) for a in argv])
    return info.value.code


def _paths(svg_file):
    return [e for e in ET.parse(svg_file).getroot().iter() if e.tag.endswith("path")]


def _clip_sketch(photo, out, *flags):
    """Sketch the coffee photo with the CLIP objective on random weights (4 strokes, 64 px canvas); check
    the run succeeded with a finite CLIP objective and return its metrics."""
    common = [
        "--target",
        photo,
        "--loss",
        "clip",
        "--clip_random_weights",
        "--num_strokes",
        4,
        "--canvas",
        64,
    ]
    assert _run([*common, "--output_dir", out, "--quiet", *flags]) == 0
    metrics = json.loads((out / "coffee" / "metrics.json").read_text())
    assert metrics["objective_used"] == "clip" and np.isfinite(metrics["final_objective"])
    return metrics


def test_clip_objective_end_to_end_on_random_rn101(photo, tmp_path):
    """CLIP RN101 built with random weights by open_clip (no download), one view, VGG term off."""
    torch.manual_seed(0)
    _clip_sketch(photo, tmp_path, "--num_augs", 0, "--no_vgg", "--num_iter", 1)
    assert len(_paths(tmp_path / "coffee" / "sketch.svg")) == 4


@pytest.mark.slow
def test_mross_objective_clip_plus_vgg_with_augmentations(photo, tmp_path):
    """The full MROSS objective (RN101 + VGG16, 4 augmented views + original), random weights."""
    _clip_sketch(photo, tmp_path, "--num_iter", 2)
