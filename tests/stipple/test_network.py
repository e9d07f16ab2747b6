"""Stippling network: shapes, allocation, a few training steps lower the loss, resume, offline encoder."""

from __future__ import annotations

import pytest
import torch

from common.errors import UserError
from common.image_io import save_image, save_strokes
from stipple.data import StippleDataset, occupancy_grid
from stipple.inference import load_stipple_net, predict_stipples
from stipple.losses import LossWeights, stipple_losses
from stipple.model import StippleNet, StippleNetConfig, diffuse_counts, grid_for_points
from stipple.stipplers import weighted_voronoi_stippling
from stipple.training import TrainConfig, build_model, train

SMALL = dict(points=64, slots=4, image_size=32, style_dim=64, base_channels=32)


def _tiny_dataset(root, n=4):
    """n ramps/discs stippled with 64 WVS points: source/, target/, points/."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    images = []
    for i in range(n):
        tone = (xx if i % 2 == 0 else yy) * (0.5 + 0.5 * i / n)
        images.append(tone.expand(1, 3, 32, 32).clone())
    res = weighted_voronoi_stippling(
        torch.cat(images), 64, n_iter=8, generator=torch.Generator().manual_seed(0)
    )
    for i, (img, st) in enumerate(zip(images, res, strict=True)):
        save_image(img, root / "source" / f"im{i}.png")
        save_image(torch.ones(1, 3, 32, 32), root / "target" / f"im{i}.png")
        params = torch.cat([st.positions, st.radii[:, None], st.colors], 1)
        save_strokes(root / "points" / f"im{i}.json", "dots", params, 32, 32)
    return root


def test_shapes_and_points_rule():
    cfg = StippleNetConfig(**SMALL)
    net = StippleNet(cfg)
    out = net(torch.rand(2, 3, 32, 32))
    assert out["density"].shape == (2, 8, 8) and (out["density"] >= 0).all()
    assert out["positions"].shape == (2, 64, 4, 2) and out["colors"].shape == (2, 64, 4, 3)
    assert out["positions"].min() >= 0 and out["positions"].max() <= 1
    # slot positions stay inside their own grid cell (row-major cells)
    cell = (out["positions"][0, 9, :, :] * 8).floor()
    assert (cell == torch.tensor([1.0, 1.0])).all()
    assert grid_for_points(1024) == 32
    with pytest.raises(UserError, match="square grid size"):
        grid_for_points(1000)
    with pytest.raises(UserError):
        StippleNetConfig(points=36).validate()  # G = 6 is not 4 * 2^k


def test_diffuse_counts_exact_capped_and_spread():
    w = torch.zeros(8, 8)
    w[:, :4] = 1.0  # left half dark
    c = diffuse_counts(w, 90, cap=3)
    assert int(c.sum()) == 90 and int(c.max()) <= 3 and int(c[:, 4:].sum()) == 0
    sparse = diffuse_counts(torch.ones(8, 8), 16, cap=3)  # a quarter of a point per cell: spread, not clumped
    assert int(sparse.sum()) == 16 and int(sparse.max()) == 1
    assert all(int(sparse[i : i + 4, j : j + 4].sum()) in (3, 4, 5) for i in (0, 4) for j in (0, 4))


def test_predict_exact_count_any_square_and_tiles():
    net = StippleNet(StippleNetConfig(**SMALL)).eval()
    img = torch.rand(1, 3, 40, 56)
    for n in (64, 49, 256):  # 256 = 4 x 64: 2 x 2 tiles
        st = predict_stipples(net, img, n)
        assert len(st) == n and st.positions.min() >= 0 and st.positions.max() <= 1
        assert (st.radii >= 0).all()
    with pytest.raises(UserError):
        predict_stipples(net, img, 50)


def test_losses_finite_and_density_target():
    net = StippleNet(StippleNetConfig(**SMALL))
    img = torch.rand(2, 3, 32, 32)
    pts = torch.rand(2, 64, 2)
    mask = torch.ones(2, 64, dtype=torch.bool)
    losses = stipple_losses(net(img), img, pts, mask, LossWeights(kmax=8))
    assert set(losses) == {"total", "chamfer", "spectrum", "color", "density"}
    assert all(torch.isfinite(v) for v in losses.values())
    assert occupancy_grid(pts, 8, mask).sum().item() == 128


def test_training_lowers_loss_and_resumes(tmp_path):
    data = _tiny_dataset(tmp_path / "data")
    assert len(StippleDataset(data, 32, 64)) == 4
    cfg = TrainConfig(
        data=str(data),
        epochs=12,
        batch_size=4,
        lr=2e-3,
        checkpoint_dir=str(tmp_path / "run"),
        model=StippleNetConfig(**SMALL),
        loss=LossWeights(kmax=8),
    )
    first = TrainConfig(**{**cfg.__dict__, "epochs": 1})
    from common.device import DistributedContext

    ctx = DistributedContext()
    start = train(first, ctx, progress=False)
    end = train(cfg, ctx, progress=False)  # resumes at epoch 1 from run/last.pt
    assert end["total"] < 0.8 * start["total"]
    assert end["density"] < start["density"]
    model, ckpt = load_stipple_net(tmp_path / "run" / "last.pt")
    assert ckpt["step"] == 12 and ckpt["extra"]["epoch"] == 12
    assert (tmp_path / "run" / "config.json").is_file()
    assert len(predict_stipples(model, torch.rand(1, 3, 32, 32), 64)) == 64


def test_missing_pretrained_weights_take_offline_path(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache
    model, cfg, reason = build_model(
        StippleNetConfig(**{**SMALL, "encoder": "resnet18", "encoder_trainable": False})
    )
    assert reason is not None and "resnet18" in reason and "offline path" in reason
    assert cfg.encoder_trainable and any(p.requires_grad for p in model.encoder.parameters())


def test_dataset_without_matching_names(tmp_path):
    save_image(torch.ones(1, 3, 8, 8), tmp_path / "source" / "a.png")
    save_image(torch.ones(1, 3, 8, 8), tmp_path / "target" / "b.png")
    with pytest.raises(UserError, match="no matching file names"):
        StippleDataset(tmp_path)


def test_priors_start_from_darkness_and_stay_in_cells():
    cfg = StippleNetConfig(**SMALL, slot_prior=True, density_prior=True)
    net = StippleNet(cfg).eval()
    img = torch.ones(1, 3, 32, 32)
    img[..., :16] = 0.0  # left half black, right half white
    out = net(img)
    dens = out["density"][0]
    assert torch.allclose(dens.sum(), torch.tensor(64.0), rtol=0.05)  # one stipple per cell on average
    assert dens[:, :4].min() > 10 * dens[:, 4:].max()
    pos = out["positions"][0].view(8, 8, 4, 2)
    cell = (pos * 8).floor()
    cols = torch.arange(8.0).view(1, 8, 1)
    assert (cell[..., 0] == cols).all() and (pos[0, 0, 0] != pos[0, 1, 0]).any()  # in cell, not a lattice
    st = predict_stipples(net, img, 64)
    assert int((st.positions[:, 0] < 0.5).sum()) >= 60
