"""The schemes beyond the paper (SegPGD, CosPGD, SEA's MaskCE / MaskCE-Bal / JS) against values worked out by hand.

The hand example is one 2×2 image with C = 3 classes, given by its softmax vectors, and |Z| = H·W = 4:

    pixel   p                  label   prediction   p_y   CE
    (0,0)   (0.7, 0.2, 0.1)    0       0, correct   0.7   −ln 0.7
    (0,1)   (0.5, 0.3, 0.2)    1       0, wrong     0.3   −ln 0.3
    (1,0)   (0.1, 0.6, 0.3)    1       1, correct   0.6   −ln 0.6
    (1,1)   (0.2, 0.2, 0.6)    255     ignored       -     0
"""

import math

import pytest
import torch
import torch.nn.functional as F

from uwl_utils.attacks import alma_prox, fgsm, ifgsm, pgd
from uwl_utils.losses import (
    MODERN_SCHEMES,
    PAPER_SCHEMES,
    PIXEL_LOSSES,
    SCHEMES,
    Weighting,
    as_weighting,
    pixel_js_divergence,
    pixel_weights,
    segpgd_lambda,
)

PROBS = [(0.7, 0.2, 0.1), (0.5, 0.3, 0.2), (0.1, 0.6, 0.3), (0.2, 0.2, 0.6)]
LABELS = [0, 1, 1, 255]
CE = [-math.log(0.7), -math.log(0.3), -math.log(0.6), 0.0]
LN2 = math.log(2)


def hand_logits(probs=PROBS):
    """Logits [1,C,2,2] whose softmax at pixel k (row-major) is probs[k]."""
    return torch.tensor(probs, dtype=torch.float64).log().T.reshape(1, len(probs[0]), 2, 2)


def hand_labels(labels=LABELS):
    return torch.tensor(labels).reshape(1, 2, 2)


def flat(t):
    return t.detach().flatten().tolist()


def expected_loss(weights, per_pixel=CE):
    return sum(w * v for w, v in zip(weights, per_pixel, strict=True)) / 4


def js_by_hand(p, y):
    """JS(p ‖ e_y) = ½ KL(p ‖ m) + ½ KL(e_y ‖ m), m = (p + e_y)/2, 0·log 0 = 0, natural log."""
    q = [1.0 if c == y else 0.0 for c in range(len(p))]
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
    kl_pm = sum(a * math.log(a / b) for a, b in zip(p, m, strict=True) if a > 0)
    kl_qm = sum(a * math.log(a / b) for a, b in zip(q, m, strict=True) if a > 0)
    return (kl_pm + kl_qm) / 2


def js_generic(logits, labels):
    """JS(softmax(z) ‖ onehot(y)) from the general definition with torch ops, 0 on ignore pixels."""
    valid = labels != 255
    p = logits.softmax(1)
    q = F.one_hot(labels * valid, logits.shape[1]).permute(0, 3, 1, 2).to(p.dtype)
    m = (p + q) / 2
    kl_pm = (torch.xlogy(p, p) - torch.xlogy(p, m)).sum(1)
    kl_qm = (torch.xlogy(q, q) - torch.xlogy(q, m)).sum(1)  # 0·log 0 = 0, with a zero gradient
    return (kl_pm + kl_qm) / 2 * valid


@pytest.fixture
def example():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 4, 6, dtype=torch.float64)
    labels = torch.randint(0, 5, (2, 4, 6))
    labels[0, 0, :3] = 255
    labels[1, 3, 5] = 255
    return logits, labels


# --- registry ------------------------------------------------------------------------------------------------


def test_modern_schemes_are_registered_and_recorded():
    assert MODERN_SCHEMES == ("SegPGD", "CosPGD", "MaskCE", "MaskCE-Bal", "JS", "MaskNCL", "NCL")
    assert PAPER_SCHEMES == ("none", "M", "D", "Mbar", "E", "L0", "L0+E")
    assert set(SCHEMES) == set(PAPER_SCHEMES) | set(MODERN_SCHEMES) | {"CR"}
    assert set(PIXEL_LOSSES) == {"JS", "MaskNCL", "NCL"}
    for scheme in MODERN_SCHEMES:
        w = as_weighting(scheme)
        assert w == Weighting(scheme)
        assert w.as_record() == {
            "weighting": scheme,
            "detach_weights": None,  # the attack decides (Weighting.resolved)
            "normalize_entropy": True,
            "l0_threshold": 0.75,
            "l0_on": "probs",
        }


