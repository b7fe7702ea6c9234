"""Pixel-wise uncertainty measures of a softmax output (paper Eq. 5–8).

Each takes probabilities [N,C,H,W] (softmax over dim 1) and returns [N,H,W]. Larger means more
uncertain: every measure is 0 for a one-hot prediction and maximal for the uniform one.
"""

from __future__ import annotations

import math

import torch

from uwl_utils.checks import check_probs

__all__ = ["margin", "max_min_difference", "mean_margin", "entropy", "MEASURES"]


def _top2(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    top = probs.topk(2, dim=1).values
    return top[:, 0], top[:, 1]


def _margin(probs: torch.Tensor) -> torch.Tensor:
    p1, p2 = _top2(probs)
    return 1 - p1 + p2


def _max_min_difference(probs: torch.Tensor) -> torch.Tensor:
    return 1 - probs.amax(1) + probs.amin(1)


def _mean_margin(probs: torch.Tensor) -> torch.Tensor:
    # 1 - sum_c (p_(1) - p_c) / (C-1); with sum_c p_c = 1 this is C (1 - p_(1)) / (C - 1).
    c = probs.shape[1]
    return 1 - (probs.amax(1, keepdim=True) - probs).sum(1) / (c - 1)


def _entropy(probs: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    tiny = torch.finfo(probs.dtype).tiny
    e = -(probs * probs.clamp_min(tiny).log()).sum(1)
    return e / math.log(probs.shape[1]) if normalize else e


def margin(probs: torch.Tensor) -> torch.Tensor:
    """Probability margin M = 1 − p₍₁₎ + p₍₂₎ (Eq. 5), in [0, 1]."""
    check_probs(probs)
    return _margin(probs)


def max_min_difference(probs: torch.Tensor) -> torch.Tensor:
    """Max–min difference D = 1 − p₍₁₎ + p₍C₎ (Eq. 6), in [0, 1]."""
    check_probs(probs)
    return _max_min_difference(probs)


def mean_margin(probs: torch.Tensor) -> torch.Tensor:
    """Mean margin M̄ = 1 − Σ_c (p₍₁₎ − p_c)/(C − 1) (Eq. 7), in [0, 1]; depends on p₍₁₎ only."""
    check_probs(probs)
    return _mean_margin(probs)


def entropy(probs: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Entropy E = −Σ_c p_c log p_c (Eq. 8); divided by log C when ``normalize`` (the paper's code), so in [0, 1]."""
    check_probs(probs)
    return _entropy(probs, normalize)


# Scheme name -> unchecked measure (callers that computed the softmax themselves skip the checks).
MEASURES = {"M": _margin, "D": _max_min_difference, "Mbar": _mean_margin, "E": _entropy}
