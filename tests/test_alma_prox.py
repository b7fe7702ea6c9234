"""ALMA prox (docs/attacks.md §ALMA prox): building blocks by hand, minimal-norm bookkeeping, weighting hook."""

import importlib
import math

import pytest
import torch
from torch import nn

from uwl_utils.attacks import alma_prox, pgd
from uwl_utils.attacks.alma_prox import constraint_mask, dlr, penalty, penalty_derivative, prox_linf_box, step_size
from uwl_utils.attacks.base import AttackInfo, success_fraction
from uwl_utils.losses import Weighting

# the package re-exports the function under the module's name, so fetch the module itself
alma_module = importlib.import_module("uwl_utils.attacks.alma_prox")


pytestmark = pytest.mark.usefixtures("one_thread")


def linf(a, b):
    return (a - b).flatten(1).abs().amax(1)


class Recording(nn.Module):
    """Wraps a model and keeps a copy of every input it differentiates through (ALMA prox runs one forward per
    iterate; the input check's forward of one image, without gradients, is no iterate)."""

    def __init__(self, model):
        super().__init__()
        self.model, self.num_classes, self.inputs = model, model.num_classes, []

    def forward(self, x):
        if torch.is_grad_enabled():
            self.inputs.append(x.detach().clone())
        return self.model(x)


def iterate_stats(model, recorder, images, labels):
    """Per recorded iterate [T,N]: the success fraction and ‖δ‖∞."""
    xs = torch.stack(recorder.inputs)
    with torch.no_grad():
        frac = torch.stack([success_fraction(model(x), labels) for x in xs])
    return xs, frac, (xs - images).flatten(2).abs().amax(2)


# --- building blocks against hand-computed values -----------------------------------------------------------


def test_penalty_and_its_two_derivatives_by_hand():
    y = torch.tensor([0.5, -0.5, -0.5, 0.0], dtype=torch.float64)
    rho = torch.tensor([2.0, 2.0, 0.01, 2.0], dtype=torch.float64)
    mu = torch.full((4,), 0.1, dtype=torch.float64)
    # y ≥ 0: μy + μρy² + ρ²y³/6 ; y < 0: μy / (1 − max(ρ,1)·y)
    expected = [0.05 + 0.1 * 2 * 0.25 + 4 * 0.125 / 6, -0.05 / 2, -0.05 / 1.5, 0.0]
    torch.testing.assert_close(penalty(y, rho, mu), torch.tensor(expected, dtype=torch.float64))
    # exact: μ + 2μρy + ρ²y²/2 ; μ/(1 − ρ̄y)²
    exact = [0.1 + 0.2 + 0.5, 0.1 / 4, 0.1 / 2.25, 0.1]
    torch.testing.assert_close(penalty_derivative(y, rho, mu, "exact"), torch.tensor(exact, dtype=torch.float64))
    # adv_lib's backward: μy instead of μ on y ≥ 0, so 0 at y = 0⁺ (but μ just below 0)
    advlib = [0.05 + 0.2 + 0.5, 0.1 / 4, 0.1 / 2.25, 0.0]
    torch.testing.assert_close(penalty_derivative(y, rho, mu, "adv_lib"), torch.tensor(advlib, dtype=torch.float64))
    # the exact one is the derivative of the penalty's value
    yy = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    r, m = torch.tensor([3.0, 3.0], dtype=torch.float64), torch.tensor([0.5, 0.5], dtype=torch.float64)
    (g,) = torch.autograd.grad(penalty(yy, r, m).sum(), yy)
    torch.testing.assert_close(g, penalty_derivative(yy.detach(), r, m, "exact"))


