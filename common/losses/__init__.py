"""Losses shared by the methods. Each owner adds one re-export line below.

- ``pixel``: L1 / L2 with optional mask (core).
- ``perceptual``: VGG16 perceptual loss, VGG features + Gram matrix (core).
- ``dt``, ``wgan`` (CNP), ``chamfer``, ``spectrum`` (stippling), ``clip_loss`` (sketching).
"""

from common.losses.chamfer import chamfer_distance, nearest_distances  # noqa: F401
from common.losses.clip_loss import CLIPConvLoss, augment_pairs, load_clip_rn101  # noqa: F401
from common.losses.dt import distance_transform, dt_loss  # noqa: F401
from common.losses.perceptual import VGG16PerceptualLoss, VGGFeatures, gram_matrix  # noqa: F401
from common.losses.pixel import l1_loss, l2_loss  # noqa: F401
from common.losses.spectrum import anisotropy, point_periodogram, raps, spectrum_loss  # noqa: F401
from common.losses.wgan import gradient_penalty  # noqa: F401
