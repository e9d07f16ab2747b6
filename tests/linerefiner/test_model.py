"""Generator/discriminator shapes, receptive field, BN folding, tiled == whole-image inference."""

from __future__ import annotations

import pytest
import torch

from linerefiner.inference import (
    TileStats,
    fold_batchnorm,
    postprocess,
    prepare_drawing,
    refine_tiled,
    refine_whole,
)
from linerefiner.model import (
    LineDiscriminator,
    LineGenerator,
    RefinerConfig,
    count_parameters,
    receptive_radius,
)
from linerefiner.synth import make_pair


def _random_eval_generator(cfg: RefinerConfig) -> LineGenerator:
    g = LineGenerator(cfg)
    for m in g.modules():  # non-trivial BN statistics, as after training
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    return g.eval()


def test_shapes_and_sizes():
    cfg = RefinerConfig()
    g, d = LineGenerator(cfg), LineDiscriminator(cfg)
    assert 0.25e6 < count_parameters(g) < 0.35e6  # "about 0.3M" (reference B.1)
    y = g(torch.rand(2, 1, 37, 53) * 2 - 1)
    assert y.shape == (2, 1, 37, 53) and y.min() > -1 and y.max() <= 1
    assert d(torch.rand(2, 1, 256, 256)).shape == (2,)
    with pytest.raises(ValueError, match="LineDiscriminator expects"):
        d(torch.rand(2, 1, 128, 128))
    with pytest.raises(ValueError, match="LineGenerator expects"):
        g(torch.rand(1, 3, 16, 16))


def test_receptive_radius_matches_impulse_response():
    for cfg in (RefinerConfig(blocks=2, channels=8), RefinerConfig(blocks=4, channels=8, dilated=True)):
        g = _random_eval_generator(cfg)
        r = receptive_radius(cfg)
        n = 2 * r + 21
        base = torch.zeros(1, 1, n, n)
        bumped = base.clone()
        bumped[0, 0, n // 2, n // 2] = 1.0
        with torch.no_grad():
            changed = (g(bumped) - g(base)).abs()[0, 0] > 0
        rows = changed.any(1).nonzero()
        assert int(rows.max() - rows.min()) // 2 <= r


def test_fold_batchnorm_same_function():
    g = _random_eval_generator(RefinerConfig(blocks=2))
    x = torch.rand(1, 1, 40, 40) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(g(x), fold_batchnorm(g)(x), atol=1e-5)


@pytest.mark.parametrize("dilated", [False, True])
def test_tiled_equals_whole(dilated):
    cfg = RefinerConfig(blocks=4, dilated=dilated, channels=8)
    g = fold_batchnorm(_random_eval_generator(cfg))
    size = (96, 136) if dilated else (150, 230)  # medium images with blank areas
    x, _ = make_pair(1_000_000_003, *size, density=3)
    x = x[None]
    whole = refine_whole(g, x)
    stats = TileStats()
    tiled = refine_tiled(g, x, cfg, tile=48, stats=stats)
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().max() < 1e-4
    assert stats.computed > 1
    with pytest.raises(ValueError, match="margin"):
        refine_tiled(g, x, cfg, tile=48, margin=receptive_radius(cfg) - 1)


def test_prepare_drawing_inverts_dark_and_grays_colour():
    img = torch.zeros(1, 3, 20, 20)
    img[:, 0, 5, :] = 1.0  # a red line on black
    prep = prepare_drawing(img)
    assert prep.inverted and prep.from_color and prep.gray.shape == (1, 1, 20, 20)
    assert prep.gray.median() > 0.5 and len(prep.notes) == 2
    light = prepare_drawing(torch.ones(1, 1, 20, 20))
    assert not light.inverted and not light.notes


def test_postprocess():
    img = torch.tensor([0.2, 0.5, 0.9]).view(1, 1, 1, 3)
    assert postprocess(img, threshold=0.6).flatten().tolist() == [0.0, 0.0, 1.0]
    assert torch.allclose(postprocess(img, curve=2.0), img**2)


def test_white_point_levels_make_paper_exactly_white():
    cfg = RefinerConfig(channels=8, blocks=1, white_point=0.9)
    g = LineGenerator(cfg).eval()
    x = torch.zeros(1, 1, 8, 8)
    with torch.no_grad():
        g.tail.weight.zero_()  # the output is tanh(bias) everywhere
        g.tail.bias.fill_(0.3)  # raw u = (1 + tanh 0.3) / 2 = 0.646 < 0.9: stretched to 0.646 / 0.9
        u = (g(x) + 1) / 2
        assert torch.allclose(u, torch.full_like(u, (1 + torch.tanh(torch.tensor(0.3)).item()) / 2 / 0.9))
        g.tail.bias.fill_(2.0)  # raw u = 0.982 > 0.9: paper, exactly 1.0
        assert (g(x) == 1.0).all()
    old = RefinerConfig.from_dict({"channels": 8})  # a checkpoint from before the white point
    assert old.white_point == 0.0 and RefinerConfig().white_point == 0.95


def test_raw_target_keeps_paper_above_the_white_point():
    g = LineGenerator(RefinerConfig(channels=8, blocks=1, white_point=0.95))
    y = torch.tensor([1.0, 0.0, -1.0]).view(1, 1, 1, 3)  # paper, mid gray, black in [-1, 1]
    raw = g.raw_target(y)
    assert raw[0, 0, 0, 0] == 1.0  # paper aims at the top, well above the white point
    assert torch.allclose(g.levels(raw), y)  # the curve maps the raw targets back onto the targets
