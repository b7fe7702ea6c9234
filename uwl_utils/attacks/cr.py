"""PGD of the CR framework with certified-radius weights, or a paper scheme in their place.

The CR attack (arXiv:2304.02693, randomizedheap/CR_Attack; docs/attacks.md §CR-PGD) weights each pixel's
cross-entropy by how robust the pixel is under randomized smoothing: pixels with a small certified radius
get a weight near 1, robust pixels a weight near 0. The paper replaces these weights by its uncertainty
weights (docs/attacks.md §CR-PGD swap) and keeps the rest of the framework; ``cr_pgd`` runs both.
"""

from __future__ import annotations

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
)
from uwl_utils.attacks.pgd import check_norm_eps
from uwl_utils.losses import Step, Weighting, pixel_cross_entropy

__all__ = ["cr_pgd", "certified_radius", "cr_weights", "smoothed_probs", "DEFAULT_EPS"]

# The CR framework's budgets in [0,1] pixel units (docs/attacks.md §CR-PGD steps).
DEFAULT_EPS = {"l2": 1.0, "linf": 0.004}
P_CLIP = (1e-8, 0.999998)  # p_A is clipped before Φ⁻¹, so the radius lies in [0, Φ⁻¹(0.999998) ≈ 4.611]


def certified_radius(mean_probs: torch.Tensor) -> torch.Tensor:
    """Per-pixel radius CR = max(0, Φ⁻¹(p_A)) [N,H,W] of smoothed probabilities [N,C,H,W] (docs/attacks.md
    §CR-PGD radius).

    p_A is the top class of the smoothed softmax, whatever the label, clipped to [1e-8, 0.999998]. As in the
    published code the radius is in units of σ (Cohen's σ·Φ⁻¹(p_A) without the σ) and has no p_B term. It is
    computed in the input's dtype: in float32, as there, the upper clip gives Φ⁻¹ ≈ 4.609 (4.611 in float64).
    """
    p_a = mean_probs.amax(1).clamp(*P_CLIP)
    return torch.special.ndtri(p_a).clamp_min(0)


def cr_weights(radius: torch.Tensor, a: float = 2.0, b: float = 4.0) -> torch.Tensor:
    """w = 1 / (1 + exp(a·CR − b)) = sigmoid(b − a·CR): 0.982 at CR = 0, 0.5 at CR = b/a (docs/attacks.md
    §CR-PGD weights)."""
    return torch.sigmoid(b - a * radius)


@torch.no_grad()
def smoothed_probs(
    model: nn.Module,
    x: torch.Tensor,
    n_samples: int = 8,
    sigma: float = 0.001,
    sample_batch: int = 8,
    generator: torch.Generator | int | None = None,
) -> torch.Tensor:
    """Soft randomized smoothing: the softmax [N,C,H,W] averaged over ``n_samples`` copies (docs/attacks.md
    §CR-PGD radius).

    Each copy is x + N(0, σ²I) clipped to [0, 1]. The copies run in forwards of ``sample_batch`` copies of
    every image of the batch (``sample_batch``·N images per forward); no gradient is kept.
    """
    gen = make_generator(generator)
    total = None
    for start in range(0, n_samples, sample_batch):
        k = min(sample_batch, n_samples - start)
        # in place: the noise becomes the copies (x + σ·noise, clipped) without further allocations
        copies = torch.randn((k, *x.shape), generator=gen).to(x).mul_(sigma).add_(x).clamp_(0, 1).flatten(0, 1)
        probs = model(copies).softmax(1).unflatten(0, (k, x.shape[0])).sum(0)
        total = probs if total is None else total.add_(probs)
    return total.div_(n_samples)


class _HeldWeights:
    """Constant per-pixel weights with :class:`~uwl_utils.losses.Weighting`'s ``loss``: (1/(H·W)) Σ w·CE.

    The CR weights are computed without gradient and held between refreshes (docs/attacks.md §CR-PGD weights),
    so they stand in for a scheme inside :func:`~uwl_utils.attacks.base.loss_and_grad`.
    """

    def __init__(self, weights: torch.Tensor) -> None:
        self.weights = weights

    def loss(
        self, logits: torch.Tensor, labels: torch.Tensor, *, step: Step | None = None, validate: bool = False
    ) -> torch.Tensor:
        h, w = logits.shape[-2:]
        return (self.weights * pixel_cross_entropy(logits, labels)).sum((1, 2)) / (h * w)


