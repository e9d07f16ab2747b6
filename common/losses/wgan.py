"""WGAN-GP gradient penalty (Gulrajani et al., NeurIPS 2017), used by the CNP painter's critic.

``L_GP = lambda * E_xhat[(||grad_xhat D(xhat)||_2 - 1)^2]`` with ``xhat = eps * real + (1 - eps) * fake``,
``eps ~ U(0, 1)`` per sample.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 10.0,
) -> torch.Tensor:
    """Gradient penalty of a WGAN critic on random interpolates of real and fake samples.

    Args:
        critic: maps (B, C, H, W) to scores (B,) or (B, 1).
        real, fake: (B, C, H, W) samples, same shape; ``fake`` is detached here.
        weight: lambda (10 in WGAN-GP and CNP).

    Returns:
        scalar tensor ``weight * mean((||grad D(xhat)|| - 1)^2)``, differentiable in the critic's
        parameters (``create_graph=True``).

    Raises:
        ValueError: if ``real`` and ``fake`` differ in shape.
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    xhat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    score = critic(xhat)
    (grad,) = torch.autograd.grad(score.sum(), xhat, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)
    return weight * (norm - 1).pow(2).mean()