@pytest.mark.parametrize("kind", ["adv_lib", "exact"])
def test_the_custom_backward_uses_the_chosen_derivative(kind):
    y = torch.tensor([0.4, -0.7, 1.5], dtype=torch.float64, requires_grad=True)
    rho, mu = torch.tensor([0.5, 0.5, 4.0], dtype=torch.float64), torch.tensor([0.2, 0.2, 1.0], dtype=torch.float64)
    value = alma_module._Penalty.apply(y, rho, mu, kind)
    torch.testing.assert_close(value, penalty(y.detach(), rho, mu))
    (g,) = torch.autograd.grad(value.sum(), y)
    torch.testing.assert_close(g, penalty_derivative(y.detach(), rho, mu, kind))


def test_dlr_by_hand():
    logits = torch.tensor([3.0, 1.0, 2.0, 0.0, -1.0]).view(1, 5, 1, 1).expand(1, 5, 1, 2).contiguous()
    labels = torch.tensor([[[0, 2]]])
    # label 0: (3 − 2 + 1e−4) / (ℓ₍₁₎ − ℓ₍₃₎ = 3 − 1); label 2: (2 − 3 + 1e−4) / 2
    torch.testing.assert_close(dlr(logits, labels)[0, 0], torch.tensor([1.0001 / 2, -0.9999 / 2]))
    assert dlr(logits, labels, tolerance=0)[0, 0, 0] == 0.5


def test_prox_linf_box_by_hand():
    v = torch.tensor([[0.5, -0.3, 0.1]], dtype=torch.float64)
    wide_lo, wide_hi = torch.full_like(v, -1), torch.full_like(v, 1)
    lam = torch.tensor([0.2], dtype=torch.float64)
    # H = 1: minimise Σ(clip(v,±t) − v)² + 0.4t → t* = 0.3 (also v − λ·Proj_{ℓ1-ball}(v/λ) = [0.3, −0.3, 0.1])
    u = prox_linf_box(v, wide_lo, wide_hi, lam, torch.ones_like(v), tol=1e-10)
    torch.testing.assert_close(u, torch.tensor([[0.3, -0.3, 0.1]], dtype=torch.float64), atol=1e-8, rtol=0)
    # H = (4, 1, 1): on [0.3, 0.5] φ' = 8(t − 0.5) + 0.4 = 0 → t* = 0.45
    u = prox_linf_box(v, wide_lo, wide_hi, lam, torch.tensor([[4.0, 1.0, 1.0]], dtype=torch.float64), tol=1e-10)
    torch.testing.assert_close(u, torch.tensor([[0.45, -0.3, 0.1]], dtype=torch.float64), atol=1e-8, rtol=0)
    # box upper bound 0.25 on the first entry: φ decreases up to t = 0.25 and rises after → u = [0.25, −0.25, 0.1]
    upper = torch.tensor([[0.25, 1.0, 1.0]], dtype=torch.float64)
    u = prox_linf_box(v, wide_lo, upper, lam, torch.ones_like(v), tol=1e-10)
    torch.testing.assert_close(u, torch.tensor([[0.25, -0.25, 0.1]], dtype=torch.float64), atol=1e-8, rtol=0)
    # v = 0 (zero search interval): returns 0 without iterating
    assert prox_linf_box(torch.zeros_like(v), wide_lo, wide_hi, lam, torch.ones_like(v)).eq(0).all()


def test_prox_is_the_minimiser_per_image_and_batch_independent():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 30, generator=g, dtype=torch.float64)
    v = (torch.rand(4, 30, generator=g, dtype=torch.float64) - 0.5) * 0.4
    h = torch.rand(4, 30, generator=g, dtype=torch.float64) + 0.1
    lam = torch.tensor([0.001, 0.01, 0.05, 0.0], dtype=torch.float64)
    u = prox_linf_box(v, -x, 1 - x, lam, h)
    assert torch.all(u >= -x) and torch.all(u <= 1 - x)

    def objective(z):  # ½ Σ H (z − v)² + λ‖z‖∞, per row
        return 0.5 * (h * (z - v).square()).sum(-1) + lam * z.abs().amax(-1)

    v_bar = torch.minimum(torch.maximum(v, -x), 1 - x)
    t = torch.linspace(0, 0.2, 4001, dtype=torch.float64).view(-1, 1, 1)
    grid_best = objective(torch.minimum(torch.maximum(v_bar, -t), t)).amin(0)
    assert torch.all(objective(u) <= grid_best + 1e-8)
    # each image gets the result it would get alone
    single = torch.cat(
        [prox_linf_box(v[i : i + 1], -x[i : i + 1], 1 - x[i : i + 1], lam[i : i + 1], h[i : i + 1]) for i in range(4)]
    )
    assert torch.equal(u, single)


