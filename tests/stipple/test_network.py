"""Stippling network: shapes, any count, off-grid slots, allocation, losses, keep-best training, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.errors import UserError
from common.image_io import save_image, save_strokes
from common.losses.chamfer import chamfer_distance
from stipple.data import StippleDataset, occupancy_grid
from stipple.inference import load_stipple_net, predict_stipples
from stipple.losses import LossWeights, matched_chamfer, radial_angular_spectrum_loss, stipple_losses
from stipple.model import StippleNet, StippleNetConfig, diffuse_counts, grid_for_count
from stipple.stipplers import weighted_voronoi_stippling
from stipple.training import TrainConfig, train

SMALL = dict(points=64, slots=4, image_size=32, width=16, blocks=2, style_dim=16)


def _tiny_dataset(root, n=4, side=32, points=64):
    """n ramps stippled with WVS: source/, target/, points/."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, side), torch.linspace(0, 1, side), indexing="ij")
    images = []
    for i in range(n):
        tone = (xx if i % 2 == 0 else yy) * (0.5 + 0.5 * i / n)
        images.append(tone.expand(1, 3, side, side).clone())
    res = weighted_voronoi_stippling(
        torch.cat(images), points, n_iter=8, generator=torch.Generator().manual_seed(0)
    )
    for i, (img, st) in enumerate(zip(images, res, strict=True)):
        save_image(img, root / "source" / f"im{i}.png")
        save_image(torch.ones(1, 3, side, side), root / "target" / f"im{i}.png")
        params = torch.cat([st.positions, st.radii[:, None], st.colors], 1)
        save_strokes(root / "points" / f"im{i}.json", "dots", params, side, side)
    return root


def test_shapes_non_square_and_slots_leave_the_cell():
    net = StippleNet(StippleNetConfig(**SMALL))
    torch.nn.init.normal_(net.location_head[-1].weight, std=2.0)  # a trained net's offsets can be large
    out = net(torch.rand(2, 3, 32, 48))  # 8 x 12 cells
    assert out["density"].shape == (2, 8, 12) and (out["density"] >= 0).all()
    assert out["positions"].shape == (2, 96, 4, 2) and out["colors"].shape == (2, 96, 4, 3)
    assert out["radii"].shape == (2, 96, 4) and (out["radii"] > 0).all()
    pos = out["positions"][0].view(8, 12, 4, 2)
    centre = torch.stack(torch.meshgrid(torch.arange(8.0), torch.arange(12.0), indexing="ij"), -1) + 0.5
    off_cells = (pos * torch.tensor([12.0, 8.0]) - centre.flip(-1)[:, :, None]).abs()
    assert off_cells.max() <= 1.5 + 1e-4  # reach
    assert (off_cells > 0.5).any()  # some slots are outside their own cell
    with pytest.raises(ValueError, match="4 Gh, 4 Gw"):
        net(torch.rand(1, 3, 30, 32))


def test_grid_for_count_any_count_and_aspect():
    assert grid_for_count(1024, 512, 512, 1.0) == (32, 32)
    gh, gw = grid_for_count(5000, 320, 512, 1.0)
    assert abs(gw / gh - 512 / 320) < 0.05 and abs(gh * gw - 5000) < 150
    assert grid_for_count(16384, 100, 100, 1.0) == (128, 128)  # larger counts: larger point grid
    for bad in (255, 16385):
        with pytest.raises(UserError, match="256..16384"):
            grid_for_count(bad, 64, 64, 1.0)


def test_diffuse_counts_exact_capped_and_spread():
    w = torch.zeros(8, 8)
    w[:, :4] = 1.0  # left half dark
    c = diffuse_counts(w, 90, cap=3)
    assert int(c.sum()) == 90 and int(c.max()) <= 3 and int(c[:, 4:].sum()) == 0
    sparse = diffuse_counts(torch.ones(8, 8), 16, cap=3)  # a quarter of a point per cell: spread, not clumped
    assert int(sparse.sum()) == 16 and int(sparse.max()) == 1
    assert all(int(sparse[i : i + 4, j : j + 4].sum()) in (3, 4, 5) for i in (0, 4) for j in (0, 4))


