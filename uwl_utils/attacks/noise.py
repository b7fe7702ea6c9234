"""Uniform random noise of an attack's size: the baseline that tells a real attack gain from mere noise."""

from __future__ import annotations

import torch
from torch import nn

from uwl_utils.attacks.base import AttackInfo, make_generator, prepare, preserves_model, report
from uwl_utils.checks import check_eps

__all__ = ["uniform_noise"]


@preserves_model
def uniform_noise(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    eps: float = 8 / 255,
    sign: bool = True,
    generator: torch.Generator | int | None = 0,
    info: AttackInfo | None = None,
) -> torch.Tensor:
    """Add random noise in the ℓ∞ ball of radius ``eps``: ±ε per entry (``sign=True``) or uniform in [−ε, ε].

    The attack contract without a weighting, so that the experiment runner can treat it as an attack; ``labels``
    are only checked, like an attack's, and ``model`` only probed once for its output's shape. Seeded by
    ``generator`` (drawn on the CPU for the whole batch, so the same on every device).
    """
    eps = check_eps(eps)
    images, _, _ = prepare(model, images, labels)
    gen = make_generator(generator)
    u = torch.rand(images.shape, generator=gen).to(images.device, images.dtype)
    noise = torch.where(u < 0.5, -1.0, 1.0) if sign else 2 * u - 1
    report(info, iterations=0)
    return (images + eps * noise).clamp(0, 1)
