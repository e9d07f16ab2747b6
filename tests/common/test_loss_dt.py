"""Tests of the differentiable distance transform and the DT loss (common/losses/dt.py)."""

import numpy as np
import pytest
import torch
from scipy.ndimage import distance_transform_edt

from common.losses.dt import binarize_ste, canny_edges, distance_transform, dt_loss


def _edges(h=48, w=56, seed=0):
    rng = np.random.default_rng(seed)
    e = np.zeros((h, w), np.float32)
    e[10, 5:40] = 1  # a line
    e[20:45, 30] = 1
    e[rng.integers(0, h, 6), rng.integers(0, w, 6)] = 1  # isolated points
    return e


def test_matches_scipy_exact_edt_within_window():
    e = _edges()
    exact = distance_transform_edt(1 - e)
    dt = distance_transform(torch.from_numpy(e)[None, None].double())[0, 0].numpy()
    d_max = 15 * np.sqrt(2)
    near = exact <= 14  # inside the 31 x 31 window the truncation does not matter
    assert dt.shape == e.shape
    assert (dt[near] >= exact[near] - 1e-6).all()  # a soft minimum never undercuts the true minimum
    assert np.abs(dt[near] - exact[near]).mean() < 0.15
    assert np.abs(dt[near] - exact[near]).max() < 0.7
    assert (dt <= d_max + 1e-6).all()
    assert np.allclose(dt[e > 0], 0, atol=0.1)  # soft minimum: neighbours at 1 px add about 0.07


def test_no_edges_gives_d_max_and_lower_temperature_is_sharper():
    zero = torch.zeros(1, 1, 16, 16)
    assert torch.allclose(distance_transform(zero), torch.full_like(zero, 15 * np.sqrt(2)))
    e = torch.from_numpy(_edges(seed=1))[None, None].double()
    exact = torch.from_numpy(distance_transform_edt(1 - e[0, 0].numpy()))
    err_soft = (distance_transform(e, temperature=1.0)[0, 0] - exact).abs().mean()
    err_sharp = (distance_transform(e, temperature=0.1)[0, 0] - exact).abs().mean()
    assert err_sharp < err_soft


def test_gradients_and_loss():
    e = torch.from_numpy(_edges())[None, None].double()
    soft = (0.5 * e[..., 8:20, 0:12] + 0.25).clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: distance_transform(x, kernel_size=7), (soft,))
    gt = torch.roll(e, 3, dims=-1)
    loss_far = dt_loss(e, gt)
    loss_same = dt_loss(e, e)
    assert loss_same < 0.1 * loss_far
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        distance_transform(torch.zeros(1, 3, 8, 8))


def test_binarize_ste_and_canny():
    x = torch.tensor([0.1, 0.3], requires_grad=True)
    y = binarize_ste(x)
    assert y.tolist() == [0.0, 1.0]
    y.sum().backward()
    assert (x.grad > 0).all()
    img = torch.zeros(1, 3, 40, 40)
    img[..., 10:30, 10:30] = 1
    edges = canny_edges(img)
    assert edges.shape == (1, 1, 40, 40) and 0 < edges.mean() < 0.2
