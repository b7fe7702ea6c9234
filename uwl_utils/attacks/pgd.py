"""PGD as in the ALMA prox experiments, and its minimal-ε search (docs/attacks.md §PGD, §Minimal-ε PGD).

PGD keeps, per image, the evaluated iterate with the highest share of misclassified pixels (ties go
to the later one); restarts keep the best run. The weighting changes only the loss whose gradient is
followed: tracking and the success test of the search stay unweighted.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from uwl_utils.attacks.base import (
    AttackInfo,
    iterations,
    l2_normalize,
    loss_and_grad,
    make_generator,
    per_image,
    prepare,
    preserves_model,
    project_l2,
    project_linf,
    report,
    success_fraction,
)
from uwl_utils.checks import check_eps
from uwl_utils.losses import Weighting

__all__ = ["pgd", "minimal_pgd", "warn_short_path", "check_norm_eps", "random_start", "NORMS"]

NORMS = ("linf", "l2")


def check_norm_eps(norm: str, eps: float, images: torch.Tensor, name: str = "eps") -> float:
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; use one of {NORMS}")
    # ℓ∞ budgets live in (0, 1]; an ℓ2 budget can reach the norm of the whole image.
    return check_eps(eps, name, upper=1.0 if norm == "linf" else math.sqrt(images[0].numel()))


def random_start(images: torch.Tensor, eps: torch.Tensor, norm: str, gen: torch.Generator) -> torch.Tensor:
    """x + δ with δ uniform in the ℓ∞ ball, or a Gaussian direction scaled to norm ε (ℓ2); clipped to [0, 1]."""
    if norm == "linf":
        delta = (2 * torch.rand(images.shape, generator=gen) - 1).to(images) * eps
    else:
        delta = l2_normalize(torch.randn(images.shape, generator=gen).to(images)) * eps
    return (images + delta).clamp(0, 1)


def _keep_best(
    frac: torch.Tensor, x: torch.Tensor, best_frac: torch.Tensor, best: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, (``frac``, ``x``) where ``frac`` ≥ ``best_frac`` (ties go to the newer), else the best so far."""
    better = frac >= best_frac
    return torch.where(better, frac, best_frac), torch.where(better.view(-1, 1, 1, 1), x, best)