def test_unknown_scheme_error_lists_every_scheme():
    with pytest.raises(ValueError) as err:
        Weighting("SEA")
    for scheme in (*PAPER_SCHEMES, *MODERN_SCHEMES):
        assert scheme in str(err.value)
    known = "none, M, D, Mbar, E, L0, L0+E, SegPGD, CosPGD, MaskCE, MaskCE-Bal, JS, MaskNCL, NCL"
    assert f"known schemes: {known}" in str(err.value)


@pytest.mark.parametrize("scheme", MODERN_SCHEMES)
def test_every_modern_scheme_is_zero_on_ignore_and_nonnegative(example, scheme):
    """Weights are ≥ 0; so are the losses, except the normalised correct logit's −z_y/‖z‖₂ ∈ [−1, 1]."""
    logits, labels = example
    w = pixel_weights(logits, labels, scheme, step=(2, 5))
    loss = Weighting(scheme).pixel_loss(logits, labels, step=(2, 5))
    lowest = -1.0 if scheme in ("MaskNCL", "NCL") else 0.0
    for t, floor in ((w, 0.0), (loss, lowest)):
        assert t.shape == labels.shape
        assert torch.all(t[labels == 255] == 0) and torch.all(t >= floor)


# --- SegPGD --------------------------------------------------------------------------------------------------


def test_segpgd_lambda_schedule():
    assert segpgd_lambda((1, 1)) == 0.0
    assert segpgd_lambda((1, 10)) == 0.0
    assert segpgd_lambda((10, 10)) == pytest.approx(9 / 20)
    assert segpgd_lambda((3, 4)) == pytest.approx(2 / 8)


def test_segpgd_at_t1_keeps_only_correct_pixels():
    logits, labels = hand_logits(), hand_labels()
    # λ_1 = 0: weight 1 on the correct pixels, 0 on the wrong one and on the ignore pixel
    w = pixel_weights(logits, labels, "SegPGD", step=(1, 4))
    assert flat(w) == [1.0, 0.0, 1.0, 0.0]
    loss = Weighting("SegPGD").loss(logits, labels, step=(1, 4))
    assert loss.item() == pytest.approx((-math.log(0.7) - math.log(0.6)) / 4)


def test_segpgd_at_t_equal_T_and_in_between():
    logits, labels = hand_logits(), hand_labels()
    # t = T = 4: λ = 3/8 -> correct 5/8, wrong 3/8
    w = pixel_weights(logits, labels, "SegPGD", step=(4, 4))
    assert flat(w) == pytest.approx([5 / 8, 3 / 8, 5 / 8, 0.0])
    loss = Weighting("SegPGD").loss(logits, labels, step=(4, 4))
    assert loss.item() == pytest.approx((5 / 8 * -math.log(0.7) + 3 / 8 * -math.log(0.3) + 5 / 8 * -math.log(0.6)) / 4)
    # t = 3 of 4: λ = 1/4
    w = pixel_weights(logits, labels, "SegPGD", step=(3, 4))
    assert flat(w) == pytest.approx([3 / 4, 1 / 4, 3 / 4, 0.0])


def test_segpgd_without_or_with_a_bad_step_is_a_clear_error():
    logits, labels = hand_logits(), hand_labels()
    with pytest.raises(ValueError, match=r"must pass step=\(t, T\)"):
        pixel_weights(logits, labels, "SegPGD")
    with pytest.raises(ValueError, match=r"must pass step=\(t, T\)"):
        Weighting("SegPGD").loss(logits, labels)
    for bad in [(0, 4), (5, 4), (1, 0)]:
        with pytest.raises(ValueError, match="1 <= t <= T"):
            pixel_weights(logits, labels, "SegPGD", step=bad)
    with pytest.raises(ValueError, match="pair"):
        pixel_weights(logits, labels, "SegPGD", step=(1, 2, 3))
    # the other schemes do not need a step
    for scheme in ("CosPGD", "MaskCE", "MaskCE-Bal", "JS"):
        pixel_weights(logits, labels, scheme)


def test_segpgd_gradient_flows_through_ce_only_on_the_weighted_pixels():
    labels = hand_labels()
    for step, wrong_has_grad in [((1, 4), False), ((4, 4), True)]:
        logits = hand_logits().requires_grad_()
        Weighting("SegPGD").loss(logits, labels, step=step).sum().backward()
        g = logits.grad[0].flatten(1)  # [C, 4 pixels]
        assert torch.all(g[:, 0] != 0) and torch.all(g[:, 2] != 0)
        assert bool(torch.all(g[:, 1] != 0)) is wrong_has_grad
        assert torch.all(g[:, 3] == 0)