@preserves_model
def cr_pgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    norm: str = "l2",
    eps: float | None = None,
    steps: int = 50,
    step_size: float | None = None,
    weighting: str | Weighting = "CR",
    n_samples: int = 8,
    sigma: float = 0.001,
    sample_batch: int = 8,
    refresh: int = 5,
    a: float = 2.0,
    b: float = 4.0,
    faithful: bool = False,
    generator: torch.Generator | int | None = None,
    progress: bool = False,
    info: AttackInfo | None = None,
) -> torch.Tensor:
    """The CR framework's PGD (docs/attacks.md §CR-PGD steps) on the CR-weighted or a paper-weighted cross-entropy.

    From the clean image x₀, ``steps`` times: x ← x + α·g/‖g‖₂ (ℓ2) or x + α·sign(g) (ℓ∞) with g the input
    gradient of L(x) = (1/(H·W)) Σ_i w_i·CE_i (ground truth, 255 ignored); then the projection into the ε-ball
    (ℓ2: rescale δ; ℓ∞: clip δ) and the clamp to [0, 1]. Returns the last iterate, not the best one.

    - ``eps``: None takes the framework's budget, 1.0 for ℓ2 and 0.004 (≈ 1/255) for ℓ∞.
    - ``step_size``: None takes the framework's α = 2.5·ε/steps (ε/20 at 50 steps).
    - ``weighting="CR"``: w_i = sigmoid(b − a·CR_i) (:func:`cr_weights`, :func:`certified_radius`) from
      :func:`smoothed_probs` of the current iterate with ``n_samples``, ``sigma``, ``sample_batch``; computed
      without gradient at t = 0, ``refresh``, 2·``refresh``, … and held in between (docs/attacks.md §CR-PGD weights).
      ``generator`` seeds the smoothing noise.
    - any other scheme (a name of :mod:`uwl_utils.losses` or a :class:`~uwl_utils.losses.Weighting`): its
      weights from the current logits at every step, the rest unchanged (the paper's swap, docs/attacks.md
      §CR-PGD swap).
    - ``faithful=True`` reproduces the published code's missing ℓ∞ projection: only the [0, 1] clamp, so
      ‖δ‖∞ can reach steps·α = 2.5·ε. It changes nothing for ℓ2. The default projects correctly.

    ``info.params`` reports the ``eps`` and ``step_size`` taken for None.
    """
    use_cr = (weighting if isinstance(weighting, str) else weighting.scheme) == "CR"
    images, labels, scheme = prepare(model, images, labels, "none" if use_cr else weighting)
    resolved = {}
    if eps is None:
        resolved["eps"] = eps = DEFAULT_EPS.get(norm, 1.0)
    eps = check_norm_eps(norm, eps, images)
    if steps < 1 or refresh < 1 or n_samples < 1 or sample_batch < 1:
        raise ValueError(
            "steps, refresh, n_samples and sample_batch must be at least 1; "
            f"got steps={steps}, refresh={refresh}, n_samples={n_samples}, sample_batch={sample_batch}"
        )
    if step_size is None:
        resolved["step_size"] = step_size = 2.5 * eps / steps
    if not step_size > 0 or not sigma > 0:
        raise ValueError(f"step_size and sigma must be positive; got step_size={step_size}, sigma={sigma}")
    gen = make_generator(generator) if use_cr else None
    eps_t = per_image(eps, images)
    x = images
    for t in iterations(steps, progress, "CR-PGD"):
        if use_cr and t % refresh == 0:
            radius = certified_radius(smoothed_probs(model, x, n_samples, sigma, sample_batch, gen))
            scheme = _HeldWeights(cr_weights(radius, a, b))
        _, grad, _ = loss_and_grad(model, x, labels, scheme, step=(t + 1, steps))
        if norm == "l2":
            x = project_l2(x + step_size * l2_normalize(grad), images, eps_t)
        elif faithful:
            x = (x + step_size * grad.sign()).clamp(0, 1)
        else:
            x = project_linf(x + step_size * grad.sign(), images, eps_t)
    report(info, iterations=steps, params=resolved)
    return x
