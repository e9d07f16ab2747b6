"""Classical stipplers (WVS, LBG), the raster Voronoi core and point recovery from rendered targets."""

from __future__ import annotations

import pytest
import torch

from common.renderers.dots import render_dots
from stipple.data import points_from_target
from stipple.stipplers import density_from_image, lbg_stippling, stipple_image, weighted_voronoi_stippling
from stipple.voronoi import cell_stats, nearest_site_brute, nearest_site_jfa


def _half_dark(h=48, w=64):
    img = torch.full((1, 3, h, w), 0.9)
    img[..., : w // 2] = 0.15  # left half dark
    return img


def test_jfa_matches_brute_force(device):
    gen = torch.Generator().manual_seed(0)
    sites = (torch.rand(2, 200, 2, generator=gen) * torch.tensor([80.0, 60.0])).to(device)
    jfa = nearest_site_jfa(sites, 60, 80)
    exact = nearest_site_brute(sites, 60, 80)
    assert jfa.shape == (2, 60, 80)
    assert (jfa == exact).float().mean() > 0.97  # JFA is approximate; sites sharing a seed pixel get no cell
    pix = (
        torch.stack(torch.meshgrid(torch.arange(60), torch.arange(80), indexing="ij"), -1).flip(-1).to(device)
        + 0.5
    )
    d_jfa = (sites[0][jfa[0]] - pix).norm(dim=-1)
    d_exact = (sites[0][exact[0]] - pix).norm(dim=-1)
    assert (d_jfa - d_exact).mean() < 0.02  # pixels: wrong labels are near-ties


def test_cell_stats_mass_and_centroid():
    rho = torch.ones(1, 4, 4)
    sites = torch.tensor([[[1.0, 2.0], [3.0, 2.0]]])
    st = cell_stats(rho, nearest_site_brute(sites, 4, 4), sites)
    assert st.mass.tolist() == [[8.0, 8.0]] and st.area.tolist() == [[8.0, 8.0]]
    assert torch.allclose(st.centroid, torch.tensor([[[1.0, 2.0], [3.0, 2.0]]]))


@pytest.mark.parametrize("method", ["wvs", "lbg"])
def test_count_inside_and_dark_gets_more(method):
    st = stipple_image(
        _half_dark(),
        150,
        method,
        generator=torch.Generator().manual_seed(0),
        **({"n_iter": 15} if method == "wvs" else {"max_iter": 30}),
    )
    assert len(st) == 150 and st.positions.shape == (150, 2) and st.radii.shape == (150,)
    assert st.positions.min() >= 0 and st.positions.max() <= 1
    assert (st.radii > 0).all() and st.colors.shape == (150, 3)
    dark = int((st.positions[:, 0] < 0.5).sum())
    assert dark > 3 * (150 - dark)  # density 0.85 vs 0.1: about 8x more stipples in the dark half


def test_wvs_energy_decreases_and_batch():
    img = torch.cat([_half_dark(), _half_dark().flip(-1)])
    res = weighted_voronoi_stippling(img, 80, n_iter=10, generator=torch.Generator().manual_seed(1))
    assert len(res) == 2
    for st in res:
        assert st.history[-1] < 0.8 * st.history[0]
    assert float(res[0].positions[:, 0].mean()) < 0.5 < float(res[1].positions[:, 0].mean())


def test_lbg_history_and_bad_input():
    st = lbg_stippling(_half_dark(), 60, max_iter=20, exact_count=False)
    counts = [c for c, _, _ in st.history]
    assert counts[0] == 2 and 30 < len(st) < 120  # emergent count near sum(rho) / A
    with pytest.raises(ValueError):
        lbg_stippling(torch.rand(2, 3, 16, 16), 10)
    with pytest.raises(ValueError):
        stipple_image(_half_dark(), 10, "nope")
    assert density_from_image(torch.zeros(1, 1, 4, 4)).eq(1).all()


def test_points_from_target_recovers_centres():
    gen = torch.Generator().manual_seed(2)
    grid = (
        torch.stack(torch.meshgrid(torch.arange(5), torch.arange(5), indexing="ij"), -1).view(-1, 2).flip(-1)
    )
    pos = (grid.float() + 0.5 + 0.3 * (torch.rand(25, 2, generator=gen) - 0.5)) / 5
    target = render_dots(
        pos[None], torch.full((1, 25), 0.03), torch.zeros(1, 25, 3), torch.ones(1, 3, 100, 100)
    )
    found, radii = points_from_target(target)
    assert found.shape == (25, 2)
    d = torch.cdist(found, pos).min(1).values
    assert d.max() < 0.5 / 100  # within half a pixel
    assert torch.allclose(radii, torch.full((25,), 0.03), rtol=0.1)
