"""No NaN out: every registered attack × every weighting scheme on degenerate inputs returns finite images of the
input's shape inside [0, 1] and inside the attack's budget; the metrics return defined values or their documented
NaN (an image without valid pixels has no APSR; a matrix without pixels has no mIoU)."""

from __future__ import annotations

import math

import pytest
import torch

from uwl_utils.attacks import ATTACKS
from uwl_utils.losses import SCHEMES
from uwl_utils.metrics import ConfusionMatrix, apsr, confusion_matrices, miou, perturbation_norms
from uwl_utils.testing import ToySegmenter

MODEL = ToySegmenter()
C = MODEL.num_classes


def _case(name: str) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(images, labels, ε) of one degenerate input: two 6×8 images unless the case says otherwise."""
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 6, 8, generator=g)
    labels = torch.randint(0, C, (2, 6, 8), generator=g)
    eps = 4 / 255
    if name == "all_ignore":
        labels = torch.full_like(labels, 255)
    elif name == "single_class":
        labels = torch.zeros_like(labels)
    elif name == "black":
        images = torch.zeros_like(images)
    elif name == "white":
        images = torch.ones_like(images)
    elif name == "eps_1":
        eps = 1.0
    elif name == "one_pixel":  # a batch of one image at the toy model's minimum size, 1×1
        images, labels = images[:1, :, :1, :1], labels[:1, :1, :1]
    elif name == "float64":
        images = images.double()
    return images, labels, eps


CASES = ["all_ignore", "single_class", "black", "white", "eps_1", "one_pixel", "float64"]
LOGIT_SCHEMES = [s for s in SCHEMES if s != "CR"]  # CR needs cr_pgd's randomized smoothing


def _schemes(attack: str) -> list[str]:
    if not ATTACKS[attack].weighted:  # the patch, SEA (its own losses) and the noise baseline take no weighting
        return ["none"]
    return LOGIT_SCHEMES + ["CR"] if attack == "cr_pgd" else LOGIT_SCHEMES


def _kwargs(attack: str, images: torch.Tensor, eps: float) -> tuple[dict, str | None]:
    """Few-step keyword arguments for ``attack`` and the norm its budget ``eps`` bounds (None: no budget)."""
    if attack == "alma_prox":
        return {"steps": 3}, None
    if attack == "minimal_pgd":
        return {"max_eps": eps, "steps": 2, "search_steps": 2}, "linf"
    if attack == "cr_pgd":
        return {"eps": eps, "norm": "linf", "steps": 2, "n_samples": 2, "sample_batch": 2, "refresh": 1}, "linf"
    if attack == "patch_eot":
        h, w = max(1, images.shape[-2] // 2), max(1, images.shape[-1] // 2)
        return {"patch": torch.rand(3, h, w, generator=torch.Generator().manual_seed(1))}, None
    if attack == "sparse_ifgsm":
        return {"eps": eps, "n_pixels": 1, "steps": 2}, "linf"
    if attack == "sea":  # three schedule stages: at least one iteration each
        return {"eps": eps, "steps": 4}, "linf"
    if attack in ("fgsm", "uniform_noise"):
        return {"eps": eps}, "linf"
    return {"eps": eps, "steps": 2}, "linf"


PAIRS = [(a, s) for a in ATTACKS for s in _schemes(a)]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("attack, scheme", PAIRS, ids=[f"{a}-{s}" for a, s in PAIRS])
def test_attack_returns_finite_images_inside_the_bounds(attack, scheme, case):
    images, labels, eps = _case(case)
    kwargs, norm = _kwargs(attack, images, eps)
    adv = ATTACKS[attack](MODEL, images, labels, weighting=scheme, **kwargs)
    assert adv.shape == images.shape and adv.dtype == images.dtype  # a float64 batch into a float32 model too
    assert torch.isfinite(adv).all(), f"{attack}/{scheme} on {case} returned NaN or Inf"
    assert adv.min() >= 0 and adv.max() <= 1
    if norm == "linf":
        assert (adv.double() - images.double()).abs().max() <= eps + 1e-6


@pytest.mark.parametrize("case", CASES)
def test_metrics_are_defined_or_the_documented_nan(case):
    images, labels, _ = _case(case)
    with torch.no_grad():
        pred = MODEL(images.float()).argmax(1)
    matrices = confusion_matrices(pred, labels, C)
    assert matrices.sum() == (labels != 255).sum()  # every valid pixel counted once
    per_image = apsr(pred, labels)
    norms = perturbation_norms(images, images)
    assert all(torch.equal(v, torch.zeros(images.shape[0], dtype=torch.float64)) for v in norms.values())
    cm = ConfusionMatrix(C)
    cm.update(pred, labels)
    if case == "all_ignore":  # no valid pixel: no APSR, no IoU (documented NaN), never an exception
        assert torch.isnan(per_image).all() and math.isnan(miou(matrices.sum(0))) and math.isnan(cm.apsr())
        assert math.isnan(apsr(pred, labels, reduction="pooled").item())
    else:
        wrong = ((pred != labels) & (labels != 255)).flatten(1).sum(1) / (labels != 255).flatten(1).sum(1)
        torch.testing.assert_close(per_image, wrong.double())
        assert 0 <= miou(matrices.sum(0)) <= 1 and 0 <= cm.apsr() <= 1
