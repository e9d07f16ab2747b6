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


def test_clip_objective_end_to_end_on_random_rn101(photo, tmp_path):
    """CLIP RN101 built with random weights by open_clip (no download), one view, VGG term off."""
    torch.manual_seed(0)
    code = _run(
        [
            "--target",
            photo,
            "--loss",
            "clip",
            "--clip_random_weights",
            "--num_augs",
            0,
            "--no_vgg",
            "--num_strokes",
            4,
            "--num_iter",
            1,
            "--canvas",
            64,
            "--output_dir",
            tmp_path,
            "--quiet",
        ]
    )
    assert code == 0
    metrics = json.loads((tmp_path / "coffee" / "metrics.json").read_text())
    assert metrics["objective_used"] == "clip" and np.isfinite(metrics["final_objective"])
    assert len(_paths(tmp_path / "coffee" / "sketch.svg")) == 4


@pytest.mark.slow
def test_mross_objective_clip_plus_vgg_with_augmentations(photo, tmp_path):
    """The full MROSS objective (RN101 + VGG16, 4 augmented views + original), random weights."""
    code = _run(
        [
            "--target",
            photo,
            "--loss",
            "clip",
            "--clip_random_weights",
            "--num_strokes",
            4,
            "--num_iter",
            2,
            "--canvas",
            64,
            "--output_dir",
            tmp_path,
            "--quiet",
        ]
    )
    assert code == 0
    metrics = json.loads((tmp_path / "coffee" / "metrics.json").read_text())
    assert metrics["objective_used"] == "clip" and np.isfinite(metrics["final_objective"])