def _pgd_run(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    weighting: Weighting,
    eps: torch.Tensor,
    norm: str,
    steps: int,
    step_size: torch.Tensor,
    x: torch.Tensor,
    progress: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One PGD run from ``x``; returns (best fraction [N], best iterate)."""
    best_frac = torch.zeros(images.shape[0], device=images.device)
    best = images.clone()
    for t in iterations(steps, progress, "PGD"):
        _, grad, logits = loss_and_grad(model, x, labels, weighting, step=(t + 1, steps))
        best_frac, best = _keep_best(success_fraction(logits, labels), x, best_frac, best)
        if norm == "linf":
            x = project_linf(x + step_size * grad.sign(), images, eps)
        else:
            x = project_l2(x + step_size * l2_normalize(grad), images, eps)
    return best_frac, best


def _pgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    weighting: Weighting,
    eps: torch.Tensor,
    norm: str,
    steps: int,
    rel_step: float,
    restarts: int,
    random_init: bool,
    gen: torch.Generator,
    progress: bool,
) -> torch.Tensor:
    best_frac = torch.full((images.shape[0],), -1.0, device=images.device)
    best = images.clone()
    for run in range(restarts):
        start = random_start(images, eps, norm, gen) if (random_init or run > 0) else images
        frac, adv = _pgd_run(model, images, labels, weighting, eps, norm, steps, eps * rel_step, start, progress)
        best_frac, best = _keep_best(frac, adv, best_frac, best)
    return best


def warn_short_path(steps: int, rel_step: float) -> None:
    """Warn when ``steps`` steps of ``rel_step · ε`` cannot travel from the clean image to the ε-ball's edge: such a
    PGD is weaker than its ε says (10 steps of ε/30 reach ε/3). The step is not rescaled silently."""
    if steps * rel_step < 1:
        warnings.warn(
            f"PGD with steps={steps} and rel_step={rel_step:.4g} travels at most {steps * rel_step:.2f} ε from the "
            f"clean image; pass rel_step ≥ 1/steps = {1 / steps:.4g} (or more steps) to let it reach ε",
            UserWarning,
            stacklevel=4,  # the caller of the attack (through its preserves_model wrapper)
        )


@preserves_model
def pgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    eps: float = 8 / 255,
    norm: str = "linf",
    steps: int = 40,
    rel_step: float = 1 / 30,
    restarts: int = 1,
    random_init: bool = False,
    weighting: str | Weighting = "none",
    generator: torch.Generator | int | None = None,
    progress: bool = False,
    info: AttackInfo | None = None,
) -> torch.Tensor:
    """PGD with step ``rel_step · eps`` (ℓ∞: signed gradient; ℓ2: normalised gradient) for ``steps`` iterations.

    Returns, per image, the evaluated iterate with the highest APSR over all ``restarts`` runs. The first
    run starts at the clean image unless ``random_init``; later runs start at a random point of the ball.
    """
    images, labels, weighting = prepare(model, images, labels, weighting)
    eps = check_norm_eps(norm, eps, images)
    if steps < 1 or restarts < 1:
        raise ValueError(f"steps and restarts must be at least 1; got steps={steps}, restarts={restarts}")
    warn_short_path(steps, rel_step)
    adv = _pgd(
        model, images, labels, weighting, per_image(eps, images), norm, steps, rel_step, restarts,
        random_init, make_generator(generator), progress,
    )  # fmt: skip
    report(info, iterations=steps * restarts)
    return adv


@preserves_model
def minimal_pgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    max_eps: float = 1.0,
    norm: str = "linf",
    search_steps: int = 13,
    adv_threshold: float = 0.99,
    steps: int = 40,
    rel_step: float = 1 / 30,
    restarts: int = 1,
    random_init: bool = False,
    weighting: str | Weighting = "none",
    generator: torch.Generator | int | None = None,
    progress: bool = False,
    info: AttackInfo | None = None,
) -> torch.Tensor:
    """Bisection for the smallest ε at which PGD misclassifies ≥ ``adv_threshold`` of the valid pixels.

    Per image: lo = 0, hi = 2·max_ε; each of ``search_steps`` trials runs PGD at ε = (lo + hi)/2 and moves
    hi down on success, lo up otherwise. Returns the adversarial of the smallest successful ε; an image
    that never succeeds comes back unperturbed (as the ALMA prox framework returns it). ``info.eps_found``:
    the ε found per image [N] (NaN where none succeeded).
    """
    images, labels, weighting = prepare(model, images, labels, weighting)
    max_eps = check_norm_eps(norm, max_eps, images, "max_eps")
    if not 0 < adv_threshold <= 1:
        raise ValueError(f"adv_threshold must lie in (0, 1]; got {adv_threshold}")
    warn_short_path(steps, rel_step)
    n = images.shape[0]
    lo = torch.zeros(n, dtype=images.dtype, device=images.device)
    hi = torch.full_like(lo, 2 * max_eps)
    found = torch.zeros(n, dtype=torch.bool, device=images.device)
    best = images.clone()
    gen = make_generator(generator)
    for _ in iterations(search_steps, progress, "minimal PGD"):
        eps = (lo + hi) / 2
        adv = _pgd(
            model, images, labels, weighting, per_image(eps, images), norm, steps, rel_step, restarts,
            random_init, gen, False,
        )  # fmt: skip
        with torch.no_grad():
            ok = success_fraction(model(adv), labels) >= adv_threshold
        best = torch.where(ok.view(-1, 1, 1, 1), adv, best)
        hi = torch.where(ok, eps, hi)
        lo = torch.where(ok, lo, eps)
        found |= ok
    eps_found = torch.where(found, hi, torch.full_like(hi, float("nan")))
    report(info, iterations=search_steps * restarts * steps, eps_found=eps_found)
    return best
