"""Tests specific to FGSM, I-FGSM, PGD and minimal PGD (the contract common to all attacks: test_attack_contract.py)."""

import warnings

import pytest
import torch
import torch.nn.functional as F

from uwl_utils.attacks import fgsm, ifgsm, ifgsm_steps, minimal_pgd, pgd
from uwl_utils.attacks.base import AttackInfo, predicted_class, success_fraction
from uwl_utils.losses import Weighting
from uwl_utils.prediction import first_max_mask


def linf(a, b):
    return (a - b).flatten(1).abs().amax(1)


def test_ifgsm_equals_an_independent_plain_loop(toy_model, toy_batch):
    images, labels = toy_batch
    eps, alpha = 8 / 255, 1 / 255
    x = images.clone()
    for _ in range(10):  # n = min(8 + 4, floor(1.25 * 8)) = 10
        x.requires_grad_(True)
        logits = toy_model(x)
        ce = F.cross_entropy(logits, labels, ignore_index=255, reduction="none")
        loss = (ce.sum((1, 2)) / (12 * 16)).sum()
        (g,) = torch.autograd.grad(loss, x)
        x = torch.min(torch.max(x.detach() + alpha * g.sign(), images - eps), images + eps).clamp(0, 1)
    assert torch.equal(ifgsm(toy_model, images, labels, eps=eps, weighting="none"), x)


def test_ifgsm_steps_follow_the_paper():
    assert [ifgsm_steps(e / 255) for e in (1, 2, 4, 8, 16, 32)] == [1, 2, 5, 10, 20, 36]


def test_same_seed_same_result_and_different_seed_differs(toy_model, toy_batch):
    images, labels = toy_batch
    kw = dict(eps=8 / 255, steps=3, random_init=True, weighting="L0")
    a = pgd(toy_model, images, labels, generator=7, **kw)
    b = pgd(toy_model, images, labels, generator=7, **kw)
    c = pgd(toy_model, images, labels, generator=8, **kw)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(fgsm(toy_model, images, labels, weighting="E"), fgsm(toy_model, images, labels, weighting="E"))


def test_l0_zeroed_pixels_contribute_no_gradient(toy_model, toy_batch):
    """The input gradient of the L0 loss equals that of the loss restricted to the kept pixels."""
    images, labels = toy_batch
    x = images.clone().requires_grad_(True)
    logits = toy_model(x)
    keep = Weighting("L0").weights(logits, labels)
    assert (keep == 0).sum() > (labels == 255).sum()  # some valid pixels are dropped
    (g_l0,) = torch.autograd.grad(Weighting("L0").loss(logits, labels).sum(), x, retain_graph=True)
    dropped_only = labels.masked_fill(keep == 0, 255)
    (g_kept,) = torch.autograd.grad(Weighting("none").loss(logits, dropped_only).sum(), x)
    torch.testing.assert_close(g_l0, g_kept)
    # and the loss of the dropped pixels alone has no effect on the L0 gradient
    assert not torch.allclose(g_l0, torch.autograd.grad(Weighting("none").loss(toy_model(x), labels).sum(), x)[0])


def test_attacks_raise_the_misclassified_share(toy_model, toy_batch):
    images, labels = toy_batch
    clean = success_fraction(toy_model(images), labels)
    adv = ifgsm(toy_model, images, labels, eps=16 / 255)
    assert torch.all(success_fraction(toy_model(adv), labels) > clean)


def test_pgd_keeps_the_best_iterate(toy_model, toy_batch):
    images, labels = toy_batch
    adv = pgd(toy_model, images, labels, eps=8 / 255, steps=10)
    last_only = pgd(toy_model, images, labels, eps=8 / 255, steps=1)  # the clean image is iterate 0
    assert torch.all(success_fraction(toy_model(adv), labels) >= success_fraction(toy_model(last_only), labels))