def _reference_diffusion(target, cap):
    """Serpentine Floyd-Steinberg on a numpy array, element by element (the textbook loop), no fix-up."""
    t = target.copy()
    h, w = t.shape
    out = np.zeros((h, w), dtype=np.int64)
    for i in range(h):
        step = 1 if i % 2 == 0 else -1
        for j in range(w) if step == 1 else range(w - 1, -1, -1):
            c = int(min(cap, max(0, round(t[i, j]))))
            out[i, j], e = c, t[i, j] - c
            for di, dj, f in ((0, step, 7), (1, -step, 3), (1, 0, 5), (1, step, 1)):
                if i + di < h and 0 <= j + dj < w:
                    t[i + di, j + dj] += e * f / 16
    return out


def test_diffuse_counts_is_serpentine_floyd_steinberg():
    gen = torch.Generator().manual_seed(3)
    for h, w, n in ((7, 11, 100), (12, 5, 100), (1, 9, 20), (9, 1, 20), (16, 16, 500)):
        weights = 0.2 + torch.rand(h, w, generator=gen, dtype=torch.float64)
        counts = diffuse_counts(weights, n, cap=6).numpy()
        target = (weights.numpy() + 1e-12) / (weights.numpy() + 1e-12).sum() * n  # none above the cap here
        assert target.max() <= 6
        ref = _reference_diffusion(target, 6)
        # the same counts but for the few cells of the exact-total fix-up (one stipple each)
        assert counts.sum() == n and np.abs(counts - ref).max() <= 1
        assert (counts != ref).sum() <= abs(n - ref.sum())


def test_predict_exact_count_any_count_radius_modes_and_relax():
    net = StippleNet(StippleNetConfig(**SMALL)).eval()
    img = torch.rand(1, 3, 40, 72)
    for n in (256, 301, 1000):  # non-square counts on a non-square image
        st = predict_stipples(net, img, n)
        assert len(st) == n and st.positions.min() >= 0 and st.positions.max() <= 1
        assert (st.radii > 0).all() and st.colors.shape == (n, 3)
    tone = predict_stipples(net, img, 301, radius="tone")
    assert torch.equal(tone.positions, predict_stipples(net, img, 301).positions)
    relaxed = predict_stipples(net, img, 301, relax=2)
    assert len(relaxed) == 301 and not torch.allclose(relaxed.positions, tone.positions)
    raw = predict_stipples(net, img, 301, calibrate=0)  # the default calibrates the radii, one step
    cal = predict_stipples(net, img, 301)
    assert torch.equal(cal.positions, raw.positions) and not torch.allclose(cal.radii, raw.radii)
    with pytest.raises(UserError):
        predict_stipples(net, img, 100)
    with pytest.raises(UserError, match="radius"):
        predict_stipples(net, img, 256, radius="big")


def test_calibrate_tone_darkens_too_light_stipples_and_keeps_positions():
    """Dots too small for a two-tone image (left 30 % gray, right 70 %; a jittered 24 x 24 grid of 1-px dots,
    too light on both halves): calibration moves the blurred render's tone towards the input on both halves
    and leaves positions, colours and count alone."""
    from stipple.evaluate import gaussian_blur, render_stipples
    from stipple.inference import calibrate_tone
    from stipple.stipplers import Stipples

    h = w = 96
    img = torch.full((1, 3, h, w), 0.7)
    img[..., : w // 2] = 0.3
    gen = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
    pos = (torch.stack([xx, yy], -1).reshape(-1, 2) + 0.25 + 0.5 * torch.rand(576, 2, generator=gen)) / 24
    small = Stipples(pos, torch.full((576,), 1.0 / h), torch.zeros(576, 3))
    sigma = (h * w / len(small)) ** 0.5

    def halves_error(s):
        b = gaussian_blur(render_stipples(s, h, w)[:, :1], sigma)[0, 0, 8:-8]
        return [float((b[:, a:z] - img[0, 0, 8:-8, a:z]).mean().abs()) for a, z in ((8, 40), (56, 88))]

    before = halves_error(small)
    full = halves_error(calibrate_tone(img, small, 2, scale=1.0))
    assert all(a < 0.5 * b for a, b in zip(full, before, strict=True)), (before, full)
    # at the default half-size render, 0.5-px dots carry the rim ramp's extra ink: still closer, less so
    half = halves_error(calibrate_tone(img, small, 2))
    assert half[0] < 0.5 * before[0] and half[1] < before[1], (before, half)
    cal = calibrate_tone(img, small, 2)
    assert torch.equal(cal.positions, small.positions) and torch.equal(cal.colors, small.colors)
    assert calibrate_tone(img, small, 0) is small


def test_matched_chamfer_equals_common_chamfer():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 30, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 40, 2, generator=gen, dtype=torch.float64)
    xm = torch.ones(2, 30, dtype=torch.bool)
    ym = torch.rand(2, 40, generator=gen) > 0.3
    ours, _ = matched_chamfer(x, xm, y, ym)
    ref = chamfer_distance(x, y, xm, ym)
    (g1,) = torch.autograd.grad(ours, x)
    (g2,) = torch.autograd.grad(ref, x)
    assert torch.allclose(ours, ref) and torch.allclose(g1, g2)


