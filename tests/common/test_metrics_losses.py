"""common.metrics against known values; common.losses (pixel, perceptual) and common.pretrained."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from common.errors import WeightsMissingError
from common.losses import VGG16PerceptualLoss, VGGFeatures, gram_matrix, l1_loss, l2_loss
from common.metrics import image_metrics, l1, mse, psnr, ssim

ROOT = Path(__file__).resolve().parents[2]


def test_metrics_known_values(device):
    a = torch.zeros(2, 3, 16, 16, device=device)
    b = torch.full_like(a, 0.5)
    assert l1(a, b) == pytest.approx(0.5)
    assert mse(a, b) == pytest.approx(0.25)
    assert psnr(a, b) == pytest.approx(10 * math.log10(4.0))
    same = image_metrics(b, b)
    assert (
        same["l1"] == 0
        and same["mse"] == 0
        and same["psnr"] == math.inf
        and same["ssim"] == pytest.approx(1.0)
    )


def test_ssim_matches_scikit_image(photo):
    from skimage.metrics import structural_similarity

    noisy = (photo + 0.1 * torch.randn_like(photo)).clamp(0, 1)
    ref = structural_similarity(
        noisy[0].permute(1, 2, 0).double().numpy(),
        photo[0].permute(1, 2, 0).double().numpy(),
        data_range=1.0,
        channel_axis=-1,
    )
    assert ssim(noisy, photo) == pytest.approx(ref, abs=1e-6)
    assert 0 < ssim(noisy, photo) < 1
    assert ssim(noisy[:, :1], photo[:, :1]) < 1  # gray works too
    assert ssim(photo[..., :5, :5], photo[..., :5, :5]) == pytest.approx(1.0)  # tiny images: smaller window


def test_metrics_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        l1(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))


def test_pixel_losses_with_mask(device):
    pred = torch.zeros(1, 3, 4, 4, device=device)
    target = torch.ones(1, 3, 4, 4, device=device)
    target[..., :2, :] = 3.0  # error 3 in the top half, 1 in the bottom half
    assert l1_loss(pred, target).item() == pytest.approx(2.0)
    assert l2_loss(pred, target).item() == pytest.approx(5.0)
    mask = torch.zeros(1, 1, 4, 4, device=device)
    mask[..., 2:, :] = 1.0
    assert l1_loss(pred, target, mask).item() == pytest.approx(1.0)
    zero = torch.zeros_like(mask)
    pred.requires_grad_(True)
    loss = l1_loss(pred, target, zero)
    loss.backward()
    assert loss.item() == 0 and torch.isfinite(pred.grad).all()
    with pytest.raises(ValueError, match="mask"):
        l1_loss(pred, target, torch.ones(1, 3, 4, 4))


def test_gram_matrix_known_value():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # C=2, H=1, W=2
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / 4.0
    assert torch.allclose(gram_matrix(f)[0], expected)


@pytest.fixture(scope="module")
def perceptual() -> VGG16PerceptualLoss:
    return VGG16PerceptualLoss(random_weights=True)


def test_vgg_layer_names_and_shapes(perceptual):
    feats = perceptual.features(torch.rand(1, 3, 32, 32))
    assert list(feats) == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    assert feats["relu4_3"].shape == (1, 512, 4, 4)
    assert all(not p.requires_grad for p in perceptual.parameters())
    with pytest.raises(ValueError, match="unknown vgg16 layer"):
        VGGFeatures("vgg16", ["relu9_9"], random_weights=True)


@pytest.mark.parametrize("distance", VGG16PerceptualLoss.DISTANCES)
def test_perceptual_loss_zero_for_same_image_and_differentiable(perceptual, photo, distance):
    perceptual.distance = distance
    x = photo[..., :48, :48]
    assert perceptual(x, x).item() == pytest.approx(0.0, abs=1e-5)
    pred = torch.rand_like(x, requires_grad=True)
    loss = perceptual(pred, x)
    loss.backward()
    assert loss.item() > 0 and pred.grad.abs().sum() > 0


def test_missing_weights_name_file_url_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    with pytest.raises(WeightsMissingError) as info:
        VGG16PerceptualLoss()
    message = str(info.value)
    assert "vgg16-397923af.pth" in message
    assert "https://download.pytorch.org/models/vgg16-397923af.pth" in message
    assert str(tmp_path / "torch_home" / "hub" / "checkpoints") in message


def test_known_weight_urls_are_torchvisions():
    """The table that spares torchvision's import names the files torchvision itself would fetch."""
    import torchvision.models as tvm

    from common.pretrained import KNOWN_WEIGHT_URLS

    for (name, weights), url in KNOWN_WEIGHT_URLS.items():
        assert tvm.get_model_weights(name)[weights].url == url, (name, weights)


def test_missing_weights_reported_without_importing_torchvision(tmp_path):
    code = (
        "import sys\n"
        "from common.errors import WeightsMissingError\n"
        "from common.pretrained import load_torchvision_backbone, set_offline\n"
        "set_offline(True)\n"
        "try:\n"
        "    load_torchvision_backbone('vgg16', 'IMAGENET1K_V1')\n"
        "except WeightsMissingError as err:\n"
        "    print('missing', 'torchvision' in sys.modules, err)\n"
    )
    env = dict(os.environ, TORCH_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.stdout.startswith("missing False ") and "vgg16-397923af.pth" in proc.stdout, proc.stderr


def test_backbone_loads_from_local_cache(tmp_path, monkeypatch):
    from common.pretrained import load_torchvision_backbone, weights_available, weights_file

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path, url = weights_file("resnet18", "IMAGENET1K_V1")
    assert path.name == url.rsplit("/", 1)[1] and not weights_available("resnet18", "IMAGENET1K_V1")
    source = load_torchvision_backbone("resnet18", random_weights=True)
    path.parent.mkdir(parents=True)
    torch.save(source.state_dict(), path)
    model = load_torchvision_backbone("resnet18", "IMAGENET1K_V1")
    assert torch.equal(model.fc.weight, source.fc.weight) and not model.training
    path.write_bytes(b"corrupt")
    with pytest.raises(WeightsMissingError, match="cannot load resnet18"):
        load_torchvision_backbone("resnet18", "IMAGENET1K_V1")