def straightforward_prox(v, lower, upper, lam, metric, tol=1e-6, section=1 / 3):
    """The prox's ternary search written plainly: φ at each trial point in its own expression."""
    flat_v, h = v.flatten(1), metric.flatten(1)
    v_bar = torch.minimum(torch.maximum(flat_v, lower.flatten(1)), upper.flatten(1))

    def clip(t):
        return torch.minimum(torch.maximum(v_bar, -t.unsqueeze(1)), t.unsqueeze(1))

    lo, hi = torch.zeros_like(lam), v_bar.abs().amax(1)
    counts = torch.where(hi > 0, torch.log(tol / hi.clamp(min=1e-38)) / math.log(1 - section), 0).ceil()
    for j in range(int(counts.max().clamp(min=0))):
        t1, t2 = lo + section * (hi - lo), lo + (1 - section) * (hi - lo)
        phi1 = (h * (clip(t1) - flat_v).square()).sum(1) + 2 * lam * t1
        phi2 = (h * (clip(t2) - flat_v).square()).sum(1) + 2 * lam * t2
        lo = torch.where((j < counts) & (phi1 >= phi2), t1, lo)
        hi = torch.where((j < counts) & (phi1 < phi2), t2, hi)
    return clip((lo + hi) / 2).view(v.shape)


@pytest.mark.parametrize("shape, scale", [((1, 3, 40, 64), 0.06), ((3, 500), 1e-4), ((2, 30), 0.5)])
def test_prox_gives_bit_for_bit_the_straightforward_search(shape, scale):
    """Both trial points share one buffer and one pass: the same operations, so the same bits."""
    g = torch.Generator().manual_seed(0)
    v = (torch.rand(shape, generator=g) - 0.5) * scale
    x = torch.rand(shape, generator=g)
    h = torch.rand(shape, generator=g) + 0.1
    lam = torch.rand(shape[0], generator=g) * 0.01
    assert torch.equal(prox_linf_box(v, -x, 1 - x, lam, h), straightforward_prox(v, -x, 1 - x, lam, h))


def test_attack_iterates_are_those_of_the_straightforward_prox(toy_model, toy_batch, monkeypatch):
    images, labels = toy_batch
    runs = []
    for prox in (prox_linf_box, straightforward_prox):
        monkeypatch.setattr(alma_module, "prox_linf_box", prox)
        rec = Recording(toy_model)
        alma_prox(rec, images, labels, weighting="E", steps=12, lr_init=0.02)
        runs.append(torch.stack(rec.inputs))
    assert torch.equal(runs[0], runs[1])


def test_step_size_schedule():
    t_found = torch.tensor([5.0, 3.0])
    lam = torch.stack([step_size(i, 10, t_found, 0.01, 0.1) for i in range(11)])
    torch.testing.assert_close(lam[:6, 0], torch.full((6,), 0.01))  # constant until the first success
    torch.testing.assert_close(lam[10], torch.full((2,), 0.001))  # exactly η₀·r at i = N
    assert torch.all(lam[6:, 0].diff() < 0)
    # T = r/(1 − r)·(N − t_found) = 5/9: λ(i=7) = 0.01 · T / (2 + T)
    torch.testing.assert_close(lam[7, 0], torch.tensor(0.01 * (5 / 9) / (2 + 5 / 9)))
    assert torch.equal(step_size(4, 10, t_found, 0.01, 1.0), torch.full((2,), 0.01))