def test_angular_spectrum_loss_punishes_a_lattice():
    flat = torch.full((1, 1, 64, 64), 0.5)
    ref = weighted_voronoi_stippling(flat, 256, n_iter=20, generator=torch.Generator().manual_seed(0))[0]
    other = weighted_voronoi_stippling(flat, 256, n_iter=20, generator=torch.Generator().manual_seed(1))[0]
    g = torch.arange(16.0)
    lattice = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).view(-1, 2).flip(-1)
    lattice = ((lattice + 0.5) / 16 + 0.01 * (torch.rand(256, 2) - 0.5))[None]
    w = torch.ones(1, 256)
    p, q, o = ref.positions[None], ref.positions[None], other.positions[None]
    assert float(radial_angular_spectrum_loss(p, q, w, w, 20)) == 0.0
    blue = float(radial_angular_spectrum_loss(o, q, w, w, 20))
    grid = float(radial_angular_spectrum_loss(lattice, q, w, w, 20))
    assert grid > 1.5 * blue


def test_losses_finite_and_density_target():
    net = StippleNet(StippleNetConfig(**SMALL))
    img = torch.rand(2, 3, 32, 32)
    pts = torch.rand(2, 64, 2)
    mask = torch.ones(2, 64, dtype=torch.bool)
    losses = stipple_losses(net(img), img, pts, mask, LossWeights(), torch.full((2, 64), 0.02))
    assert set(losses) == {"total", "chamfer", "spectrum", "color", "density", "radius", "tone", "repulsion"}
    assert all(torch.isfinite(v) for v in losses.values())
    losses["total"].backward()
    assert net.radius_head[-1].weight.grad.abs().sum() > 0  # the radius head learns
    assert occupancy_grid(pts, 8, mask).sum().item() == 128


@pytest.mark.parametrize(
    "model_kw, loss_kw",
    [
        (SMALL, {}),
        ({**SMALL, "image_size": 64, "cell_px": 8, "slots": 8, "prior": "blue"}, {"repulsion": 1.0}),
    ],
    ids=["r2", "blue+repulsion"],
)
def test_training_lowers_loss_keeps_best_and_resumes(tmp_path, model_kw, loss_kw):
    side = model_kw["image_size"]
    data = _tiny_dataset(tmp_path / "data", side=side)
    val = _tiny_dataset(tmp_path / "val", n=2, side=64, points=256)
    assert len(StippleDataset(data, side, 64)) == 4
    cfg = TrainConfig(
        data=str(data),
        epochs=30,
        batch_size=4,
        lr=3e-3,
        checkpoint_dir=str(tmp_path / "run"),
        val_data=str(val),
        val_every=10,
        val_points=256,
        save_every=10,
        model=StippleNetConfig(**model_kw),
        loss=LossWeights(**loss_kw),
    )
    from common.device import DistributedContext

    ctx = DistributedContext()
    first = train(TrainConfig(**{**cfg.__dict__, "epochs": 1, "lr": 1e-2}), ctx, progress=False)
    end = train(cfg, ctx, progress=False)  # resumes at step 1 from run/last.pt, at the new --lr
    last = torch.load(tmp_path / "run" / "last.pt", map_location="cpu", weights_only=False)
    assert last["extra"]["state"]["opt"]["param_groups"][0]["lr"] == 3e-3
    assert end["step"] == 30 and end["total"] < 0.8 * first["total"]
    run = tmp_path / "run"
    assert (run / "best.pt").is_file() and (run / "config.json").is_file()
    model, ckpt = load_stipple_net(run / "stipple_net_best.pt")
    assert "val_tone_psnr" in ckpt["metrics"] and ckpt["provenance"]["val_data"] == str(val)
    assert len(predict_stipples(model, torch.rand(1, 3, 32, 32), 256)) == 256
    if loss_kw:
        assert end["repulsion"] > 0 or first["repulsion"] > 0  # the term is live in training


