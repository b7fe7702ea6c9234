"""The paper's protocol in one place: its PGD (minimal-ε PGD), attack labels for figures, and ε units.

- **PGD.** The paper's "PGD (α = 1/30, ε = 1, n = 40, one restart)" is the ALMA prox framework's minimal-ε PGD
  (:func:`~uwl_utils.attacks.minimal_pgd`): a bisection over ε with 13 trials, top of the range ε = 1 on
  [0, 1], each trial a 40-step PGD with step ε/30, keeping the smallest ε at which ≥ 99 % of the valid pixels
  are misclassified. :data:`MINIMAL_PGD` holds those settings (``"paper"``) and a CPU-sized version
  (``"quick"``); fixed-ε PGD stays available as ``"pgd"``, labelled apart (:data:`ATTACK_LABELS`).
- **APSR of a minimal attack** (:data:`MINIMAL_APSR_NOTE`): measured on the image the attack returns.
- **ε units.** The package works in pixel space, [0, 1] RGB (ε in 0–255 units means ε/255 there). The
  paper's code adds ε/255 to mmseg-normalised tensors (x − mean)/std with std ≈ 57–58 grey levels, so its
  "ε" is std/255 ≈ 0.22 times as large in pixels: :func:`eps_from_normalized`, :func:`pixel_eps_255`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from uwl_utils.attacks.fgsm import ifgsm_steps
from uwl_utils.experiment import AttackConfig, attack_grid

__all__ = [
    "MINIMAL_PGD",
    "ATTACK_LABELS",
    "MINIMAL_APSR_NOTE",
    "attack_label",
    "EPS_SPACES",
    "MMSEG_STD_255",
    "eps_from_normalized",
    "pixel_eps_255",
    "eps_space_grid",
]

# Keyword arguments of uwl_utils.attacks.minimal_pgd, per notebook profile. "paper": the framework's
# minimal_pgd_linf (max_eps 1 on [0, 1], 13 bisection trials, 40 steps of ε/30, one run from the clean image,
# success at 99 %): 520 forward/backward passes per image. "quick": 100 passes per image, 5 trials in (0, 64/255)
# (2/255 apart) of 20 steps of ε/15 (the same total path, 4/3 ε), and a 90 % threshold, since 40-step CE PGD
# reaches only 95–96 % APSR on synth_city/deeplabv3plus even at ε = 255/255, so at 99 % every image would come
# back unperturbed (README, "Reproducing the paper").
MINIMAL_PGD = MappingProxyType(
    {
        "paper": MappingProxyType(
            {"max_eps": 1.0, "search_steps": 13, "steps": 40, "rel_step": 1 / 30, "restarts": 1,
             "random_init": False, "adv_threshold": 0.99}
        ),
        "quick": MappingProxyType(
            {"max_eps": 32 / 255, "search_steps": 5, "steps": 20, "rel_step": 1 / 15, "restarts": 1,
             "random_init": False, "adv_threshold": 0.9}
        ),
    }
)  # fmt: skip

# Attack name (the experiment runner's) -> the label figures and tables show.
ATTACK_LABELS = MappingProxyType(
    {
        "fgsm": "FGSM",
        "ifgsm": "I-FGSM",
        "minimal_pgd": "minimal-ε PGD",
        "pgd": "PGD (fixed ε)",
        "apgd": "APGD",
        "sea": "SEA",
        "alma_prox": "ALMA prox",
        "cr_pgd": "CR-PGD",
        "sparse_ifgsm": "sparse I-FGSM",
        "uniform_noise": "uniform noise",
        "patch_eot": "patch (EOT)",
    }
)

MINIMAL_APSR_NOTE = (
    "Minimal-ε attacks are scored on the image they return: minimal-ε PGD at the smallest ε that reached its "
    "threshold, and an image that never reached it unperturbed (it counts with its clean APSR); ALMA prox at "
    "its smallest successful iterate, else at its iterate of highest APSR. n_reached_threshold counts the first."
)


def attack_label(name: str) -> str:
    """The figure label of an attack name (fixed-ε and minimal-ε PGD are told apart)."""
    if name not in ATTACK_LABELS:
        raise ValueError(f"unknown attack {name!r}; labelled attacks: {', '.join(ATTACK_LABELS)}")
    return ATTACK_LABELS[name]


EPS_SPACES = ("pixel", "normalized")
MMSEG_STD_255 = (58.395, 57.12, 57.375)  # mmseg's ImageNet std (RGB, 0–255 units), in every config used here


def eps_from_normalized(eps_255: float, std: float | Sequence[float] | torch.Tensor = MMSEG_STD_255) -> float:
    """The pixel-space ε (0–255 units) of an ε that the paper's code adds as ε/255 to normalised tensors.

    x_norm = (255·x − mean)/std, so a change of ε/255 in x_norm is std·ε/255 grey levels: ε_pixel = ε·std/255
    (16 → 3.58 with std 57.12). With a std per channel the smallest is used: the largest pixel-space ℓ∞ ball
    inside the per-channel box the paper's code attacks in.
    """
    std_min = float(torch.as_tensor(std, dtype=torch.float64).min())
    if eps_255 < 0 or std_min <= 0:
        raise ValueError(f"need eps_255 ≥ 0 and a positive std; got {eps_255} and {std}")
    return eps_255 * std_min / 255


def pixel_eps_255(
    eps_255: float, eps_space: str = "pixel", std: float | Sequence[float] | torch.Tensor = MMSEG_STD_255
) -> float:
    """ε in pixel space (0–255 units) for an ε given in ``eps_space``: unchanged for ``"pixel"``, converted by
    :func:`eps_from_normalized` for ``"normalized"`` (the paper's code). A notebook's ``EPS_SPACE`` goes here."""
    if eps_space not in EPS_SPACES:
        raise ValueError(f"eps_space must be one of {EPS_SPACES}; got {eps_space!r}")
    return float(eps_255) if eps_space == "pixel" else eps_from_normalized(eps_255, std)


_STEPPED = ("ifgsm", "sparse_ifgsm")  # attacks whose step α and step count the paper's code also sets


def eps_space_grid(
    name: str,
    eps_255: Iterable[float] | float | None,
    eps_space: str = "pixel",
    std: float | Sequence[float] | torch.Tensor = MMSEG_STD_255,
    **params: Any,
) -> list[AttackConfig]:
    """AttackConfigs of one attack over ε given in ``eps_space`` (0–255 units), converted to pixel space.

    ``"pixel"`` is :func:`~uwl_utils.experiment.attack_grid`. ``"normalized"`` reproduces the paper's code:
    ε by :func:`eps_from_normalized`, and for I-FGSM and sparse I-FGSM also its step α = 1/255 converted the
    same way and its step count n = min(ε + 4, ⌊1.25 ε⌋) of the nominal ε (unless ``params`` set them).
    ``eps_255=None`` (minimal-norm attacks, which take no ε) gives the one configuration of ``params``.
    """
    if eps_255 is None:
        return attack_grid(name, None, **params)
    values = [eps_255] if np.isscalar(eps_255) else list(eps_255)
    configs = []
    for nominal in values:
        own = dict(params)
        if eps_space == "normalized" and name in _STEPPED:
            own.setdefault("alpha", eps_from_normalized(1.0, std) / 255)
            own.setdefault("steps", ifgsm_steps(nominal / 255))
        configs.append(AttackConfig(name, pixel_eps_255(nominal, eps_space, std), own))
    return configs