def test_constraint_mask_per_image():
    c = torch.tensor([[[5.0, 1.0, 3.0, 9.0]], [[4.0, 2.0, 7.0, 1.0]]])
    valid = torch.tensor([[[True, True, True, False]], [[True, True, True, True]]])
    previous = torch.tensor([[[True, False, True, False]], [[False, True, True, True]]])
    # image 0: k = 2 → ξ = 3 (the invalid 9 does not count) → keep c ≤ 3 within Ω; image 1: k = 0 → previous
    mask = constraint_mask(c, valid, torch.tensor([2, 0]), previous)
    assert mask.tolist() == [[[False, True, True, False]], [[False, True, True, True]]]
    mask = constraint_mask(c, valid, torch.tensor([1, 3]), previous)
    assert mask.tolist() == [[[True, True, True, False]], [[False, True, False, True]]]
    assert constraint_mask(c, valid, torch.tensor([0, 0]), previous) is previous


# --- the attack -------------------------------------------------------------------------------------------


def test_reaches_the_target_with_reported_eps_equal_to_the_norm_and_minimises_it(toy_model, toy_batch):
    images, labels = toy_batch
    threshold = 0.6
    rec = Recording(toy_model)
    info = AttackInfo()
    adv = alma_prox(rec, images, labels, steps=80, lr_init=0.01, adv_threshold=threshold, info=info)
    eps = info.eps_found
    frac = success_fraction(toy_model(adv), labels)
    assert torch.all(frac >= threshold) and not torch.isnan(eps).any()
    torch.testing.assert_close(linf(adv, images), eps, atol=1e-6, rtol=0)
    xs, fracs, dists = iterate_stats(toy_model, rec, images, labels)
    assert len(xs) == 80
    ok = fracs >= threshold
    for i in range(3):
        # the returned image is the successful iterate with the smallest ‖δ‖∞, the latest on ties
        best_dist = dists[ok[:, i], i].min()
        t = int(torch.nonzero(ok[:, i] & (dists[:, i] == best_dist)).max())
        assert torch.equal(adv[i], xs[t, i])
        assert eps[i].item() == pytest.approx(best_dist.item(), abs=1e-6)  # ‖δ‖∞ vs ‖(x + δ) − x‖∞: rounding
        # and the norm shrank well below that of the first success (the prox at work)
        first = int(torch.nonzero(ok[:, i]).min())
        assert eps[i] < 0.75 * dists[first, i]


def test_smaller_norm_than_fixed_eps_pgd(toy_model, toy_batch):
    """At ALMA prox's own norm, fixed-ε PGD stays below the target that ALMA prox reaches."""
    images, labels = toy_batch
    threshold = 0.6
    info = AttackInfo()
    adv = alma_prox(toy_model, images, labels, steps=80, lr_init=0.01, adv_threshold=threshold, info=info)
    eps = info.eps_found
    assert torch.all(success_fraction(toy_model(adv), labels) >= threshold)
    assert torch.all(eps < 16 / 255)
    for i in range(3):
        x = pgd(toy_model, images[i : i + 1], labels[i : i + 1], eps=float(eps[i]), steps=40)
        assert success_fraction(toy_model(x), labels[i : i + 1]).item() < threshold
    # even a fixed budget of 32/255 (twice the bound above) does not reach it on every image
    x = pgd(toy_model, images, labels, eps=32 / 255, steps=20)
    assert not torch.all(success_fraction(toy_model(x), labels) >= threshold)


def test_no_success_returns_the_latest_best_fraction_iterate(toy_model, toy_batch):
    images, labels = toy_batch
    rec = Recording(toy_model)
    info = AttackInfo()
    adv = alma_prox(rec, images, labels, steps=8, lr_init=0.02, adv_threshold=1.0, info=info)
    eps = info.eps_found
    assert torch.isnan(eps).all()
    xs, fracs, _ = iterate_stats(toy_model, rec, images, labels)
    for i in range(3):
        t = int(torch.nonzero(fracs[:, i] == fracs[:, i].max()).max())
        assert torch.equal(adv[i], xs[t, i])


