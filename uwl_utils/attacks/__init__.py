"""Attacks on segmentation models with pluggable per-pixel weighting.

Every attack is a plain function ``attack(model, images, labels=None, *, weighting="none", ...)`` on
un-normalised RGB images in [0, 1] that returns adversarial images of the same shape, inside [0, 1] and
the attack's ε-ball.
"""

from uwl_utils.attacks.alma_prox import alma_prox
from uwl_utils.attacks.apgd import apgd
from uwl_utils.attacks.cr import cr_pgd
from uwl_utils.attacks.fgsm import fgsm, ifgsm, ifgsm_steps
from uwl_utils.attacks.noise import uniform_noise
from uwl_utils.attacks.patch import apply_patch, patch_eot, train_patch
from uwl_utils.attacks.pgd import minimal_pgd, pgd
from uwl_utils.attacks.sea import sea
from uwl_utils.attacks.sparse import sparse_ifgsm

__all__ = [
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
