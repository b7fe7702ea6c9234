"""SEA, the Segmentation Ensemble Attack (Croce, Singh & Hein, ECCV 2024, Sec. 3.2; docs/attacks.md §SEA).

One APGD run per loss, each with the progressive radius 2ε → 1.5ε → ε (30/30/40 % of the iterations), and
per image the adversarial of the loss with the highest APSR. Defaults as the authors' release: 300
iterations, a random start, and the four losses Mask-CE, SegPGD, JS and masked normalised correct logit,
each steering its step size by the loss the release tracks for it (``SEA_LOSSES``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from uwl_utils.attacks.apgd import SEA_SCHEDULE, apgd_schedule, check_schedule
from uwl_utils.attacks.base import AttackInfo, make_generator, prepare, preserves_model, report, success_fraction
from uwl_utils.attacks.pgd import check_norm_eps
from uwl_utils.losses import Weighting

__all__ = ["sea", "SEA_LOSSES"]

# attacked scheme -> tracked scheme, as SEA's release pairs them (tools/infer.py there).
SEA_LOSSES: dict[str, str] = {"MaskCE": "none", "SegPGD": "none", "JS": "none", "MaskNCL": "NCL"}


@preserves_model
def sea(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    eps: float = 8 / 255,
    norm: str = "linf",
    steps: int = 300,
    losses: Mapping[str, str] | Sequence[str] = SEA_LOSSES,
    schedule: Sequence[tuple[float, float]] = SEA_SCHEDULE,
    rho: float = 0.75,
    random_init: bool = True,
    generator: torch.Generator | int | None = None,
    progress: bool = False,
    info: AttackInfo | None = None,
) -> torch.Tensor:
    """SEA: APGD with ``schedule`` once per loss of ``losses``, returning per image the worst adversarial.

    ``losses`` maps each attacked scheme to the scheme that steers its step size; a plain sequence of schemes
    tracks the CE (``"none"``), as the release does for its CE-based losses. The losses are SEA's own, so it
    takes no ``weighting``. ``info.winner`` gets the winning scheme per image, ``info.iterations`` the passes
    per image, ``info.params`` the settings.
    """
    images, labels, _ = prepare(model, images, labels)
    eps = check_norm_eps(norm, eps, images)
    pairs = dict(losses) if isinstance(losses, Mapping) else {scheme: "none" for scheme in losses}
    if not pairs:
        raise ValueError("losses must name at least one weighting scheme")
    attacked = {s: Weighting(s) for s in pairs}  # unknown schemes fail here, before any work
    tracked = {s: Weighting(t) for s, t in pairs.items()}
    if steps < 1:
        raise ValueError(f"steps must be at least 1; got {steps}")
    check_schedule(schedule, steps)
    gen = make_generator(generator)
    advs, apsr, passes = [], [], 0
    for scheme in pairs:
        adv, used = apgd_schedule(
            model, images, labels, attacked[scheme], tracked[scheme], eps, norm, steps, schedule, rho,
            random_init, gen, progress,
        )  # fmt: skip
        with torch.no_grad():
            apsr.append(success_fraction(model(adv), labels))
        advs.append(adv)
        passes += used
    winner = torch.stack(apsr).argmax(0)  # ties go to the earlier loss
    best = torch.stack(advs)[winner, torch.arange(images.shape[0], device=images.device)]
    params = dict(
        losses=pairs, steps=steps, schedule=[list(stage) for stage in schedule], rho=rho, random_init=random_init
    )
    report(info, iterations=passes, params=params, winner=[list(pairs)[i] for i in winner.tolist()])
    return best
