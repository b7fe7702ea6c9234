"""Uniform random noise of an attack's size: the baseline that tells a real attack gain from mere noise."""

from __future__ import annotations

import torch
from torch import nn

from uwl_utils.attacks.base import make_generator, prepare, preserves_model
from uwl_utils.checks import check_eps
from uwl_utils.losses import Weighting

__all__ = ["uniform_noise"]


@preserves_model
def uniform_noise(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    eps: float = 8 / 255,
    sign: bool = True,
    weighting: str | Weighting = "none",
    generator: torch.Generator | int | None = 0,
) -> torch.Tensor:
    """Add random noise in the ℓ∞ ball of radius ``eps``: ±ε per entry (``sign=True``) or uniform in [−ε, ε].

    Same signature as the attacks so that the experiment runner can treat it as one; ``labels`` and
    ``weighting`` are only checked, like an attack's, and ``model`` only probed once for its output's shape.
    Seeded by ``generator`` (drawn on the CPU, so the same on every device).
    """
    eps = check_eps(eps)
    images, _, _ = prepare(model, images, labels, weighting)
    gen = make_generator(generator)
    u = torch.rand(images.shape, generator=gen).to(images.device, images.dtype)
    noise = torch.where(u < 0.5, -1.0, 1.0) if sign else 2 * u - 1
    return (images + eps * noise).clamp(0, 1)