# --- CosPGD --------------------------------------------------------------------------------------------------


def test_cospgd_weights_by_hand():
    w = pixel_weights(hand_logits(), hand_labels(), "CosPGD")
    # cos(p, e_y) = p_y / ‖p‖₂
    expected = [0.7 / math.sqrt(0.54), 0.3 / math.sqrt(0.38), 0.6 / math.sqrt(0.46), 0.0]
    assert flat(w) == pytest.approx(expected)
    loss = Weighting("CosPGD").loss(hand_logits(), hand_labels())
    assert loss.item() == pytest.approx(expected_loss(expected))


def test_cospgd_weight_is_detached():
    labels = hand_labels()
    for detach in (False, True):  # the paper detaches: the option changes nothing
        logits = hand_logits().requires_grad_()
        Weighting("CosPGD", detach_weights=detach).loss(logits, labels).sum().backward()
        w = pixel_weights(hand_logits(), labels, "CosPGD")
        ref = hand_logits().requires_grad_()
        ((w * F.cross_entropy(ref, labels, ignore_index=255, reduction="none")).sum() / 4).backward()
        torch.testing.assert_close(logits.grad, ref.grad)


# --- SEA: MaskCE, MaskCE-Bal, JS -----------------------------------------------------------------------------


def test_mask_ce_by_hand_and_its_gradient():
    logits, labels = hand_logits().requires_grad_(), hand_labels()
    assert flat(pixel_weights(logits, labels, "MaskCE")) == [1.0, 0.0, 1.0, 0.0]
    loss = Weighting("MaskCE").loss(logits, labels)
    assert loss.item() == pytest.approx((-math.log(0.7) - math.log(0.6)) / 4)
    loss.sum().backward()
    g = logits.grad[0].flatten(1)
    assert torch.all(g[:, 1] == 0) and torch.all(g[:, 3] == 0)  # wrong and ignore pixels
    assert torch.all(g[:, 0] != 0) and torch.all(g[:, 2] != 0)
    # the gradient is that of CE under a constant mask
    ref = hand_logits().requires_grad_()
    mask = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]], dtype=torch.float64)
    ((mask * F.cross_entropy(ref, labels, ignore_index=255, reduction="none")).sum() / 4).backward()
    torch.testing.assert_close(logits.grad, ref.grad)


def test_mask_ce_bal_weights_by_hand():
    # labels (0, 1, 1, 255): n_0 = 1, n_1 = 2, |Z| = 4 -> balance 1 − 1/4 = 3/4 for class 0, 1 − 2/4 = 1/2 for class 1;
    # times the MaskCE mask (1, 0, 1, 0)
    w = pixel_weights(hand_logits(), hand_labels(), "MaskCE-Bal")
    assert flat(w) == pytest.approx([3 / 4, 0.0, 1 / 2, 0.0])
    loss = Weighting("MaskCE-Bal").loss(hand_logits(), hand_labels())
    assert loss.item() == pytest.approx((3 / 4 * -math.log(0.7) + 1 / 2 * -math.log(0.6)) / 4)


def test_mask_ce_bal_counts_classes_per_image():
    # two images whose predictions are all correct, so the weights are the balancing weights alone
    labels = torch.tensor([[[0, 1], [1, 255]], [[2, 2], [2, 0]]])
    logits = F.one_hot(labels.clamp(max=2), 3).permute(0, 3, 1, 2).double() * 5
    w = pixel_weights(logits, labels, "MaskCE-Bal")
    # image 0: n_0 = 1, n_1 = 2 of |Z| = 4; image 1: n_2 = 3, n_0 = 1
    torch.testing.assert_close(
        w, torch.tensor([[[3 / 4, 1 / 2], [1 / 2, 0.0]], [[1 / 4, 1 / 4], [1 / 4, 3 / 4]]], dtype=torch.float64)
    )