def test_minimal_pgd_finds_the_smallest_successful_eps(toy_model, toy_batch):
    images, labels = toy_batch
    threshold = 0.45
    info = AttackInfo()
    adv = minimal_pgd(
        toy_model, images, labels, max_eps=64 / 255, search_steps=6, steps=10, adv_threshold=threshold, info=info
    )
    eps = info.eps_found
    frac = success_fraction(toy_model(adv), labels)
    found = ~torch.isnan(eps)
    assert found.any()
    assert torch.all(frac[found] >= threshold)
    assert torch.all(linf(adv, images)[found] <= eps[found] + 1e-6)
    assert torch.equal(adv[~found], images[~found])  # never successful: returned unperturbed
    # a budget just below the one found fails at the same settings (the bisection's lower end)
    i = int(found.nonzero()[0])
    below = pgd(toy_model, images[i : i + 1], labels[i : i + 1], eps=float(eps[i]) * 0.5, steps=10)
    assert success_fraction(toy_model(below), labels[i : i + 1]).item() < threshold


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m, x, y: fgsm(m, x, y, eps=0), "0 < eps <= 1"),
        (lambda m, x, y: ifgsm(m, x, y, eps=8), "did you mean 8/255"),
        (lambda m, x, y: ifgsm(m, x * 255, y), r"\[0, 1\]"),
        (lambda m, x, y: ifgsm(m, x, y[:, :5]), "shape"),
        (lambda m, x, y: ifgsm(m, x, y, weighting="entropy"), "unknown weighting scheme"),
        (lambda m, x, y: pgd(m, x, y, norm="l1"), "unknown norm"),
        (lambda m, x, y: pgd(m, x[:, :1], y), "3 RGB channels"),
        (lambda m, x, y: minimal_pgd(m, x, y, adv_threshold=1.5), "adv_threshold"),
    ],
)
def test_bad_input(toy_model, toy_batch, call, match):
    images, labels = toy_batch
    with pytest.raises(ValueError, match=match):
        call(toy_model, images, labels)


def test_uniform_noise_is_seeded_and_sits_on_the_ball(toy_model, toy_batch):
    from uwl_utils.attacks import uniform_noise

    images, labels = toy_batch
    images = images.clamp(0.1, 0.9)  # away from the box so that no entry is clipped
    a = uniform_noise(toy_model, images, labels, eps=8 / 255, generator=3)
    torch.testing.assert_close(a, uniform_noise(toy_model, images, eps=8 / 255, generator=3))
    assert not torch.equal(a, uniform_noise(toy_model, images, eps=8 / 255, generator=4))
    torch.testing.assert_close((a - images).abs(), torch.full_like(images, 8 / 255))
    assert 0.45 < ((a - images) > 0).float().mean() < 0.55
    u = uniform_noise(toy_model, images, eps=8 / 255, sign=False, generator=3)
    assert (u - images).abs().max() <= 8 / 255 + 1e-7 and (u - images).abs().min() < 1 / 255


def test_predicted_class_equals_argmax_including_ties():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randint(0, 3, (2, 19, 5, 7), generator=gen).float()  # many ties between classes
    logits[0, :, 0, 0] = 1.0  # a pixel where every class ties
    assert torch.equal(predicted_class(logits), logits.argmax(1))
    flat = torch.randn(4, 21, generator=gen)
    assert torch.equal(predicted_class(flat), flat.argmax(1))


def test_first_max_mask_marks_argmax_only_including_ties():
    gen = torch.Generator().manual_seed(0)
    values = torch.randint(0, 3, (2, 19, 5, 7), generator=gen).float()
    values[1, :, 2, 3] = 0.5  # every class ties: the first one is marked
    mask = first_max_mask(values)
    assert mask.dtype == torch.bool and torch.equal(mask.sum(1), torch.ones(2, 5, 7, dtype=torch.long))
    assert torch.equal(mask, F.one_hot(values.argmax(1), 19).movedim(-1, 1).bool())
    many = torch.randn(1, 300, 4, generator=gen)  # more classes than uint8 ranks: falls back to argmax
    assert torch.equal(first_max_mask(many), F.one_hot(many.argmax(1), 300).movedim(-1, 1).bool())


def test_pgd_whose_steps_cannot_reach_eps_says_so(toy_model, toy_batch):
    images, labels = toy_batch
    with pytest.warns(UserWarning, match=r"steps=10 and rel_step=0.03333 travels at most 0.33 ε"):
        adv = pgd(toy_model, images, labels, eps=8 / 255, steps=10)
    assert (adv - images).abs().max() <= 8 / 255 / 3 + 1e-6  # the path it had: a third of ε
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pgd(toy_model, images, labels, eps=8 / 255, steps=10, rel_step=0.1)  # 10 × ε/10 reaches ε: no warning
        minimal_pgd(toy_model, images, labels, max_eps=8 / 255, steps=2, rel_step=0.5, search_steps=1)
    with pytest.warns(UserWarning, match="travels at most 0.50 ε"):
        minimal_pgd(toy_model, images, labels, max_eps=8 / 255, steps=2, rel_step=0.25, search_steps=1)