def test_masking_drops_floor_of_the_decayed_fraction(toy_model, toy_batch, monkeypatch):
    """k_i = ⌊(1 − ν)·n·i/(N − 1)⌋ per image (adv_lib), not ⌊⌊(1 − ν)n⌋·i/(N − 1)⌋."""
    images, labels = toy_batch
    seen = []

    def spy(c, valid, k, previous):
        seen.append(k.clone())
        return constraint_mask(c, valid, k, previous)

    monkeypatch.setattr(alma_module, "constraint_mask", spy)
    steps, nu = 11, 0.9
    alma_prox(toy_model, images, labels, steps=steps, adv_threshold=nu)
    n = (labels != 255).flatten(1).sum(1).double()  # 173, 176, 165
    expected = [torch.floor((1 - nu) * n * (i / (steps - 1))).long() for i in range(steps)]
    assert torch.equal(torch.stack(seen), torch.stack(expected))
    assert expected[7].tolist() != torch.floor(torch.floor((1 - nu) * n) * 0.7).long().tolist()


def test_weighting_enters_every_iteration(toy_model, toy_batch, monkeypatch):
    images, labels = toy_batch
    calls = []
    original = Weighting.weights

    def spy(self, logits, labels_, *, step=None, validate=True):
        calls.append((self.scheme, step, logits.requires_grad))
        return original(self, logits, labels_, step=step, validate=validate)

    monkeypatch.setattr(Weighting, "weights", spy)
    alma_prox(toy_model, images, labels, weighting="E", steps=5)
    assert calls == [("E", (i + 1, 5), True) for i in range(5)]  # from the current, differentiable logits
    calls.clear()
    alma_prox(toy_model, images, labels, weighting=Weighting("E", detach_weights=False), steps=1)
    assert calls == [("E", (1, 1), True)]


def test_schemes_change_the_result_and_a_no_op_weighting_does_not(toy_model, toy_batch):
    images, labels = toy_batch
    kw = dict(steps=20, lr_init=0.02, adv_threshold=0.6)
    results = {
        name: alma_prox(toy_model, images, labels, weighting=w, **kw)
        for name, w in {
            "none": "none",
            "E": "E",
            "L0": "L0",
            "E not detached": Weighting("E", detach_weights=False),
            # L0 on logits above any logit value drops nothing: the same as no weighting
            "L0 never": Weighting("L0", l0_on="logits", l0_threshold=1e6),
        }.items()
    }
    assert torch.equal(results["L0 never"], results["none"])
    names = ["none", "E", "L0", "E not detached"]
    for a in names:
        for b in names:
            assert (a == b) == torch.equal(results[a], results[b]), (a, b)


def test_penalty_grad_option_changes_the_attack(toy_model, toy_batch):
    images, labels = toy_batch
    a = alma_prox(toy_model, images, labels, steps=10, penalty_grad="adv_lib", lr_init=0.02)
    b = alma_prox(toy_model, images, labels, steps=10, penalty_grad="exact", lr_init=0.02)
    assert not torch.equal(a, b) and b.min() >= 0 and b.max() <= 1


def test_the_first_step_is_the_signed_gradient_shrunk_by_the_prox(toy_model, toy_batch):
    """After one step δ = prox(−η₀·sign(g)) (H = |g|): ‖δ‖∞ just below η₀."""
    images, labels = toy_batch
    adv = alma_prox(toy_model, images, labels, steps=2, lr_init=0.02, adv_threshold=1.0, weighting="E")
    assert 0.019 < linf(adv, images).max() <= 0.02 + 1e-7


def test_no_valid_pixel_is_handled(toy_model, toy_batch):
    images, labels = toy_batch
    labels = labels.clone()
    labels[1] = 255
    info = AttackInfo()
    adv = alma_prox(toy_model, images, labels, steps=5, info=info)
    eps = info.eps_found
    assert torch.isfinite(adv).all() and adv.min() >= 0 and adv.max() <= 1
    assert math.isnan(eps[1].item())


