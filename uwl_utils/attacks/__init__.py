"""Attacks on segmentation models with pluggable per-pixel weighting.

Every attack is a plain function ``attack(model, images, labels=None, *, weighting="none", ...)`` on
un-normalised RGB images in [0, 1] that returns adversarial images of the same shape, inside [0, 1] and
the attack's ε-ball.
"""

from uwl_utils.attacks.fgsm import fgsm, ifgsm, ifgsm_steps
from uwl_utils.attacks.pgd import minimal_pgd, pgd

__all__ = ["fgsm", "ifgsm", "ifgsm_steps", "pgd", "minimal_pgd"]
