"""Tests of the point-set losses: Chamfer distance and the exact-periodogram spectrum (stippling)."""

from __future__ import annotations

import math

import pytest
import torch

from common.losses.chamfer import chamfer_distance
from common.losses.spectrum import anisotropy, half_plane_frequencies, point_periodogram, raps, spectrum_loss


def test_chamfer_known_value_and_masks():
    x = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]])
    y = torch.tensor([[[0.0, 0.5], [9.0, 9.0]]])
    # x->y: 0.25 and 1.25 -> 0.75 ; y->x: 0.25 and 64+81 -> 72.625
    assert float(chamfer_distance(x, y)) == pytest.approx(0.75 + 72.625)
    mask = torch.tensor([[True, False]])
    assert float(chamfer_distance(x, y, y_mask=mask)) == pytest.approx(0.75 + 0.25)
    assert float(chamfer_distance(y, y)) == 0.0


def test_chamfer_gradient_pulls_points_together():
    x = torch.rand(2, 30, 2, requires_grad=True)
    y = torch.rand(2, 40, 2)
    opt = torch.optim.SGD([x], lr=0.5)
    first = float(chamfer_distance(x, y).detach())
    for _ in range(50):
        opt.zero_grad()
        chamfer_distance(x, y).backward()
        opt.step()
    assert float(chamfer_distance(x, y).detach()) < 0.5 * first
    with pytest.raises(ValueError):
        chamfer_distance(torch.rand(1, 3, 2), torch.rand(2, 3, 2))


def test_periodogram_matches_direct_sum_and_symmetry():
    pts = torch.rand(1, 50, 2, dtype=torch.float64)
    power, freqs = point_periodogram(pts, kmax=4)
    k = freqs[7]
    direct = (
        torch.exp(-2j * math.pi * (pts[0].to(torch.complex128) @ k.to(torch.complex128))).sum().abs() ** 2
        / 50
    )
    assert float(power[0, 7]) == pytest.approx(float(direct), rel=1e-9)
    assert not ((freqs == 0).all(-1)).any()  # DC excluded
    assert not any(((freqs == -f).all(-1)).any() for f in freqs)  # half plane only


def test_raps_poisson_is_flat_and_grid_is_not():
    gen = torch.Generator().manual_seed(0)
    poisson = torch.rand(8, 1024, 2, generator=gen)
    r = raps(poisson, kmax=16).mean(0)
    assert 0.8 < float(r.mean()) < 1.2  # Poisson process: flat spectrum of height 1
    # a jittered grid (blue-ish noise) has almost no low-frequency power
    g = (
        torch.stack(torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij"), -1).view(1, -1, 2)
        + 0.5
    ) / 32
    jit = g + 0.2 / 32 * (torch.rand(1, 1024, 2, generator=gen) - 0.5)
    assert float(raps(jit, kmax=16)[0, :8].mean()) < 0.1
    assert anisotropy(poisson[:1], kmax=16).shape == (1, 16)


def test_spectrum_loss_zero_for_same_set_and_differentiable():
    gen = torch.Generator().manual_seed(1)
    y = torch.rand(2, 200, 2, generator=gen)
    assert float(spectrum_loss(y, y, kmax=8)) == pytest.approx(0.0, abs=1e-6)
    x = torch.rand(2, 200, 2, generator=gen, requires_grad=True)
    loss = spectrum_loss(x, y, kmax=8)
    loss.backward()
    assert loss > 0 and torch.isfinite(x.grad).all()
    assert half_plane_frequencies(8).shape[1] == 2
