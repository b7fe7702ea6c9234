"""Pixel-wise measures of a softmax output (paper Eq. 5–8) and the uncertainty U of the weighting (Eq. 9).

See docs/weightings.md §Uncertainty measures.

Each function takes probabilities [N,C,H,W] (softmax over dim 1) and returns [N,H,W]; p₍₁₎ ≥ p₍₂₎ ≥ … ≥ p₍C₎
are the sorted probabilities of a pixel.

- The margins say how *certain* a pixel is: :func:`margin` M = p₍₁₎ − p₍₂₎ (Eq. 5), :func:`max_min_difference`
  D = p₍₁₎ − p₍C₎ (Eq. 6), :func:`mean_margin` M̄ = Σ_c (p₍₁₎ − p_c)/(C − 1) (Eq. 7); 1 for a one-hot
  prediction, 0 for the uniform one. :func:`entropy` E (Eq. 8) is an uncertainty already.
- :func:`uncertainty` gives the argument U of the weight exp(U) (Eq. 9): U = 1 − M, 1 − D, 1 − M̄ or E, 0 for
  a one-hot prediction and 1 (E normalised) for the uniform one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from uwl_utils.checks import check_probs
from uwl_utils.prediction import first_max_mask

__all__ = ["margin", "max_min_difference", "mean_margin", "entropy", "uncertainty", "UNCERTAINTIES"]


# The measures select p₍₁₎, p₍₂₎, p₍C₎ with detached masks and a weighted sum over classes: the same values
# and (away from ties) the same gradients as topk / amax / amin, at a fraction of their cost on the CPU.


def _margin(probs: torch.Tensor) -> torch.Tensor:
    first = first_max_mask(probs)
    second = first_max_mask(probs.masked_fill(first, float("-inf")))  # p₍₂₎ = p₍₁₎ on a tie at the top
    return (probs * (first.to(probs.dtype) - second.to(probs.dtype))).sum(1)


def _max_min_difference(probs: torch.Tensor) -> torch.Tensor:
    return (probs * (first_max_mask(probs).to(probs.dtype) - first_max_mask(-probs).to(probs.dtype))).sum(1)


def _mean_margin(probs: torch.Tensor) -> torch.Tensor:
    # sum_c (p_(1) - p_c) / (C-1) = (C p_(1) - sum_c p_c) / (C-1).
    c = probs.shape[1]
    top = (probs * first_max_mask(probs)).sum(1)
    return (c * top - probs.sum(1)) / (c - 1)


def _entropy(probs: torch.Tensor, normalize: bool = True, log_probs: torch.Tensor | None = None) -> torch.Tensor:
    """With ``log_probs`` (= log_softmax of the logits that gave ``probs``) no logarithm is taken here."""
    if log_probs is None:
        log_probs = probs.clamp_min(torch.finfo(probs.dtype).tiny).log()
    e = -(probs * log_probs).sum(1)
    return e / math.log(probs.shape[1]) if normalize else e


def margin(probs: torch.Tensor) -> torch.Tensor:
    """Probability margin M = p₍₁₎ − p₍₂₎ (Eq. 5), in [0, 1]: 1 for a one-hot prediction, 0 for a tie at the top."""
    check_probs(probs)
    return _margin(probs)


def max_min_difference(probs: torch.Tensor) -> torch.Tensor:
    """Max–min difference D = p₍₁₎ − p₍C₎ (Eq. 6), in [0, 1]: 1 for a one-hot prediction, 0 for the uniform one."""
    check_probs(probs)
    return _max_min_difference(probs)


def mean_margin(probs: torch.Tensor) -> torch.Tensor:
    """Mean margin M̄ = Σ_c (p₍₁₎ − p_c)/(C − 1) (Eq. 7), in [0, 1]; depends on p₍₁₎ only."""
    check_probs(probs)
    return _mean_margin(probs)


def entropy(probs: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Entropy E = −Σ_c p_c log p_c (Eq. 8); divided by log C when ``normalize`` (the paper's code), so in [0, 1]."""
    check_probs(probs)
    return _entropy(probs, normalize)


# Scheme name -> unchecked U (callers that computed the softmax themselves skip the checks). E takes the
# optional ``normalize`` and ``log_probs`` of _entropy.
UNCERTAINTIES: dict[str, Callable[..., torch.Tensor]] = {
    "M": lambda probs: 1 - _margin(probs),
    "D": lambda probs: 1 - _max_min_difference(probs),
    "Mbar": lambda probs: 1 - _mean_margin(probs),
    "E": _entropy,
}


def uncertainty(probs: torch.Tensor, measure: str, normalize_entropy: bool = True) -> torch.Tensor:
    """The uncertainty U that weights a pixel by exp(U) (Eq. 9): 1 − M, 1 − D, 1 − M̄ or E for ``measure``
    ``"M"``, ``"D"``, ``"Mbar"``, ``"E"`` (E divided by log C when ``normalize_entropy``)."""
    if measure not in UNCERTAINTIES:
        raise ValueError(f"unknown uncertainty measure {measure!r}; use one of {tuple(UNCERTAINTIES)}")
    check_probs(probs)
    if measure == "E":
        return _entropy(probs, normalize_entropy)
    return UNCERTAINTIES[measure](probs)
