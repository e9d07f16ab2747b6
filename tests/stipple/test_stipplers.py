"""Classical stipplers (WVS, LBG), the raster Voronoi core and point recovery from rendered targets."""

from __future__ import annotations

import pytest
import torch

from common.renderers.dots import render_dots
from stipple.data import points_from_target
from stipple.stipplers import density_from_image, lbg_stippling, stipple_image, weighted_voronoi_stippling
from stipple.voronoi import cell_stats, cell_stats_refined, nearest_site_brute, nearest_site_jfa


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


def test_warm_started_jfa_matches_cold():
    gen = torch.Generator().manual_seed(3)
    sites = torch.rand(1, 300, 2, generator=gen) * torch.tensor([96.0, 64.0])
    before = nearest_site_jfa(sites, 64, 96)
    moved = sites + 1.5 * (torch.rand(1, 300, 2, generator=gen) - 0.5)  # at most ~1.1 px
    exact = nearest_site_brute(moved, 64, 96)
    cold = (nearest_site_jfa(moved, 64, 96) == exact).float().mean()
    warm = (nearest_site_jfa(moved, 64, 96, init=before, max_step=2) == exact).float().mean()
    assert warm > 0.999 and warm >= cold  # 4 passes from the previous labels: as exact as the full schedule


def test_refined_centroids_match_a_fine_raster():
    """Sub-pixel borders give the centroids of the exact cells of a piecewise-constant density: compare with
    whole-pixel labels on an 8x finer raster (the same density, nearest upsampled)."""
    gen = torch.Generator().manual_seed(4)
    rho = torch.rand(1, 24, 32, generator=gen)
    sites = torch.rand(1, 20, 2, generator=gen) * torch.tensor([32.0, 24.0])
    fine = rho.repeat_interleave(8, 1).repeat_interleave(8, 2)
    ref = cell_stats(fine, nearest_site_brute(sites * 8, 192, 256), sites * 8).centroid / 8
    coarse = cell_stats(rho, nearest_site_brute(sites, 24, 32), sites).centroid
    refined = cell_stats_refined(rho, nearest_site_jfa(sites, 24, 32), sites, sub=4)
    err_coarse = (coarse - ref).norm(dim=-1).mean()
    err_refined = (refined.centroid - ref).norm(dim=-1).mean()
    assert err_refined < 0.4 * err_coarse
    assert torch.allclose(refined.mass.sum(), rho.sum()) and torch.allclose(
        refined.area.sum(), torch.tensor(768.0)
    )


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


def test_wvs_regular_on_flat_gray_and_positions_follow_stretched_density():
    flat = torch.full((1, 1, 96, 96), 0.5)
    st = weighted_voronoi_stippling(flat, 300, n_iter=30, generator=torch.Generator().manual_seed(0))[0]
    from stipple.evaluate import nn_regularity

    random = nn_regularity(torch.rand(300, 2, generator=torch.Generator().manual_seed(0)), 96, 96)
    assert nn_regularity(st.positions, 96, 96) > 3 * random  # Lloyd relaxation: near-hexagonal spacing
    # a photo-like image whose lightest tone is 0.7: normalised, nothing lands in the lightest part
    img = torch.full((1, 1, 48, 64), 0.7)
    img[..., :32] = 0.2
    st = weighted_voronoi_stippling(img, 150, n_iter=15, generator=torch.Generator().manual_seed(0))[0]
    raw = weighted_voronoi_stippling(
        img, 150, n_iter=15, normalize=False, generator=torch.Generator().manual_seed(0)
    )[0]
    assert int((st.positions[:, 0] > 0.55).sum()) < int((raw.positions[:, 0] > 0.55).sum())
    ink = (st.radii.square() * torch.pi).sum() * 48**2  # radii follow the true density
    assert abs(float(ink) / float((1 - img).sum()) - 1) < 0.05


def test_exact_cells_match_a_fine_raster_and_tile_the_image():
    """Exact clipped Voronoi cells with scanline prefix sums: centroids equal those of brute-force labels on a
    32x finer raster (the same piecewise-constant density), masses and areas add up to the whole image."""
    from stipple.exact_cells import exact_cell_stats

    gen = torch.Generator().manual_seed(4)
    rho = torch.rand(24, 32, generator=gen, dtype=torch.float64)
    sites = torch.rand(20, 2, generator=gen, dtype=torch.float64) * torch.tensor([32.0, 24.0])
    sites[:3] = torch.tensor([[0.01, 12.0], [31.99, 0.02], [16.0, 23.99]], dtype=torch.float64)  # at borders
    z = 32
    fine = rho.repeat_interleave(z, 0).repeat_interleave(z, 1)[None]
    ref = cell_stats(fine, nearest_site_brute(sites[None] * z, 24 * z, 32 * z), sites[None] * z)
    coarse = cell_stats(rho[None], nearest_site_brute(sites[None], 24, 32), sites[None])
    ex = exact_cell_stats(rho, sites, sub_rows=16)
    err = (ex.centroid[0] - ref.centroid[0] / z).norm(dim=-1)
    err_coarse = (coarse.centroid[0] - ref.centroid[0] / z).norm(dim=-1)
    assert err.max() < 0.03 and err.mean() < 0.1 * err_coarse.mean()
    assert torch.allclose(ex.area.sum(), torch.tensor(768.0, dtype=torch.float64))
    assert torch.allclose(ex.mass.sum(), rho.sum())
    assert torch.allclose(ex.mass[0], ref.mass[0] / z**2, atol=0.05)


