"""FGSM (paper Eq. 2) and I-FGSM (Eq. 3) with a per-pixel weighting scheme."""

from __future__ import annotations

import math

import torch
from torch import nn

from uwl_utils.attacks.base import (
    AttackInfo,
    iterations,
    loss_and_grad,
    per_image,
    prepare,
    preserves_model,
    project_linf,
    report,
)
from uwl_utils.checks import check_eps
from uwl_utils.losses import Weighting

__all__ = ["fgsm", "ifgsm", "ifgsm_steps", "resolve_steps"]


def ifgsm_steps(eps: float) -> int:
    """The paper's number of I-FGSM iterations, n = min(ε + 4, ⌊1.25 ε⌋) with ε in 0–255 units (at least 1)."""
    eps255 = round(eps * 255, 6)
    return max(1, min(math.floor(eps255 + 4), math.floor(1.25 * eps255)))


def resolve_steps(steps: int | None, eps: float) -> tuple[int, dict[str, int]]:
    """(step count, the values resolved from defaults): ``steps``, or :func:`ifgsm_steps` of ``eps`` for None."""
    resolved = {} if steps is not None else {"steps": ifgsm_steps(eps)}
    count = int(resolved.get("steps", steps))
    if count < 1:
        raise ValueError(f"steps must be at least 1; got {count}")
    return count, resolved


@preserves_model
def fgsm(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    eps: float = 8 / 255,
    weighting: str | Weighting = "none",
    info: AttackInfo | None = None,
) -> torch.Tensor:
    """One signed-gradient step of size ``eps`` on the weighted loss (Eq. 2), clipped into [0, 1]."""
    eps = check_eps(eps)
    images, labels, weighting = prepare(model, images, labels, weighting)
    _, grad, _ = loss_and_grad(model, images, labels, weighting, step=(1, 1))
    report(info, iterations=1)
    return (images + eps * grad.sign()).clamp(0, 1)


@preserves_model
def ifgsm(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    eps: float = 8 / 255,
    alpha: float = 1 / 255,
    steps: int | None = None,
    weighting: str | Weighting = "none",
    progress: bool = False,
    info: AttackInfo | None = None,
) -> torch.Tensor:
    """Iterative FGSM (Eq. 3): ``steps`` signed steps of size ``alpha``, each projected into the ℓ∞ ball and [0, 1].

    ``steps=None`` takes the paper's n = min(ε+4, ⌊1.25ε⌋) (ε in 0–255 units). The weights are recomputed
    from the current logits at every step; ``info.params["steps"]`` reports the count behind ``steps=None``.
    """
    eps, alpha = check_eps(eps), check_eps(alpha, "alpha")
    steps, resolved = resolve_steps(steps, eps)
    images, labels, weighting = prepare(model, images, labels, weighting)
    eps_t = per_image(eps, images)
    x = images
    for t in iterations(steps, progress, "I-FGSM"):
        _, grad, _ = loss_and_grad(model, x, labels, weighting, step=(t + 1, steps))
        x = project_linf(x + alpha * grad.sign(), images, eps_t)
    report(info, iterations=steps, params=resolved)
    return x