def test_dataset_without_matching_names(tmp_path):
    save_image(torch.ones(1, 3, 8, 8), tmp_path / "source" / "a.png")
    save_image(torch.ones(1, 3, 8, 8), tmp_path / "target" / "b.png")
    with pytest.raises(UserError, match="no matching file names"):
        StippleDataset(tmp_path)


def test_untrained_priors_stipple_by_darkness():
    net = StippleNet(StippleNetConfig(**SMALL)).eval()
    img = torch.ones(1, 3, 64, 64)
    img[..., :32] = 0.0  # left half black, right half white
    out = net(img)
    dens = out["density"][0]
    assert torch.allclose(dens.sum(), torch.tensor(256.0), rtol=0.05)  # one stipple per cell on average
    assert dens[:, :8].min() > 10 * dens[:, 8:].max()
    st = predict_stipples(net, img, 256)
    assert int((st.positions[:, 0] < 0.5).sum()) >= 250
    pos = out["positions"][0].view(16, 16, 4, 2)
    assert (pos[0, 0, 0] - pos[0, 1, 0] + torch.tensor([1 / 16, 0])).abs().max() > 1e-3  # no shared pattern


def test_symmetry_augmentation_moves_points_with_the_image():
    from stipple.data import _symmetry

    img = torch.ones(3, 16, 16)
    img[:, 2, 11] = 0.0  # dark pixel at row 2, column 11
    pts = torch.tensor([[(11 + 0.5) / 16, (2 + 0.5) / 16, 0.01]])
    for code in range(8):
        im2, p2 = _symmetry(img, pts, code)
        row, col = (im2[0] == 0).nonzero()[0].tolist()
        assert torch.allclose(p2[0, :2], torch.tensor([(col + 0.5) / 16, (row + 0.5) / 16]))
        assert p2[0, 2] == 0.01


BLUE = dict(points=256, slots=8, image_size=64, cell_px=8, width=16, blocks=2, style_dim=16, prior="blue")


def test_blue_noise_slots_progressive_and_well_spaced():
    from stipple.evaluate import nn_regularity
    from stipple.model import blue_noise_slots

    pat = blue_noise_slots(24, 4, seed=0)
    assert pat.shape == (4, 2, 24, 24) and pat.min() >= -0.5 and pat.max() < 0.5
    assert torch.equal(pat, blue_noise_slots(24, 4, seed=0))
    ii, jj = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
    centre = torch.stack([jj, ii]) + 0.5  # (2, S, S) (x, y)
    jitter = (centre - 0.5 + torch.rand(2, 24, 24, generator=torch.Generator().manual_seed(0))) / 24
    uniform = nn_regularity(jitter.reshape(2, -1).T, 512, 512)  # one uniform point per cell: about 2.9
    for n in (1, 2, 4):  # every prefix of the rounds is well spaced, not only the whole set
        pts = ((pat[:n] + centre) / 24).permute(0, 2, 3, 1).reshape(-1, 2)
        assert nn_regularity(pts, 512, 512) > 2 * uniform


