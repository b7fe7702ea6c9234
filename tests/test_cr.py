"""CR-guided PGD (docs/attacks.md §CR-PGD): radius, weights, smoothing cost, projections."""

import pytest
import torch
from torch import nn

from uwl_utils.attacks import cr_pgd
from uwl_utils.attacks.cr import certified_radius, cr_weights, smoothed_probs
from uwl_utils.losses import Weighting


def probs_with_top(p_top, num_classes=4):
    """Probabilities [1,C,1,P] with top class p_top[j] at pixel j (the rest spread evenly below it)."""
    p = torch.tensor(p_top, dtype=torch.float64)
    rest = ((1 - p) / (num_classes - 1)).expand(num_classes - 1, -1)
    return torch.cat([p[None], rest]).reshape(1, num_classes, 1, -1)


def linf(a, b):
    return (a - b).flatten(1).abs().amax(1)


def l2(a, b):
    return (a - b).flatten(1).norm(dim=1)


class Counting(nn.Module):
    """Wraps a model and records (batch size, grad enabled) of every forward."""

    def __init__(self, model):
        super().__init__()
        self.model, self.num_classes, self.calls = model, model.num_classes, []

    def forward(self, x):
        self.calls.append((x.shape[0], torch.is_grad_enabled()))
        return self.model(x)


def test_radius_by_hand():
    r = certified_radius(probs_with_top([0.5, 0.9, 0.977, 0.99, 0.999, 0.3]))[0, 0]
    expected = [0.0, 1.2815516, 1.9953933, 2.3263479, 3.0902323, 0.0]
    torch.testing.assert_close(r, torch.tensor(expected, dtype=torch.float64), atol=1e-6, rtol=0)


def test_radius_clip_bounds():
    # p = 1 is clipped to 0.999998 -> Φ⁻¹ ≈ 4.611; a one-hot pixel whose top is 1 and p = 0 elsewhere is finite
    probs = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64).reshape(1, 2, 1, 2)
    r = certified_radius(probs)
    torch.testing.assert_close(r, torch.full((1, 1, 2), 4.6114, dtype=torch.float64), atol=1e-3, rtol=0)
    # in float32, as the published code computes it, 0.999998 rounds down a little: Φ⁻¹ ≈ 4.609
    assert 4.60 < certified_radius(probs.float()).max() < 4.6114
    assert torch.isfinite(certified_radius(torch.zeros(1, 3, 2, 2))).all()  # p_A = 0 -> clip 1e-8 -> radius 0
    assert certified_radius(torch.zeros(1, 3, 2, 2)).eq(0).all()


def test_weight_table_of_the_reference():
    p = [0.5, 0.9, 0.97725, 0.99, 0.999, 0.999998]  # 0.97725 = Φ(2): CR = 2 exactly
    w = cr_weights(certified_radius(probs_with_top(p)), a=2, b=4)[0, 0]
    torch.testing.assert_close(
        w, torch.tensor([0.982, 0.808, 0.5, 0.342, 0.102, 0.0054], dtype=torch.float64), atol=2e-3, rtol=0
    )


def test_smoothing_is_the_softmax_average_of_clipped_noisy_copies(toy_model, toy_batch):
    images, _ = toy_batch
    mean = smoothed_probs(toy_model, images, n_samples=5, sigma=0.05, sample_batch=2, generator=3)
    torch.testing.assert_close(mean.sum(1), torch.ones(3, 12, 16))
    # same numbers from one forward of all copies drawn in the same order
    g = torch.Generator().manual_seed(3)
    noise = torch.cat([torch.randn((k, *images.shape), generator=g) for k in (2, 2, 1)]) * 0.05
    with torch.no_grad():
        direct = torch.stack([toy_model((images + n).clamp(0, 1)).softmax(1) for n in noise]).mean(0)
    torch.testing.assert_close(mean, direct, atol=1e-6, rtol=0)
    # σ → 0: the plain softmax
    with torch.no_grad():
        plain = toy_model(images).softmax(1)
    torch.testing.assert_close(smoothed_probs(toy_model, images, 2, 1e-9, 2, 0), plain, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "steps, refresh, n_samples, sample_batch, n_refresh",
    [(50, 5, 8, 8, 10), (10, 3, 8, 3, 4)],  # the reference's t = 0, 5, ..., 45; then t = 0, 3, 6, 9
)
def test_forward_passes_follow_the_schedule(toy_model, toy_batch, steps, refresh, n_samples, sample_batch, n_refresh):
    images, labels = toy_batch
    images, labels = images[:2, :, :6, :8], labels[:2, :6, :8]  # the count does not depend on the size
    model = Counting(toy_model)
    cr_pgd(model, images, labels, steps=steps, refresh=refresh, n_samples=n_samples, sample_batch=sample_batch)
    grad_calls = [n for n, grad in model.calls if grad]
    probe, *smooth_calls = [n for n, grad in model.calls if not grad]
    assert probe == 1  # the input check's one forward of the first image (attacks.base.prepare)
    assert grad_calls == [2] * steps  # one forward (+ backward) per step, the whole batch
    chunks = [min(sample_batch, n_samples - s) for s in range(0, n_samples, sample_batch)]
    assert smooth_calls == [2 * k for k in chunks] * n_refresh  # chunks of sample_batch copies of every image
    assert sum(smooth_calls) == n_refresh * n_samples * 2