class TwoClasses(nn.Module):
    num_classes = 2

    def forward(self, x):
        return torch.cat([x[:, :1], -x[:, :1]], 1)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m, x, y: alma_prox(m, x * 255, y), r"\[0, 1\]"),
        (lambda m, x, y: alma_prox(m, x[0], y), r"\[N,3,H,W\]"),
        (lambda m, x, y: alma_prox(m, x, y[:, :5]), "shape"),
        (lambda m, x, y: alma_prox(m, x, y.float()), "integer"),
        (lambda m, x, y: alma_prox(m, x, y, weighting="CR"), "cr_pgd only"),
        (lambda m, x, y: alma_prox(m, x, y, steps=0), "steps"),
        (lambda m, x, y: alma_prox(m, x, y, adv_threshold=1.5), "adv_threshold"),
        (lambda m, x, y: alma_prox(m, x, y, penalty_grad="autograd"), "penalty_grad"),
        (lambda m, x, y: alma_prox(m, x, y, lr_reduction=0), "lr_reduction"),
        (lambda m, x, y: alma_prox(m, x, y, check_steps=0), "check_steps"),
        (lambda m, x, y: alma_prox(m, x, y, scale_init=2.0), "scale_init"),
        (lambda m, x, y: alma_prox(m, x, y, gamma=0.5), "gamma"),
        (lambda m, x, y: alma_prox(TwoClasses(), x, (y == 0).long()), "at least 3 classes"),
    ],
)
def test_bad_input(toy_model, toy_batch, call, match):
    images, labels = toy_batch
    with pytest.raises(ValueError, match=match):
        call(toy_model, images, labels)


@pytest.mark.parametrize("scheme", ["M", "E"])
def test_a_descent_through_undetached_weights_pushes_a_correct_pixel_back(scheme):
    """One descent step on u·P(c) for a still-correct pixel (logits 2, 1, 0; label 0) whose constraint scale has
    shrunk to w = scale_min = 0.1: with detached weights the step lowers c (towards misclassification); through
    u it raises c, since the term P(c)·∇u lowers the uncertainty, i.e. makes the correct class more certain."""
    labels = torch.tensor([[[0]]])
    rho, mu = torch.full((1, 1, 1), 0.01, dtype=torch.float64), torch.ones(1, 1, 1, dtype=torch.float64)

    def constraint(z):
        return 0.1 * dlr(z, labels)

    change = {}
    for detach in (True, False):
        z = torch.tensor([2.0, 1.0, 0.0], dtype=torch.float64).view(1, 3, 1, 1).requires_grad_()
        u = Weighting(scheme, detach_weights=detach).weights(z, labels)
        (g,) = torch.autograd.grad((u * alma_module._Penalty.apply(constraint(z), rho, mu, "adv_lib")).sum(), z)
        change[detach] = (constraint(z - 0.01 * g / g.norm()) - constraint(z)).item()
    assert change[True] < 0 < change[False]


def test_alma_prox_detaches_by_default_and_ascents_do_not(toy_model, toy_batch):
    """ALMA prox descends, so a scheme name means detached weights; an explicit detach_weights=False is kept.
    The same two calls give different results, and "E" equals the explicitly detached weighting."""
    images, labels = toy_batch
    kw = dict(steps=10, lr_init=0.02, adv_threshold=0.6)
    by_name = alma_prox(toy_model, images, labels, weighting="E", **kw)
    assert torch.equal(
        by_name, alma_prox(toy_model, images, labels, weighting=Weighting("E", detach_weights=True), **kw)
    )
    assert not torch.equal(
        by_name, alma_prox(toy_model, images, labels, weighting=Weighting("E", detach_weights=False), **kw)
    )
    # PGD ascends: its default keeps the gradient through the weights
    a = pgd(toy_model, images, labels, eps=8 / 255, steps=3, weighting="E")
    assert torch.equal(
        a, pgd(toy_model, images, labels, eps=8 / 255, steps=3, weighting=Weighting("E", detach_weights=False))
    )
