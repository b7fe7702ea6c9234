"""I-FGSM restricted to a subset of pixels: the paper's sparse-pixel attack (docs/attacks.md §Sparse I-FGSM).

The paper compares it with the EOT patch (:mod:`uwl_utils.attacks.patch`) at the same number of pixels
(Fig. 7). The threat models differ: the patch is universal, contiguous and unbounded in value; this attack
is per image, scattered and ε-bounded, and uses the labels.
"""

from __future__ import annotations

import torch
from torch import nn

from uwl_utils.attacks.base import (
    AttackInfo,
    iterations,
    loss_and_grad,
    make_generator,
    per_image,
    prepare,
    preserves_model,
    project_linf,
    report,
)
from uwl_utils.attacks.fgsm import resolve_steps
from uwl_utils.checks import IGNORE_INDEX, check_eps
from uwl_utils.losses import Weighting
from uwl_utils.uncertainty import UNCERTAINTIES

__all__ = ["sparse_ifgsm", "select_pixels", "pixel_budget", "SELECTIONS"]

SELECTIONS = ("random", "uncertainty")


def pixel_budget(height: int, width: int, n_pixels: int | None = None, fraction: float | None = None) -> int:
    """The number of pixels to perturb per image: ``n_pixels``, or round(``fraction``·H·W); exactly one of them."""
    if (n_pixels is None) == (fraction is None):
        raise ValueError("give exactly one of n_pixels and fraction")
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must lie in (0, 1]; got {fraction}")
        n_pixels = round(fraction * height * width)
    if isinstance(n_pixels, bool) or int(n_pixels) != n_pixels:
        raise ValueError(f"n_pixels must be an integer; got {n_pixels!r}")
    if not 0 < n_pixels <= height * width:
        raise ValueError(f"the pixel budget must lie in [1, H·W = {height * width}]; got {n_pixels}")
    return int(n_pixels)


def select_pixels(
    labels: torch.Tensor,
    *,
    n_pixels: int | None = None,
    fraction: float | None = None,
    selection: str = "random",
    probs: torch.Tensor | None = None,
    measure: str = "E",
    generator: torch.Generator | int | None = 0,
) -> torch.Tensor:
    """Boolean mask [N,H,W] of the pixels to perturb: per image the budget's top-scoring valid pixels.

    Only valid pixels (label ≠ 255) are chosen; an image with fewer valid pixels than the budget gets all of
    them. ``selection``:

    - ``"random"``: a uniform random subset of the valid pixels. As in the paper's code, one random score field [H,W]
      is drawn from ``generator`` per call and shared by every image (only the ignore mask differs), so an
      image's pixels do not depend on its batch or its position in it; an int ``generator`` is a seed, the
      same field every call (the paper's code re-seeds with 0 and draws |N(0,1)|, also a uniform ranking);
    - ``"uncertainty"``: the valid pixels of highest uncertainty ``measure`` (``"M"``, ``"D"``, ``"Mbar"``,
      ``"E"``; Eq. 5–8) of ``probs`` [N,C,H,W], the softmax of the clean prediction.
    """
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}; use one of {SELECTIONS}")
    n, h, w = labels.shape
    k = pixel_budget(h, w, n_pixels, fraction)
    if selection == "random":
        scores = torch.rand((1, h * w), generator=make_generator(generator)).to(labels.device).expand(n, -1)
    else:
        if measure not in UNCERTAINTIES:
            raise ValueError(f"unknown uncertainty measure {measure!r}; use one of {tuple(UNCERTAINTIES)}")
        if probs is None or probs.shape[0] != n or probs.shape[2:] != labels.shape[1:]:
            raise ValueError("selection='uncertainty' needs probs [N,C,H,W], the clean softmax, matching the labels")
        scores = UNCERTAINTIES[measure](probs.detach()).flatten(1)
    valid = (labels != IGNORE_INDEX).flatten(1)
    scores = scores.masked_fill(~valid, float("-inf"))
    mask = torch.zeros_like(valid).scatter_(1, scores.topk(k, dim=1).indices, True)
    return (mask & valid).view(n, h, w)


@preserves_model
def sparse_ifgsm(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    n_pixels: int | None = None,
    fraction: float | None = None,
    selection: str = "random",
    eps: float = 16 / 255,
    alpha: float = 1 / 255,
    steps: int | None = None,
    weighting: str | Weighting = "L0",
    measure: str = "E",
    generator: torch.Generator | int | None = 0,
    progress: bool = False,
    info: AttackInfo | None = None,
) -> torch.Tensor:
    """I-FGSM (Eq. 3) that perturbs only the pixels of :func:`select_pixels`, all three channels of each.

    The loss is the weighted cross-entropy over all pixels (default L0, Eq. 10, as the paper's code); each signed step
    of size ``alpha`` is zeroed outside the chosen pixels, then x is projected into the ℓ∞ ball of radius
    ``eps`` and into [0, 1] (the paper's code skips the [0, 1] clamp). ``steps=None`` takes the paper's
    n = min(ε+4, ⌊1.25ε⌋), 20 at ε = 16/255. Exactly one of ``n_pixels`` (the patch's pixel count, e.g.
    300·600 on 1024×2048) and ``fraction`` (of H·W) sets the budget. ``selection="uncertainty"`` chooses by the
    clean prediction's ``measure``; ``generator`` seeds the random selection (default 0, as the paper's code: the
    same pixels on every call; None draws a seed from torch's global RNG).
    """
    eps, alpha = check_eps(eps), check_eps(alpha, "alpha")
    steps, resolved = resolve_steps(steps, eps)
    images, labels, weighting = prepare(model, images, labels, weighting)
    probs = None
    if selection == "uncertainty":
        with torch.no_grad():
            probs = model(images).softmax(1)
    mask = select_pixels(
        labels, n_pixels=n_pixels, fraction=fraction, selection=selection, probs=probs, measure=measure,
        generator=generator,
    ).unsqueeze(1).to(images.dtype)  # fmt: skip
    eps_t = per_image(eps, images)
    x = images
    for t in iterations(steps, progress, "sparse I-FGSM"):
        _, grad, _ = loss_and_grad(model, x, labels, weighting, step=(t + 1, steps))
        x = project_linf(x + alpha * grad.sign() * mask, images, eps_t)
    report(info, iterations=steps, params=resolved)
    return x