def test_other_schemes_run_without_smoothing(toy_model, toy_batch):
    images, labels = toy_batch
    model = Counting(toy_model)
    for scheme in ("none", "E", "L0", Weighting("M", detach_weights=True)):
        model.calls.clear()
        adv = cr_pgd(model, images, labels, norm="linf", steps=6, weighting=scheme)
        assert model.calls == [(1, False)] + [(3, True)] * 6  # the input check's probe of one image, then the steps
        assert not torch.equal(adv, images)
        assert torch.all(linf(adv, images) <= 0.004 + 1e-6)


def test_faithful_linf_leaves_the_ball(toy_model, toy_batch):
    images, labels = toy_batch
    kw = dict(norm="linf", steps=20, n_samples=2, sample_batch=2, generator=0)  # α = 2.5 ε / 20
    faithful = cr_pgd(toy_model, images, labels, faithful=True, **kw)
    fixed = cr_pgd(toy_model, images, labels, **kw)
    assert faithful.min() >= 0 and faithful.max() <= 1
    assert linf(faithful, images).max() > 2 * 0.004  # up to steps · α = 2.5 ε
    assert linf(faithful, images).max() <= 2.5 * 0.004 + 1e-6
    assert torch.all(linf(fixed, images) <= 0.004 + 1e-6)
    # ℓ2 is unaffected by the switch
    assert torch.equal(
        cr_pgd(toy_model, images, labels, norm="l2", steps=5, generator=1, faithful=True),
        cr_pgd(toy_model, images, labels, norm="l2", steps=5, generator=1),
    )


def test_cr_attack_raises_the_cr_loss_and_is_seeded(toy_model, toy_batch):
    images, labels = toy_batch
    a = cr_pgd(toy_model, images, labels, norm="linf", eps=8 / 255, steps=10, sigma=0.05, generator=5)
    b = cr_pgd(toy_model, images, labels, norm="linf", eps=8 / 255, steps=10, sigma=0.05, generator=5)
    assert torch.equal(a, b)
    with torch.no_grad():
        wrong_clean = (toy_model(images).argmax(1) != labels)[labels != 255].float().mean()
        wrong_adv = (toy_model(a).argmax(1) != labels)[labels != 255].float().mean()
    assert wrong_adv > wrong_clean


@pytest.mark.parametrize(
    "kw",
    [
        dict(norm="l1"),
        dict(norm="linf", eps=2.0),
        dict(eps=0.0),
        dict(steps=0),
        dict(refresh=0),
        dict(n_samples=0),
        dict(sigma=0.0),
        dict(step_size=-1.0),
        dict(weighting="cr"),
    ],
)
def test_bad_arguments_raise(toy_model, toy_batch, kw):
    images, labels = toy_batch
    with pytest.raises(ValueError):
        cr_pgd(toy_model, images, labels, **kw)


def test_cr_is_a_named_scheme_only_cr_pgd_can_compute(toy_model, toy_batch):
    from uwl_utils.attacks import cr_pgd, ifgsm
    from uwl_utils.losses import Weighting, as_weighting

    images, labels = toy_batch
    by_name = cr_pgd(toy_model, images, labels, norm="linf", steps=3, weighting="CR", generator=0)
    by_object = cr_pgd(toy_model, images, labels, norm="linf", steps=3, weighting=as_weighting("CR"), generator=0)
    torch.testing.assert_close(by_name, by_object)
    with pytest.raises(ValueError, match="computed inside uwl_utils.attacks.cr_pgd only"):
        ifgsm(toy_model, images, labels, eps=4 / 255, weighting=Weighting("CR"))
