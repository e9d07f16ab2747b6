"""Tests of the CLIPasso objective (random-weight RN101 built offline by open_clip; nothing is downloaded)."""

import pytest
import torch

from common.errors import WeightsMissingError
from common.losses import clip_loss
from common.losses.clip_loss import CLIPConvLoss, augment_pairs, load_clip_rn101


@pytest.fixture(scope="module")
def loss_fn():
    torch.manual_seed(0)
    return CLIPConvLoss(random_weights=True)


def test_augment_pairs_is_joint_and_keeps_the_original():
    torch.manual_seed(0)
    img = torch.rand(2, 3, 64, 64)
    s, t = augment_pairs(img, img.clone(), num_augs=4, size=64)
    assert s.shape == t.shape == (10, 3, 64, 64)
    assert torch.allclose(s, t)  # the same random transform is applied to sketch and target
    assert not torch.allclose(s[0], s[-2])  # augmented view differs from the original
    with pytest.raises(ValueError):
        augment_pairs(img, img[:1])


def test_clip_loss_zero_for_identical_and_differentiable(loss_fn):
    torch.manual_seed(1)
    target = torch.rand(1, 3, 224, 224)
    same = loss_fn(target, target, augment=False)
    assert same["loss"].item() == pytest.approx(0.0, abs=1e-6)
    sketch = torch.ones(1, 3, 224, 224, requires_grad=True)
    out = loss_fn(sketch, target, augment=False)
    assert out["loss"].item() > 0 and set(out) == {"loss", "conv", "fc"}
    out["loss"].backward()
    assert sketch.grad is not None and sketch.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss_fn.parameters())  # the encoder is frozen


def test_missing_weights_say_what_to_fetch(tmp_path, monkeypatch):
    with pytest.raises(WeightsMissingError, match="RN101.pt"):
        load_clip_rn101(tmp_path / "missing.pt")
    monkeypatch.setattr(clip_loss, "find_clip_weights", lambda: None)
    with pytest.raises(WeightsMissingError, match=r"download https://openaipublic.*RN101\.pt to .*\.cache"):
        load_clip_rn101()


def test_corrupt_weights_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "RN101.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsMissingError, match="cannot load CLIP RN101 weights"):
        load_clip_rn101(bad)


@pytest.mark.slow
def test_state_dict_file_round_trip(tmp_path):
    torch.manual_seed(0)
    visual = load_clip_rn101(random_weights=True)
    path = tmp_path / "visual.pt"
    torch.save(visual.state_dict(), path)
    again = load_clip_rn101(path)
    x = torch.rand(1, 3, 224, 224)
    assert torch.allclose(visual(x), again(x))
