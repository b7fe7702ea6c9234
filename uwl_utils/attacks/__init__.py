"""Attacks on segmentation models with pluggable per-pixel weighting, and their registry.

Every attack is a plain function ``attack(model, images, labels=None, *, <ε>, weighting=..., ..., info=None)``
on un-normalised RGB images in [0, 1] that returns only the adversarial images, shaped like ``images`` and
inside [0, 1] and the attack's ε-ball. Extras (the ε found, the labels to score against, the iterations used,
parameter values resolved from defaults) go into the :class:`~uwl_utils.attacks.base.AttackInfo` the caller
passes as ``info``. :data:`ATTACKS` says, per attack, what it takes, so that a caller (the experiment runner,
the contract test) treats all of them alike.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from uwl_utils.attacks.alma_prox import alma_prox
from uwl_utils.attacks.apgd import apgd
from uwl_utils.attacks.base import AttackInfo
from uwl_utils.attacks.cr import cr_pgd
from uwl_utils.attacks.fgsm import fgsm, ifgsm, ifgsm_steps
from uwl_utils.attacks.noise import uniform_noise
from uwl_utils.attacks.patch import apply_patch, patch_eot, train_patch
from uwl_utils.attacks.pgd import minimal_pgd, pgd
from uwl_utils.attacks.sea import sea
from uwl_utils.attacks.sparse import sparse_ifgsm
from uwl_utils.losses import Weighting, as_weighting

__all__ = [
    "ATTACKS",
    "AttackSpec",
    "AttackInfo",
    "fgsm",
    "ifgsm",
    "ifgsm_steps",
    "pgd",
    "minimal_pgd",
    "apgd",
    "sea",
    "alma_prox",
    "cr_pgd",
    "sparse_ifgsm",
    "patch_eot",
    "train_patch",
    "apply_patch",
    "uniform_noise",
]


@dataclass(frozen=True)
class AttackSpec:
    """What a caller needs to know to run an attack without looking at its signature.

    - ``norm``: the norm of the ball the result lies in ("linf", "l2"); for an attack with a ``norm``
      parameter, that parameter's default. None: no ball (the patch is unbounded in value).
    - ``eps_param``: the keyword that takes a budget given from outside ("eps"; "max_eps" for a minimal-norm
      search, the upper end it starts from), None where the attack takes none.
    - ``weighted``: it takes a ``weighting`` (a scheme of :mod:`uwl_utils.losses`).
    - ``step_context``: its weighting is told the iteration (t, T), so step-dependent schemes apply.
    - ``minimal``: it searches the smallest budget itself and reports it in ``info.eps_found``.
    - ``batch_invariant``: without a random start, an image's result does not depend on the rest of its
      batch (False: random draws are made for the whole batch at once).
    """

    fn: Callable[..., torch.Tensor]
    norm: str | None
    eps_param: str | None
    weighted: bool
    step_context: bool
    minimal: bool = False
    batch_invariant: bool = True

    def parameters(self) -> dict[str, inspect.Parameter]:
        """The attack's keyword parameters after (model, images, labels)."""
        return dict(list(inspect.signature(self.fn).parameters.items())[3:])

    def __call__(
        self,
        model: nn.Module,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        weighting: str | Weighting = "none",
        info: AttackInfo | None = None,
        **params: Any,
    ) -> torch.Tensor:
        """Run the attack; ``weighting`` is passed on where it takes one, and must be "none" where it does not."""
        if self.weighted:
            return self.fn(model, images, labels, weighting=weighting, info=info, **params)
        scheme = as_weighting(weighting).scheme
        if scheme != "none":
            raise ValueError(f"{self.fn.__name__} takes no weighting; got weighting={scheme!r} (use 'none')")
        return self.fn(model, images, labels, info=info, **params)


# name -> spec; the order is the one figures facet attacks in.
ATTACKS: dict[str, AttackSpec] = {
    "fgsm": AttackSpec(fgsm, "linf", "eps", weighted=True, step_context=True),
    "ifgsm": AttackSpec(ifgsm, "linf", "eps", weighted=True, step_context=True),
    "pgd": AttackSpec(pgd, "linf", "eps", weighted=True, step_context=True),
    "minimal_pgd": AttackSpec(minimal_pgd, "linf", "max_eps", weighted=True, step_context=True, minimal=True),
    "apgd": AttackSpec(apgd, "linf", "eps", weighted=True, step_context=True),
    "sea": AttackSpec(sea, "linf", "eps", weighted=False, step_context=False),
    "alma_prox": AttackSpec(alma_prox, "linf", None, weighted=True, step_context=True, minimal=True),
    "cr_pgd": AttackSpec(cr_pgd, "l2", "eps", weighted=True, step_context=True),
    "sparse_ifgsm": AttackSpec(sparse_ifgsm, "linf", "eps", weighted=True, step_context=True),
    "uniform_noise": AttackSpec(
        uniform_noise, "linf", "eps", weighted=False, step_context=False, batch_invariant=False
    ),
    "patch_eot": AttackSpec(patch_eot, None, None, weighted=False, step_context=False),
}
