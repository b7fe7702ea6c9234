"""ALMA prox: minimal ℓ∞ perturbations for segmentation, with a per-pixel weighting of the penalty.

ALMA prox (Rony, Pesquet & Ben Ayed, "Proximal Splitting Adversarial Attacks for Semantic Segmentation",
CVPR 2023, arXiv:2206.07179; published code: adv_lib ``attacks/segmentation/alma_prox.py``) minimises
‖δ‖∞ subject to x + δ ∈ [0, 1] and at least a fraction ν of the valid pixels being misclassified, with one
constraint per pixel. Each iteration updates the augmented-Lagrangian parameters and takes one
variable-metric forward-backward step (docs/attacks.md §ALMA prox).

Beyond adv_lib:

- the loss summand Γ_z·P(c_z) is multiplied by the weight u_z of a weighting scheme, recomputed from
  the current logits at every iteration (docs/attacks.md §ALMA prox weighting); everything else stays unweighted;
- constraint masking is done per image, so a batch where one image drops no constraint (k = 0) and another
  drops some works (adv_lib breaks there; docs/attacks.md §ALMA prox deviations);
- the ternary search of the prox runs, for each image, the iteration count that image alone would get,
  so a batch gives the same result as its images one at a time (adv_lib shares the count of the image
  with the largest search interval; at batch size 1, the published setting, the two coincide);
- ``penalty_grad`` chooses between adv_lib's derivative of the penalty and the exact one
  (docs/attacks.md §ALMA prox penalty).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.autograd import Function

from uwl_utils.attacks.base import (
    AttackInfo,
    descent_attack,
    effective_weighting,
    iterations,
    predicted_class,
    prepare,
    preserves_model,
    report,
)
from uwl_utils.checks import IGNORE_INDEX
from uwl_utils.losses import Weighting
from uwl_utils.metrics import apsr

__all__ = [
    "alma_prox",
    "penalty",
    "penalty_derivative",
    "dlr",
    "constraint_mask",
    "step_size",
    "prox_linf_box",
    "PENALTY_GRADS",
]

PENALTY_GRADS = ("adv_lib", "exact")


def penalty(y: torch.Tensor, rho: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """ALMA's penalty-Lagrangian P2 with ρ floored at 1 on the negative branch, elementwise (docs/attacks.md
    §ALMA prox penalty).

    P(y) = μy + μρy² + ρ²y³/6 for y ≥ 0 and μy / (1 − max(ρ, 1)·y) for y < 0.
    """
    rho_bar = rho.clamp(min=1)
    positive = mu * y + mu * rho * y**2 + rho**2 * y**3 / 6
    negative = mu * y / (1 - rho_bar * y.clamp(max=0))
    return torch.where(y >= 0, positive, negative)


def penalty_derivative(y: torch.Tensor, rho: torch.Tensor, mu: torch.Tensor, kind: str = "adv_lib") -> torch.Tensor:
    """∂P/∂y (docs/attacks.md §ALMA prox penalty), elementwise.

    - ``"exact"``: μ + 2μρy + ρ²y²/2 for y ≥ 0 and μ / (1 − max(ρ, 1)·y)² for y < 0;
    - ``"adv_lib"``: the published backward, with μy instead of μ on the y ≥ 0 branch (0 at y = 0⁺).
    """
    if kind not in PENALTY_GRADS:
        raise ValueError(f"penalty_grad must be one of {PENALTY_GRADS}; got {kind!r}")
    rho_bar = rho.clamp(min=1)
    lead = mu * y if kind == "adv_lib" else mu
    positive = lead + 2 * mu * rho * y + rho**2 * y**2 / 2
    negative = mu / (1 - rho_bar * y.clamp(max=0)).square()
    return torch.where(y >= 0, positive, negative)


class _Penalty(Function):
    """P(y; ρ, μ) in the forward, ``penalty_derivative(kind)`` in the backward (only y gets a gradient)."""

    @staticmethod
    def forward(ctx: Any, y: torch.Tensor, rho: torch.Tensor, mu: torch.Tensor, kind: str) -> torch.Tensor:
        ctx.save_for_backward(y, rho, mu)
        ctx.kind = kind
        return penalty(y, rho, mu)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        y, rho, mu = ctx.saved_tensors
        return grad_output * penalty_derivative(y, rho, mu, ctx.kind), None, None, None


def dlr(logits: torch.Tensor, labels: torch.Tensor, tolerance: float = 1e-4) -> torch.Tensor:
    """Untargeted difference of logits ratio without the leading minus (docs/attacks.md §ALMA prox constraint), [N,H,W].

    (ℓ_y − max_{j≠y} ℓ_j + κ) / (ℓ_(1) − ℓ_(3) + 1e−8): positive while the pixel is still classified as y.
    ``labels`` must lie in [0, C) (replace the ignore label first); needs C ≥ 3.
    """
    idx = labels.unsqueeze(1)
    class_logit = logits.gather(1, idx).squeeze(1)
    other_logit = logits.scatter(1, idx, float("-inf")).amax(1)
    top3 = logits.topk(3, dim=1).values
    return (class_logit - other_logit + tolerance) / (top3[:, 0] - top3[:, 2] + 1e-8)


def constraint_mask(
    constraints: torch.Tensor, valid: torch.Tensor, k: torch.Tensor, previous: torch.Tensor
) -> torch.Tensor:
    """Constraint masking per image: Γ = Ω ∧ (c ≤ ξ) with ξ the k-th largest constraint in Ω (docs/attacks.md
    §ALMA prox iteration, step 6).

    This drops the constraints strictly above ξ (k − 1 of them barring ties). Images with k = 0 keep
    ``previous``. ``constraints``, ``valid``, ``previous``: [N,H,W]; ``k``: [N] integer, k ≤ |Ω|.
    """
    k_max = int(k.max())
    if k_max == 0:
        return previous
    ranked = constraints.detach().masked_fill(~valid, float("-inf")).flatten(1).topk(k_max, dim=1).values
    xi = ranked.gather(1, (k - 1).clamp(min=0).unsqueeze(1)).view(-1, 1, 1)
    return torch.where((k >= 1).view(-1, 1, 1), valid & (constraints <= xi), previous)


def step_size(i: int, steps: int, t_found: torch.Tensor, lr_init: float, lr_reduction: float) -> torch.Tensor:
    """The per-image step λ of iteration ``i`` (0-based) of ``steps`` (docs/attacks.md §ALMA prox iteration, step 10).

    λ = η₀ until ``t_found`` (the first success, or ⌊N/2⌋), then η₀·T / (i − t_found + T) with
    T = r/(1 − r)·max(N − t_found, 1), which reaches η₀·r at i = N; with r = 1, λ = η₀ throughout.
    """
    if lr_reduction == 1:
        return torch.full_like(t_found, lr_init)
    tangent = lr_reduction / (1 - lr_reduction) * (steps - t_found).clamp(min=1)
    return lr_init * tangent / ((i - t_found).clamp(min=0) + tangent)


def prox_linf_box(
    v: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    lam: torch.Tensor,
    metric: torch.Tensor,
    tol: float = 1e-6,
    section: float = 1 / 3,
) -> torch.Tensor:
    """Prox of λ‖·‖∞ + ι_[lower, upper] in the diagonal metric H, per image (docs/attacks.md §ALMA prox prox step).

    argmin over lower ≤ u ≤ upper of ½ Σ_j H_j (u_j − v_j)² + λ‖u‖∞, for a box that contains 0. The optimum
    is clip(v̄, −t*, t*) with v̄ = clip(v, lower, upper), and t* minimises the convex
    φ(t) = Σ_j H_j (clip(v̄_j, ±t) − v_j)² + 2λt on [0, ‖v̄‖∞]; a ternary search with ``section`` finds it
    to within ``tol``. ``v``, ``lower``, ``upper``, ``metric``: [N, ...]; ``lam``: [N]. Each image runs
    ⌈ln(tol / ‖v̄‖∞) / ln(1 − section)⌉ iterations (none when ‖v̄‖∞ = 0, which returns 0).
    """
    flat_v, h = v.flatten(1), metric.flatten(1)
    v_bar = torch.minimum(torch.maximum(flat_v, lower.flatten(1)), upper.flatten(1))
    lo = torch.zeros(v.shape[0], dtype=v.dtype, device=v.device)
    hi = v_bar.abs().amax(1)
    # Per-image iteration counts; a zero interval needs none (ln 0 is undefined).
    counts = torch.where(
        hi > 0, torch.log(tol / hi.clamp(min=torch.finfo(hi.dtype).tiny)) / math.log(1 - section), 0
    ).ceil()
    n_iterations = int(counts.max().clamp(min=0))
    # φ at both trial points in one pass, in one buffer reused by every iteration ([2, N, D]; the same
    # elementwise operations and row sums as evaluating the two points one after the other)
    work = v_bar.new_empty((2, *v_bar.shape)) if n_iterations else v_bar
    for j in range(n_iterations):
        active = j < counts
        t = torch.stack((lo + section * (hi - lo), lo + (1 - section) * (hi - lo)))  # [2, N]
        bound = t.unsqueeze(-1)
        torch.minimum(torch.maximum(v_bar, -bound, out=work), bound, out=work)  # clip(v̄, ±t)
        phi = work.sub_(flat_v).square_().mul_(h).sum(-1) + 2 * lam * t
        move_lo = phi[0] >= phi[1]
        lo = torch.where(active & move_lo, t[0], lo)
        hi = torch.where(active & ~move_lo, t[1], hi)
    return _clip(v_bar, (lo + hi) / 2).view(v.shape)


def _clip(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """clip(x, −t, t) per row, t: [N]."""
    t = t.unsqueeze(1)
    return torch.minimum(torch.maximum(x, -t), t)


def _check_args(
    steps: int, adv_threshold: float, lr_init: float, lr_reduction: float, check_steps: int, alpha: float,
    alpha_rms: float, scale_min: float, scale_max: float, scale_init: float, scale_gamma: float, penalty_grad: str,
    tau: float, gamma: float, logit_tolerance: float,
) -> None:  # fmt: skip
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer ≥ 1; got {steps!r}")
    if not 0 < adv_threshold <= 1:
        raise ValueError(f"adv_threshold must lie in (0, 1]; got {adv_threshold}")
    if penalty_grad not in PENALTY_GRADS:
        raise ValueError(f"penalty_grad must be one of {PENALTY_GRADS}; got {penalty_grad!r}")
    if lr_init <= 0 or not 0 < lr_reduction <= 1:
        raise ValueError(f"need lr_init > 0 and 0 < lr_reduction ≤ 1; got {lr_init}, {lr_reduction}")
    if not 0 < tau <= 1 or gamma < 1 or logit_tolerance < 0:
        raise ValueError(f"need 0 < tau ≤ 1, gamma ≥ 1 and logit_tolerance ≥ 0; got {tau}, {gamma}, {logit_tolerance}")
    if not isinstance(check_steps, int) or check_steps < 1:
        raise ValueError(f"check_steps must be an integer ≥ 1; got {check_steps!r}")
    if not 0 <= alpha <= 1 or not 0 <= alpha_rms < 1:
        raise ValueError(f"need 0 ≤ alpha ≤ 1 and 0 ≤ alpha_rms < 1; got {alpha}, {alpha_rms}")
    if not 0 < scale_min <= scale_init <= scale_max or not 0 <= scale_gamma < 1:
        raise ValueError(
            "need 0 < scale_min ≤ scale_init ≤ scale_max and 0 ≤ scale_gamma < 1; "
            f"got {scale_min}, {scale_init}, {scale_max}, {scale_gamma}"
        )


@descent_attack
@preserves_model
def alma_prox(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    weighting: str | Weighting = "none",
    steps: int = 500,
    adv_threshold: float = 0.99,
    lr_init: float = 0.001,
    lr_reduction: float = 0.1,
    mu_init: float = 1.0,
    rho_init: float = 0.01,
    check_steps: int = 10,
    tau: float = 0.95,
    gamma: float = 2.0,
    alpha: float = 0.8,
    alpha_rms: float | None = None,
    scale_min: float = 0.1,
    scale_max: float = 1.0,
    scale_init: float | None = 1.0,
    scale_gamma: float = 0.02,
    logit_tolerance: float = 1e-4,
    constraint_masking: bool = True,
    mask_decay: bool = True,
    penalty_grad: str = "adv_lib",
    progress: bool = False,
    info: AttackInfo | None = None,
) -> torch.Tensor:
    """Untargeted ℓ∞ ALMA prox (docs/attacks.md §ALMA prox iteration) with the penalty weighted per pixel by
    ``weighting`` (docs/attacks.md §ALMA prox weighting).

    Each of ``steps`` iterations (one forward and one backward): track the best iterate; adapt the
    constraint scale w; compute the constraints c = w·DLR; mask the hardest ones; double ρ where a
    constraint neither improved by ``tau`` nor was ever met within ``check_steps``; update μ by an EMA of
    P′; take a gradient step on L = Σ_z u_z Γ_z P(c_z; ρ_z, μ_z) (a sum over pixels) with the RMSprop metric
    H and the hyperbolic step size λ; then apply the prox of λ‖·‖∞ + box in H.

    The weights u come from ``weighting.weights`` of the current logits. ALMA prox descends on L, so they are
    detached unless the Weighting says ``detach_weights=False``: through a descent, ∇u would move
    still-correct pixels towards lower uncertainty, back to their class (README, "Reproducing the paper").
    c, the masking, the ρ/μ updates, the success tracking, w and λ stay unweighted. ``penalty_grad``:
    ``"adv_lib"`` (default, the published derivative) or ``"exact"``; it is used both for the δ-gradient
    and the μ update. ``scale_init=None`` starts w at √(scale_min·scale_max); ``alpha_rms=None`` takes
    ``alpha`` (``info.params`` reports the values taken).

    Returns, per image, the successful iterate (APSR ≥ ``adv_threshold`` on the valid pixels) with the
    smallest ‖δ‖∞, or, if none succeeded, the latest iterate with the highest APSR; in [0, 1], shaped
    like ``images``. ``info.eps_found``: that smallest ‖δ‖∞ per image [N] (NaN where none succeeded), as
    :func:`~uwl_utils.attacks.minimal_pgd` reports its ε.
    """
    resolved = {}
    if alpha_rms is None:
        resolved["alpha_rms"] = alpha_rms = alpha
    if scale_init is None:
        resolved["scale_init"] = scale_init = math.sqrt(scale_min * scale_max)
    _check_args(
        steps, adv_threshold, lr_init, lr_reduction, check_steps, alpha, alpha_rms,
        scale_min, scale_max, scale_init, scale_gamma, penalty_grad, tau, gamma, logit_tolerance,
    )  # fmt: skip
    images, labels, weighting = prepare(model, images, labels, effective_weighting(alma_prox, weighting))
    batch, device, dtype = images.shape[0], images.device, images.dtype

    valid = labels != IGNORE_INDEX  # Ω
    labels_0 = labels * valid  # ignore pixels get label 0: their DLR is computed but always masked
    n_valid = valid.flatten(1).sum(1)
    drop = (1 - adv_threshold) * n_valid.double()  # (1 − ν) n constraints may stay violated
    k_full = torch.floor(drop).long()  # k₀ = ⌊(1 − ν) n⌋
    delta = torch.zeros_like(images)
    sq_avg = torch.zeros_like(images)
    lower, upper = -images, 1 - images
    mu = torch.full(labels.shape, mu_init, dtype=torch.float64, device=device)
    rho = torch.full(labels.shape, rho_init, dtype=torch.float64, device=device)
    w = torch.full((batch,), scale_init, dtype=dtype, device=device)

    best_dist = torch.full((batch,), float("inf"), dtype=dtype, device=device)
    best_frac = torch.zeros(batch, dtype=dtype, device=device)
    found = torch.zeros(batch, dtype=torch.bool, device=device)
    best_adv = images.clone()
    seen = torch.zeros_like(valid)
    t_found = torch.full((batch,), float(steps // 2), dtype=dtype, device=device)
    mask = valid  # Γ
    prev_constraints = torch.zeros(labels.shape, dtype=dtype, device=device)

    for i in iterations(steps, progress, "ALMA prox"):
        x_adv = (images + delta).requires_grad_(True)
        logits = model(x_adv)
        if logits.shape[1] < 3:
            raise ValueError(f"ALMA prox's DLR constraint needs at least 3 classes; got {logits.shape[1]}")

        with torch.no_grad():  # step 3: bookkeeping on the current iterate, unweighted
            dist = delta.flatten(1).abs().amax(1)
            pred = predicted_class(logits)  # = argmax(1), faster on CPU
            seen |= pred != labels
            frac = apsr(pred, labels).nan_to_num(0.0).to(dtype)  # 0 when n = 0
            is_adv = frac >= adv_threshold
            better = (is_adv & (dist <= best_dist)) | (~found & (frac >= best_frac.clamp(max=adv_threshold)))
            if i < steps // 2:
                t_found = torch.where(~found & is_adv, float(i), t_found)
            found |= is_adv
            best_dist = torch.where(better, dist, best_dist)
            best_frac = torch.where(better, frac, best_frac)
            best_adv = torch.where(better.view(-1, 1, 1, 1), x_adv, best_adv)
            # step 4: the constraint scale shrinks while the image is adversarial
            w = torch.where(is_adv, w / (1 + scale_gamma), w / (1 - scale_gamma)).clamp(scale_min, scale_max)

        constraints = w.view(-1, 1, 1) * dlr(logits, labels_0, logit_tolerance)  # step 5
        c = constraints.detach()

        if constraint_masking:  # step 6
            # k_i = ⌊(1 − ν)·n·i/(N − 1)⌋ (adv_lib truncates the product, not ⌊(1 − ν)n⌋·i/(N − 1))
            k = torch.floor(drop * (i / max(steps - 1, 1))).long() if mask_decay else k_full
            mask = constraint_mask(c, valid, k, mask)

        if i == 0:  # step 7: ρ grows where a constraint neither improved nor was met in the last period
            prev_constraints = c
        elif (i + 1) % check_steps == 0:
            improved = c * mask <= tau * prev_constraints
            rho = torch.where(seen | improved, rho, gamma * rho)
            prev_constraints = c
            seen = torch.zeros_like(seen)

        if i > 0:  # step 8: μ ← clip(αμ + (1 − α) Γ P′(c), 1e−12, 1), with the unweighted P′
            new_mu = mask * penalty_derivative(c.double(), rho, mu, penalty_grad)
            mu = mu.lerp(new_mu, 1 - alpha).clamp(1e-12, 1)

        # the weighted loss L = Σ_z u_z Γ_z P(c_z), summed over pixels and images (docs/attacks.md §ALMA prox weighting)
        u = weighting.weights(logits, labels, step=(i + 1, steps), validate=False)
        loss = (u * mask * _Penalty.apply(constraints.double(), rho, mu, penalty_grad)).sum()
        (grad,) = torch.autograd.grad(loss, x_adv)

        with torch.no_grad():
            lam = step_size(i, steps, t_found, lr_init, lr_reduction)  # step 10
            sq_avg = alpha_rms * sq_avg + (1 - alpha_rms) * grad.square()  # step 11: RMSprop metric
            metric = (sq_avg / (1 - alpha_rms ** (i + 1))).sqrt().clamp(min=1e-8)
            v = delta - lam.view(-1, 1, 1, 1) * grad / metric  # step 12: forward step
            delta = prox_linf_box(v, lower, upper, lam, metric)  # step 13: backward (prox) step

    eps_found = torch.where(found, best_dist, torch.full_like(best_dist, float("nan")))
    report(info, iterations=steps, params=resolved, eps_found=eps_found)
    return best_adv