def test_blue_prior_net_spreads_stipples_and_follows_the_seed(tmp_path):
    from common.checkpoint import save_checkpoint
    from stipple.evaluate import nn_regularity

    flat = torch.full((1, 3, 256, 256), 0.5)
    blue = StippleNet(StippleNetConfig(**BLUE)).eval()
    # the 2025 design: R2 prior, one stipple per 4-px cell
    r2 = StippleNet(StippleNetConfig(**{**BLUE, "prior": "r2", "cell_px": 4, "slots": 4})).eval()
    out = blue(torch.rand(2, 3, 64, 96))  # 8 x 12 cells of 8 px
    assert out["positions"].shape == (2, 96, 8, 2) and out["density"].shape == (2, 8, 12)
    with pytest.raises(ValueError, match="8 Gh, 8 Gw"):
        blue(torch.rand(1, 3, 60, 64))
    st = predict_stipples(blue, flat, 1000)
    assert len(st) == 1000
    # untrained (heads at zero): the blue-noise prior is far more regular (measured 7.8 against 3.6)
    assert nn_regularity(st.positions, 256, 256) > 1.5 * nn_regularity(
        predict_stipples(r2, flat, 1000).positions, 256, 256
    )
    assert torch.equal(st.positions, predict_stipples(blue, flat, 1000, seed=0).positions)
    other = predict_stipples(blue, flat, 1000, seed=1).positions
    assert not torch.allclose(st.positions, other)
    # the pattern travels in the checkpoint (load_stipple_net does not rebuild it)
    cfg = {"model": blue.config.to_dict()}
    save_checkpoint(
        tmp_path / "b.pt", model_state=blue.state_dict(), config=cfg, step=0, metrics={}, provenance={}
    )
    loaded, _ = load_stipple_net(tmp_path / "b.pt")
    assert torch.equal(loaded.slot_pattern, blue.slot_pattern)
    assert torch.equal(predict_stipples(loaded, flat, 1000).positions, st.positions)


def test_repulsion_loss_zero_when_spaced_and_pushes_close_pairs_apart():
    from stipple.losses import repulsion_loss

    g = torch.arange(8.0)
    lattice = ((torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).view(1, -1, 2) + 0.5) / 8).double()
    mask = torch.ones(1, 64, dtype=torch.bool)
    spacing = torch.full((1, 64), 1 / 8, dtype=torch.float64)
    assert float(repulsion_loss(lattice, mask, spacing)) == 0.0
    close = lattice.clone()
    close[0, 0] = close[0, 1] + torch.tensor([0.0, 0.02], dtype=torch.float64)  # 0.16 of the spacing
    close.requires_grad_(True)
    loss = repulsion_loss(close, mask, spacing)
    assert float(loss.detach()) > 0
    (grad,) = torch.autograd.grad(loss, close)
    step = close.detach() - 0.01 * grad
    assert (step[0, 0] - step[0, 1]).norm() > (close[0, 0] - close[0, 1]).detach().norm()  # apart
    masked = mask.clone()
    masked[0, 0] = False  # a padded point neither counts nor repels
    assert float(repulsion_loss(close, masked, spacing).detach()) == 0.0


def test_tone_loss_at_render_scales():
    """A lattice with area-matched radii reproduces flat 50 % gray once its dots are over a pixel wide (at
    32 px they have a 0.7-px radius and the anti-aliased rim adds ink: 8e-3 at scale 1, 4e-4 / 2e-4 at
    scales 2 / 4); half the radius is far off at every scale."""
    import math

    from stipple.losses import tone_loss

    g = torch.arange(16.0)
    pts = ((torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).view(1, -1, 2) + 0.5) / 16).flip(-1)
    r = math.sqrt(0.5 / (math.pi * 256))  # N pi r^2 = half the canvas
    img = torch.full((1, 3, 32, 32), 0.5)
    good = {s: float(tone_loss(pts, torch.full((1, 256), r), img, s)) for s in (1, 2, 4)}
    small = {s: float(tone_loss(pts, torch.full((1, 256), r / 2), img, s)) for s in (1, 2, 4)}
    assert good[2] < 1e-3 and good[4] < 1e-3 and good[4] < 0.1 * good[1], good
    assert min(small.values()) > 0.05, small


def test_validate_averages_render_scales():
    from stipple.training import val_metric_name, validate

    net = StippleNet(StippleNetConfig(**SMALL)).eval()
    ims = [torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    one, two = validate(net, ims, 256, (1,)), validate(net, ims, 256, (2,))
    assert abs(validate(net, ims, 256, (1, 2)) - (one + two) / 2) < 1e-9 and one != two
    assert val_metric_name((1,)) == "val_tone_psnr" and val_metric_name((1, 2, 4)) == "val_tone_psnr_x1_2_4"