def test_js_by_hand():
    logits, labels = hand_logits(), hand_labels()
    js = pixel_js_divergence(logits, labels)
    expected = [js_by_hand(PROBS[k], LABELS[k]) for k in range(3)] + [0.0]
    assert flat(js) == pytest.approx(expected, rel=1e-12)
    # pixel (0,1) worked out on paper: ½(KL(p‖m) + KL(e_1‖m)), m = (0.25, 0.65, 0.1)
    assert flat(js)[1] == pytest.approx(0.5 * (0.5 * LN2 + 0.3 * math.log(0.3 / 0.65) + 0.2 * LN2 + math.log(1 / 0.65)))
    assert flat(js)[1] == pytest.approx(0.34201, abs=1e-5)
    # the scheme: weights are 1 on valid pixels, the per-pixel loss is JS, the sum divided by |Z|
    assert flat(pixel_weights(logits, labels, "JS")) == [1.0, 1.0, 1.0, 0.0]
    torch.testing.assert_close(Weighting("JS").pixel_loss(logits, labels), js)
    assert Weighting("JS").loss(logits, labels).item() == pytest.approx(expected_loss(expected, [1.0] * 4))


def test_js_limits_zero_and_ln2():
    labels = torch.tensor([[[0, 0, 1]]])
    # pixel 0: a one-hot prediction of its label -> 0; pixel 1: p_y -> 0 -> ln 2; pixel 2: uniform
    logits = torch.tensor([[[60.0, 0.0, 0.0], [-60.0, 0.0, 0.0], [0.0, 0.0, 0.0]]], dtype=torch.float64)
    js = pixel_js_divergence(logits.permute(0, 2, 1).unsqueeze(2), labels)
    assert flat(js)[0] == pytest.approx(0.0, abs=1e-12)
    assert flat(js)[1] == pytest.approx(LN2, abs=1e-12)
    assert flat(js)[2] == pytest.approx(js_by_hand((1 / 3, 1 / 3, 1 / 3), 1))


def test_js_matches_the_general_definition_in_value_and_gradient(example):
    logits, labels = example
    js = pixel_js_divergence(logits, labels)
    assert torch.all(js >= 0) and torch.all(js <= LN2)
    a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    va = Weighting("JS").loss(a, labels)
    vb = js_generic(b, labels).sum((1, 2)) / 24
    torch.testing.assert_close(va, vb)
    va.sum().backward()
    vb.sum().backward()
    torch.testing.assert_close(a.grad, b.grad)
    assert torch.all(a.grad.permute(0, 2, 3, 1)[labels == 255] == 0)  # ignore pixels get no gradient


def test_normalized_correct_logit_losses_by_hand():
    """NCL: −z_y/‖z‖₂ per valid pixel (z = log p here); MaskNCL keeps only the correctly classified pixels (0, 2)."""
    logits, labels = hand_logits(), hand_labels()
    ncl = [
        -math.log(p[y]) / math.sqrt(sum(math.log(q) ** 2 for q in p))
        for p, y in zip(PROBS[:3], LABELS[:3], strict=True)
    ]
    assert flat(Weighting("NCL").pixel_loss(logits, labels)) == pytest.approx([*ncl, 0.0])
    assert flat(Weighting("MaskNCL").pixel_loss(logits, labels)) == pytest.approx([ncl[0], 0.0, ncl[2], 0.0])
    assert Weighting("MaskNCL").loss(logits, labels).item() == pytest.approx(expected_loss([1, 0, 1, 0], ncl + [0]))


# --- inside the attacks --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", MODERN_SCHEMES)
def test_every_modern_scheme_runs_inside_ifgsm_and_fgsm(toy_model, toy_batch, scheme):
    images, labels = toy_batch
    eps = 4 / 255
    for adv in (
        ifgsm(toy_model, images, labels, eps=eps, weighting=scheme),
        fgsm(toy_model, images, labels, eps=eps, weighting=scheme),
    ):
        assert adv.shape == images.shape and adv.dtype == images.dtype
        assert adv.min() >= 0 and adv.max() <= 1
        assert torch.all((adv - images).flatten(1).abs().amax(1) <= eps + 1e-6)
        assert not torch.equal(adv, images)


@pytest.mark.parametrize("scheme", ["SegPGD", "JS"])
def test_pgd_and_alma_prox_pass_the_step(toy_model, toy_batch, scheme):
    images, labels = toy_batch
    adv = pgd(toy_model, images, labels, eps=4 / 255, steps=3, weighting=scheme)
    assert torch.all((adv - images).flatten(1).abs().amax(1) <= 4 / 255 + 1e-6)
    adv = alma_prox(toy_model, images, labels, weighting=scheme, steps=3, lr_init=0.02)
    assert adv.shape == images.shape and adv.min() >= 0 and adv.max() <= 1


