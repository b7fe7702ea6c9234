"""APGD for segmentation (Croce & Hein, ICML 2020, Alg. 1) with SEA's progressive radius (docs/attacks.md §APGD).

APGD is PGD with momentum 0.75 and a step size that starts at 2ε and is halved at checkpoints when the loss
stalls; a halving restarts from the point of highest loss. Everything is per image: step sizes, checkpoint
decisions and best points are tensors over the batch. As in SEA's release (Croce, Singh & Hein, ECCV 2024),
the loss that steers the step size may differ from the attacked one (``track``), and the adversarial returned
is the evaluated iterate with the highest share of misclassified pixels (APSR).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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
from uwl_utils.attacks.pgd import check_norm_eps, random_start
from uwl_utils.losses import Weighting, as_weighting

__all__ = [
    "apgd",
    "apgd_schedule",
    "check_schedule",
    "checkpoint_halves",
    "StepSizeControl",
    "stage_lengths",
    "SEA_SCHEDULE",
]

MOMENTUM = 0.75
SEA_SCHEDULE = ((2.0, 0.3), (1.5, 0.3), (1.0, 0.4))  # (radius / ε, share of the iterations), SEA Sec. 3.2


def checkpoint_halves(
    window: torch.Tensor, best: torch.Tensor, best_at_last: torch.Tensor, halved_last: torch.Tensor, rho: float
) -> torch.Tensor:
    """APGD's checkpoint rule (Croce & Hein 2020, Sec. 3.1): which images halve their step size, [N] bool.

    ``window`` [k+1, N] holds the tracked loss at the last checkpoint and after each of the k iterations
    since. Halve when (1) the loss rose in at most ρ·k of those k steps (``<=`` as in the authors' release), or
    (2) the step was not halved at the last checkpoint and the best loss has not risen since it.
    """
    rises = (window[1:] > window[:-1]).sum(0)
    oscillates = rises <= rho * (window.shape[0] - 1)
    stalled = ~halved_last & (best_at_last >= best)
    return oscillates | stalled


class StepSizeControl:
    """APGD's step-size schedule for ``steps`` iterations, fed one tracked loss [N] per iteration.

    Checkpoints come after p₁ = ⌊0.22·steps⌋ iterations, then after periods shrinking by ⌊0.03·steps⌋ down to
    ⌊0.06·steps⌋ (each at least 1), the period rule of the authors' release.
    """

    def __init__(self, steps: int, initial_loss: torch.Tensor, rho: float = 0.75) -> None:
        self.period = max(int(0.22 * steps), 1)
        self.min_period = max(int(0.06 * steps), 1)
        self.shrink = max(int(0.03 * steps), 1)
        self.rho = rho
        self.window = [initial_loss]
        self.best = initial_loss.clone()
        self.best_at_last = initial_loss.clone()
        self.halved_last = torch.ones_like(initial_loss, dtype=torch.bool)  # rule (2) is off at the first check

    def observe(self, loss: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Record the loss after one more iteration; returns (improved on the best [N], halve now [N])."""
        improved = loss > self.best
        self.best = torch.where(improved, loss, self.best)
        self.window.append(loss)
        if len(self.window) <= self.period:
            return improved, torch.zeros_like(improved)
        halve = checkpoint_halves(torch.stack(self.window), self.best, self.best_at_last, self.halved_last, self.rho)
        self.halved_last, self.best_at_last = halve, self.best.clone()
        self.window = [loss]
        self.period = max(self.period - self.shrink, self.min_period)
        return improved, halve


def stage_lengths(steps: int, schedule: Sequence[tuple[float, float]]) -> list[int]:
    """Iterations per stage: ⌊share·steps⌋ for every stage but the last, which takes the rest (SEA's release)."""
    lengths = [int(share * steps) for _, share in schedule[:-1]]
    return [*lengths, steps - sum(lengths)]


def check_schedule(schedule: Sequence[tuple[float, float]], steps: int) -> None:
    if not schedule or any(len(stage) != 2 for stage in schedule):
        raise ValueError(f"schedule must be a non-empty sequence of (radius factor, share) pairs; got {schedule!r}")
    if any(r <= 0 or s <= 0 for r, s in schedule) or not math.isclose(sum(s for _, s in schedule), 1.0):
        raise ValueError(f"schedule needs positive radius factors and positive shares summing to 1; got {schedule!r}")
    if schedule[-1][0] != 1.0:
        raise ValueError(f"the last stage of the schedule must have radius factor 1 (the ε-ball); got {schedule!r}")
    if min(stage_lengths(steps, schedule)) < 1:
        raise ValueError(f"steps={steps} leaves a stage of {schedule!r} without iterations")


def _step(x: torch.Tensor, grad: torch.Tensor, size: torch.Tensor, norm: str) -> torch.Tensor:
    return x + size * (grad.sign() if norm == "linf" else l2_normalize(grad))


def _apgd_stage(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    weighting: Weighting,
    track: Weighting,
    eps: torch.Tensor,
    norm: str,
    steps: int,
    rho: float,
    x: torch.Tensor,
    progress: bool,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One APGD run of ``steps`` iterations from ``x``; returns (best APSR [N], best iterate, passes used).

    The best iterate is the latest one with the highest APSR; an image whose APSR reaches 1 keeps its first
    such iterate, and the run stops once every image has (the release's early stop, batch-independent here).
    """
    project = project_linf if norm == "linf" else project_l2

    def evaluate(x: torch.Tensor, j: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # evaluation j's gradient drives update j + 1: step context (j + 1, steps); the last one is unused
        step = (min(j + 1, steps), steps)
        loss, grad, logits = loss_and_grad(model, x, labels, weighting, step=step)
        tracked = loss if track == weighting else track.loss(logits, labels, step=step, validate=False)
        return tracked, grad, success_fraction(logits, labels)

    tracked, grad, frac = evaluate(x, 0)
    best_frac, best = frac, x.clone()
    control = StepSizeControl(steps, tracked, rho)
    x_max, grad_max = x.clone(), grad.clone()
    size = 2 * eps.clone()
    x_prev = x
    passes = 1
    for i in iterations(steps, progress, "APGD"):
        if bool((best_frac >= 1).all()):
            break
        z = project(_step(x, grad, size, norm), images, eps)
        a = 1.0 if i == 0 else MOMENTUM
        x, x_prev = project(x + a * (z - x) + (1 - a) * (x - x_prev), images, eps), x
        tracked, grad, frac = evaluate(x, i + 1)
        passes += 1
        better = (frac >= best_frac) & (best_frac < 1)
        best_frac = torch.where(better, frac, best_frac)
        best = torch.where(better.view(-1, 1, 1, 1), x, best)
        improved, halve = control.observe(tracked)
        x_max = torch.where(improved.view(-1, 1, 1, 1), x, x_max)
        grad_max = torch.where(improved.view(-1, 1, 1, 1), grad, grad_max)
        h = halve.view(-1, 1, 1, 1)
        size = torch.where(h, size / 2, size)
        x, grad = torch.where(h, x_max, x), torch.where(h, grad_max, grad)
    return best_frac, best, passes


@preserves_model
def apgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    eps: float = 8 / 255,
    norm: str = "linf",
    steps: int = 100,
    weighting: str | Weighting = "none",
    track: str | Weighting | None = None,
    schedule: Sequence[tuple[float, float]] = ((1.0, 1.0),),
    rho: float = 0.75,
    random_init: bool = False,
    generator: torch.Generator | int | None = None,
    progress: bool = False,
    info: AttackInfo | None = None,
) -> torch.Tensor:
    """APGD maximising the ``weighting`` loss for ``steps`` iterations (ℓ∞: signed, ℓ2: normalised gradient).

    ``track`` is the loss that steers the step size and the restarts (default: the attacked loss; SEA tracks
    the unmasked CE, ``"none"``). ``schedule`` holds (radius factor, share of the iterations) per stage, each
    stage started from the previous stage's best iterate projected into its ball; SEA's is ``SEA_SCHEDULE``
    (2ε, 1.5ε, ε for 30/30/40 %). ``random_init`` starts the first stage at a random point of its ball.
    Returns, per image, the iterate of the last stage with the highest APSR.
    """
    images, labels, weighting = prepare(model, images, labels, weighting)
    track = weighting if track is None else as_weighting(track)
    eps = check_norm_eps(norm, eps, images)
    if steps < 1:
        raise ValueError(f"steps must be at least 1; got {steps}")
    if not 0 < rho <= 1:
        raise ValueError(f"rho must lie in (0, 1]; got {rho}")
    check_schedule(schedule, steps)
    adv, passes = apgd_schedule(
        model, images, labels, weighting, track, eps, norm, steps, schedule, rho,
        random_init, make_generator(generator), progress,
    )  # fmt: skip
    report(info, iterations=passes, params=dict(track=track.scheme, schedule=[list(stage) for stage in schedule]))
    return adv


def apgd_schedule(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    weighting: Weighting,
    track: Weighting,
    eps: float,
    norm: str,
    steps: int,
    schedule: Sequence[tuple[float, float]],
    rho: float,
    random_init: bool,
    gen: torch.Generator,
    progress: bool,
) -> tuple[torch.Tensor, int]:
    """The stages of ``schedule`` on checked inputs; returns (adversarial images, forward+backward passes)."""
    project = project_linf if norm == "linf" else project_l2
    x, passes = images, 0
    for (factor, _), length in zip(schedule, stage_lengths(steps, schedule), strict=True):
        radius = per_image(factor * eps, images)
        x = random_start(images, radius, norm, gen) if (random_init and passes == 0) else project(x, images, radius)
        _, x, used = _apgd_stage(model, images, labels, weighting, track, radius, norm, length, rho, x, progress)
        passes += used
    return x, passes
