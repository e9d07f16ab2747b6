"""common.pretrained: downloads through the standard APIs into the standard caches; offline never touches the
network; a refused download costs about a second and ends in one line saying what is missing and where."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time

import pytest
import torch

from common import pretrained
from common.errors import WeightsMissingError
from common.pretrained import hf_from_pretrained, load_torchvision_backbone


def test_offline_reads_only_the_cache(tmp_path, monkeypatch, network_attempts):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert pretrained.is_offline()  # the suite runs with HF_HUB_OFFLINE=1
    with pytest.raises(WeightsMissingError) as info:
        load_torchvision_backbone("vgg16", "IMAGENET1K_V1")
    message = str(info.value)
    assert "\n" not in message and "vgg16-397923af.pth" in message and "offline" in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert network_attempts == []


def test_offline_flag_sets_hf_hub_offline(monkeypatch):
    from common.cli import ArgumentParser, add_common_args

    monkeypatch.delenv("HF_HUB_OFFLINE")
    parser = add_common_args(ArgumentParser(), "results/x")
    parser.parse_args([])
    assert not pretrained.is_offline()
    parser.parse_args(["--offline"])
    assert pretrained.is_offline()


@pytest.mark.network_refused
def test_refused_download_is_fast_and_one_line(tmp_path, monkeypatch, network_attempts):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(WeightsMissingError) as info:
        load_torchvision_backbone("vgg19", "IMAGENET1K_V1")
    seconds = time.perf_counter() - start
    message = str(info.value)
    assert network_attempts, "the online path must try the host"
    assert seconds < 3.0, seconds
    assert "\n" not in message and "vgg19-dcbb9e9d.pth" in message and "unreachable" in message
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in message


@pytest.mark.network_refused
def test_refused_hugging_face_download_names_repo_and_cache(tmp_path, monkeypatch, network_attempts):
    from transformers import DetrImageProcessor

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(WeightsMissingError) as info:
        hf_from_pretrained(DetrImageProcessor, "facebook/detr-resnet-50-panoptic", cache_dir=str(tmp_path))
    assert time.perf_counter() - start < 3.0
    message = str(info.value)
    assert "\n" not in message and "facebook/detr-resnet-50-panoptic" in message and str(tmp_path) in message
    assert network_attempts


@pytest.mark.network_refused
def test_refused_clip_download_is_fast(monkeypatch, network_attempts):
    from common.losses import clip_loss

    monkeypatch.setattr(clip_loss, "find_clip_weights", lambda: None)
    start = time.perf_counter()
    with pytest.raises(WeightsMissingError, match="RN101"):
        clip_loss.load_clip_rn101()
    assert time.perf_counter() - start < 3.0 and network_attempts


class _Files(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802 - http.server API
        body = self.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


def test_online_download_goes_through_the_weights_api_into_torch_home(tmp_path, monkeypatch):
    """A loopback HTTP server stands in for download.pytorch.org: the weights enum's URL points at it, the
    file arrives in $TORCH_HOME/hub/checkpoints (hash checked by torch.hub) and the weights match."""
    import torchvision.models as tvm

    source = load_torchvision_backbone("resnet18", random_weights=True)
    blob_path = tmp_path / "blob.pth"
    torch.save(source.state_dict(), blob_path)
    blob = blob_path.read_bytes()
    name = f"resnet18-{hashlib.sha256(blob).hexdigest()[:8]}.pth"
    _Files.files = {f"/{name}": blob}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        member = tvm.ResNet18_Weights.IMAGENET1K_V1
        url = f"http://127.0.0.1:{server.server_port}/{name}"
        monkeypatch.setattr(member.value, "url", url)
        # the torch-free copy of the enum's URLs (checked against the enums elsewhere) must agree with it
        monkeypatch.setitem(pretrained.KNOWN_WEIGHT_URLS, ("resnet18", "IMAGENET1K_V1"), url)
        monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
        monkeypatch.delenv("HF_HUB_OFFLINE")
        model = load_torchvision_backbone("resnet18", "IMAGENET1K_V1")
    finally:
        server.shutdown()
    assert (tmp_path / "home" / "hub" / "checkpoints" / name).is_file()
    assert torch.equal(model.fc.weight, source.fc.weight)


def _cli(module: str, argv: list, capsys) -> tuple[int, list[str]]:
    import importlib

    from common.cli import run_main

    with pytest.raises(SystemExit) as exit_info:
        run_main(importlib.import_module(module).main, [str(a) for a in argv])
    return exit_info.value.code, capsys.readouterr().err.strip().splitlines()


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    import skimage.data
    from PIL import Image

    path = tmp_path_factory.mktemp("photo") / "coffee.png"
    Image.fromarray(skimage.data.coffee()).resize((48, 32)).save(path)
    return path


def test_offline_paths_are_recorded_in_metrics(photo, tmp_path, monkeypatch, capsys, network_attempts):
    """segpaint (DETR and VGG16 missing: SLIC regions, no perceptual term) and sketching --loss auto (no CLIP:
    the edge objective) with --offline: exit 0, the reasons in metrics.json, no network attempt."""
    import json

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr("common.losses.clip_loss.find_clip_weights", lambda: None)
    seg = ["--image_path", photo, "--save_dir", tmp_path / "seg", "--style", "painterly", "--w_perc", "0.01"]
    code, err = _cli(
        "segpaint.test", seg + ["--iter_steps", 1, "--max_side", 32, "--no-texturize", "--offline"], capsys
    )
    assert code == 0, err
    m = json.loads((tmp_path / "seg" / "exp" / "coffee" / "metrics.json").read_text())
    assert m["segmenter"] == "slic" and "facebook/detr-resnet-50-panoptic" in m["segmenter_note"]
    assert "offline mode" in m["segmenter_note"] and "vgg16-397923af.pth" in m["perceptual"]
    sk = ["--target", photo, "--output_dir", tmp_path / "sk", "--num_strokes", 2, "--num_iter", 1]
    code, err = _cli("sketching.test", sk + ["--canvas", 32, "--quiet", "--offline"], capsys)
    assert code == 0, err
    m = json.loads((tmp_path / "sk" / "coffee" / "metrics.json").read_text())
    assert m["objective_requested"] == "auto" and m["objective_used"] == "edge"
    assert any("RN101" in n and "offline mode" in n for n in m["notes"])
    assert network_attempts == []


@pytest.mark.network_refused
def test_clip_by_name_on_a_refused_network_is_one_line_exit_2_in_seconds(
    photo, tmp_path, monkeypatch, capsys
):
    from common.losses import clip_loss

    monkeypatch.setattr(clip_loss, "find_clip_weights", lambda: None)
    start = time.perf_counter()
    code, err = _cli(
        "sketching.test", ["--target", photo, "--loss", "clip", "--output_dir", tmp_path / "o"], capsys
    )
    assert time.perf_counter() - start < 3.0
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and "RN101" in err[0], err
    assert "unreachable" in err[0] and not (tmp_path / "o").exists()