def _plain_ifgsm(model, images, labels, steps, pixel_loss):
    eps, alpha = 4 / 255, 1 / 255
    h, w = images.shape[-2:]
    x = images.clone()
    for t in range(1, steps + 1):
        x.requires_grad_(True)
        logits = model(x)
        loss = (pixel_loss(logits, labels, t, steps).sum((1, 2)) / (h * w)).sum()
        (g,) = torch.autograd.grad(loss, x)
        x = torch.min(torch.max(x.detach() + alpha * g.sign(), images - eps), images + eps).clamp(0, 1)
    return x


def test_ifgsm_segpgd_equals_an_independent_loop_with_the_schedule(toy_model, toy_batch):
    images, labels = toy_batch

    def segpgd(logits, labels, t, steps):
        lam = (t - 1) / (2 * steps)
        correct = (logits.argmax(1) == labels).to(logits.dtype).detach()
        ce = F.cross_entropy(logits, labels, ignore_index=255, reduction="none")
        return ((1 - lam) * correct + lam * (1 - correct)) * ce

    expected = _plain_ifgsm(toy_model, images, labels, 5, segpgd)  # n = 5 at eps = 4/255
    torch.testing.assert_close(ifgsm(toy_model, images, labels, eps=4 / 255, weighting="SegPGD"), expected)


def test_ifgsm_js_equals_an_independent_loop(toy_model, toy_batch):
    images, labels = toy_batch
    expected = _plain_ifgsm(toy_model, images, labels, 5, lambda z, y, t, n: js_generic(z, y))
    torch.testing.assert_close(ifgsm(toy_model, images, labels, eps=4 / 255, weighting="JS"), expected)


# --- ignore pixels, and L0 against MaskCE --------------------------------------------------------------------


@pytest.mark.parametrize("scheme", MODERN_SCHEMES)
@pytest.mark.parametrize("ignore_pred", [0, 2])
def test_ignore_pixels_count_nowhere_whatever_they_are_predicted(scheme, ignore_pred):
    """An ignore pixel predicted as class 0 (what 255 · valid maps to) or as C − 1 (where the CosPGD release clamps
    255) gets no weight, no loss and no gradient, and the image's loss is still divided by |Z| = 4."""
    probs = [*PROBS[:3], tuple(0.9 if c == ignore_pred else 0.05 for c in range(3))]
    logits, labels = hand_logits(probs).requires_grad_(), hand_labels()
    step = (4, 4)
    assert flat(pixel_weights(logits, labels, scheme, step=step))[3] == 0.0
    loss = Weighting(scheme).loss(logits, labels, step=step)
    loss.sum().backward()
    assert torch.all(logits.grad[0].flatten(1)[:, 3] == 0)
    # the same image without its ignore pixel's logits mattering: the loss is unchanged
    other = hand_logits([*PROBS[:3], (0.2, 0.2, 0.6)])
    assert loss.item() == pytest.approx(Weighting(scheme).loss(other, labels, step=step).item())


def test_l0_with_a_threshold_below_one_over_C_is_maskce():
    """L0 drops misclassified pixels whose confidence is ≥ the threshold (Eq. 10). Every prediction has confidence
    ≥ 1/C, so below 1/C L0 drops every misclassified pixel: exactly SEA's MaskCE. At 0.75 it keeps the misclassified
    pixels of lower confidence, which is all that separates it from MaskCE."""
    torch.manual_seed(1)
    logits = torch.randn(2, 4, 5, 5, dtype=torch.float64) * 3
    labels = torch.randint(0, 4, (2, 5, 5))
    labels[0, 0, 0] = 255
    a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    la, lb = Weighting("L0", l0_threshold=0.2).loss(a, labels), Weighting("MaskCE").loss(b, labels)
    torch.testing.assert_close(la, lb)
    la.sum().backward()
    lb.sum().backward()
    torch.testing.assert_close(a.grad, b.grad)
    # the hand example: pixel (0,1) is misclassified with confidence 0.5 < 0.75, so L0 keeps it and MaskCE does not
    assert flat(pixel_weights(hand_logits(), hand_labels(), "L0")) == [1.0, 1.0, 1.0, 0.0]
    assert flat(pixel_weights(hand_logits(), hand_labels(), "MaskCE")) == [1.0, 0.0, 1.0, 0.0]