def test_hilbert_curve_and_stratified_sampling():
    from stipple.stipplers import _hilbert_sample, _sample_density, hilbert_index

    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    d = hilbert_index(xx.reshape(-1), yy.reshape(-1), 4)
    assert sorted(d.tolist()) == list(range(256))
    path = torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)[torch.argsort(d)]
    assert (path[1:] - path[:-1]).abs().sum(-1).eq(1).all()  # consecutive cells are neighbours
    # a density with 4 tones: every quadrant gets its share of 400 points within 1 (stratified) where
    # independent samples miss by several
    rho = torch.tensor([[0.1, 0.3], [0.6, 1.0]]).repeat_interleave(32, 0).repeat_interleave(32, 1)[None]
    share = torch.tensor([0.1, 0.3, 0.6, 1.0]) / 2.0 * 400
    worst = {}
    for name, fn in (("hilbert", _hilbert_sample), ("random", _sample_density)):
        errs = []
        for seed in range(5):
            p = fn(rho, 400, torch.Generator().manual_seed(seed))[0]
            q = (p[:, 1] >= 32).long() * 2 + (p[:, 0] >= 32).long()
            errs.append(float((torch.bincount(q, minlength=4) - share).abs().max()))
        worst[name] = max(errs)
    assert worst["hilbert"] <= 1.5 and worst["random"] > 3 * worst["hilbert"]


def test_wvs_methods_and_inits_give_exact_counts():
    img = _half_dark()
    for kw in ({"method": "raster"}, {"init": "random"}, {"overrelax": 1.5}):
        st = weighted_voronoi_stippling(img, 97, n_iter=6, generator=torch.Generator().manual_seed(0), **kw)[
            0
        ]
        assert len(st) == 97 and st.positions.min() >= 0 and st.positions.max() <= 1
        assert int((st.positions[:, 0] < 0.5).sum()) > 3 * int((st.positions[:, 0] >= 0.5).sum())
    for bad in ({"method": "nope"}, {"init": "nope"}, {"overrelax": 2.0}):
        with pytest.raises(ValueError):
            weighted_voronoi_stippling(img, 10, **bad)
    for n in (1, 2, 3):  # tiny counts: every site still gets its clipped cell
        st = weighted_voronoi_stippling(img, n, n_iter=4)[0]
        assert len(st) == n and (st.radii > 0).all()


def test_lloyd_relax_keeps_count_and_evens_out_clumps():
    from stipple.evaluate import nn_regularity
    from stipple.stipplers import Stipples, lloyd_relax

    gen = torch.Generator().manual_seed(5)
    pts = torch.rand(400, 2, generator=gen)
    st = Stipples(pts, torch.full((400,), 0.01), torch.zeros(400, 3))
    flat = torch.full((1, 3, 80, 80), 0.5)
    one, two = lloyd_relax(flat, st, 1), lloyd_relax(flat, st, 2)
    assert len(one) == 400 and torch.equal(one.radii, st.radii)
    before, after1, after2 = (nn_regularity(s.positions, 80, 80) for s in (st, one, two))
    assert before < after1 < after2  # each Lloyd step spreads clumped (uniform random) points more evenly
    assert lloyd_relax(flat, st, 0) is st


def test_exact_cells_duplicate_site_gets_no_cell_and_wvs_redraws_it():
    from stipple.exact_cells import exact_cell_stats

    gen = torch.Generator().manual_seed(6)
    rho = torch.rand(20, 30, generator=gen, dtype=torch.float64)
    sites = torch.rand(10, 2, generator=gen, dtype=torch.float64) * torch.tensor([30.0, 20.0])
    sites[3] = sites[2]
    st = exact_cell_stats(rho, sites, 2)
    assert int((st.area[0] == 0).sum()) == 1 and torch.allclose(st.area.sum(), torch.tensor(600.0).double())
    # WVS from sites that all start on top of one another still ends with one cell per stipple
    import stipple.stipplers as sp

    def same(rho_, n, g):  # every initial site at one point
        return torch.full((1, n, 2), 7.5, dtype=rho_.dtype)

    res = sp._wvs_exact(
        _half_dark(), 40, 8, 1.0, same, 1.0, None, True, torch.Generator().manual_seed(0), None
    )
    assert len(res) == 40 and len({tuple(p) for p in res.positions.tolist()}) == 40 and (res.radii > 0).all()
