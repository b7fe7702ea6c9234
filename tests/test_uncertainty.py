import math

import pytest
import torch

from uwl_utils.uncertainty import entropy, margin, max_min_difference, mean_margin, uncertainty


def probs_of(*pixels):
    """[1,C,1,P] probability tensor from per-pixel probability vectors."""
    return torch.tensor(pixels, dtype=torch.float64).T.reshape(1, len(pixels[0]), 1, len(pixels))


def h(*ps):
    return -sum(p * math.log(p) for p in ps if p > 0)


CASES = [
    # probabilities,       M = p1 - p2, D = p1 - pC, Mbar = sum (p1 - pc)/(C-1), E (unnormalised)
    ((1.0, 0.0, 0.0), 1.0, 1.0, 1.0, 0.0),  # one-hot
    ((0.25,) * 4, 0.0, 0.0, 0.0, math.log(4)),  # uniform
    ((0.4, 0.4, 0.2), 0.0, 0.2, 0.1, h(0.4, 0.4, 0.2)),  # tie at the top: (0 + 0.2)/2
    ((0.7, 0.3), 0.4, 0.4, 0.4, h(0.7, 0.3)),  # two classes: all three margins coincide
    ((0.5, 0.3, 0.2), 0.2, 0.3, 0.25, h(0.5, 0.3, 0.2)),  # Mbar = (0.2 + 0.3)/2
]


@pytest.mark.parametrize("p, m, d, mbar, e", CASES)
def test_measures_by_hand(p, m, d, mbar, e):
    probs = probs_of(p)
    assert margin(probs).item() == pytest.approx(m, abs=1e-12)
    assert max_min_difference(probs).item() == pytest.approx(d, abs=1e-12)
    assert mean_margin(probs).item() == pytest.approx(mbar, abs=1e-12)
    assert entropy(probs, normalize=False).item() == pytest.approx(e, abs=1e-12)
    assert entropy(probs).item() == pytest.approx(e / math.log(len(p)), abs=1e-12)
    # the weighting's U (Eq. 9) is 1 - margin for the margins and E itself
    for measure, value in [("M", 1 - m), ("D", 1 - d), ("Mbar", 1 - mbar)]:
        assert uncertainty(probs, measure).item() == pytest.approx(value, abs=1e-12)
    assert uncertainty(probs, "E").item() == pytest.approx(e / math.log(len(p)), abs=1e-12)
    assert uncertainty(probs, "E", normalize_entropy=False).item() == pytest.approx(e, abs=1e-12)


def test_uncertainty_rejects_an_unknown_measure():
    with pytest.raises(ValueError, match="unknown uncertainty measure 'V'"):
        uncertainty(probs_of((0.5, 0.5)), "V")


def test_batched_shapes_and_per_pixel_independence():
    probs = probs_of((1.0, 0.0, 0.0), (0.5, 0.3, 0.2), (0.4, 0.4, 0.2))
    probs = torch.cat([probs, probs.flip(-1)])  # [2,3,1,3]
    out = margin(probs)
    assert out.shape == (2, 1, 3)
    torch.testing.assert_close(out[0, 0], torch.tensor([1.0, 0.2, 0.0], dtype=torch.float64))
    torch.testing.assert_close(out[1], out[0].flip(-1))


def test_mean_margin_depends_on_top_probability_only():
    a, b = probs_of((0.5, 0.49, 0.01)), probs_of((0.5, 0.25, 0.25))
    torch.testing.assert_close(mean_margin(a), mean_margin(b))
    assert margin(a).item() != pytest.approx(margin(b).item())


def test_entropy_gradient_is_finite_at_zero_probability():
    probs = probs_of((1.0, 0.0, 0.0)).requires_grad_()
    entropy(probs).sum().backward()
    assert torch.isfinite(probs.grad).all()


# Independent references: the textbook formulas with topk / amax / amin and an explicit logarithm.
REFERENCES = {
    margin: lambda p: p.topk(2, dim=1).values[:, 0] - p.topk(2, dim=1).values[:, 1],
    max_min_difference: lambda p: p.amax(1) - p.amin(1),
    mean_margin: lambda p: (p.amax(1, keepdim=True) - p).sum(1) / (p.shape[1] - 1),
    entropy: lambda p: -(p * p.log()).sum(1) / math.log(p.shape[1]),
}


@pytest.mark.parametrize("measure", list(REFERENCES))
def test_values_and_gradients_match_the_textbook_formulas(measure):
    """The measures select p(1), p(2), p(C) with masks; without ties that is topk's / amax's value and gradient."""
    gen = torch.Generator().manual_seed(1)
    logits = (3 * torch.randn(2, 19, 6, 5, generator=gen, dtype=torch.float64)).requires_grad_()
    upstream = torch.rand(2, 6, 5, generator=gen, dtype=torch.float64)  # a weighted sum, as in a loss
    ours_value = measure(logits.softmax(1))
    (ours_grad,) = torch.autograd.grad((ours_value * upstream).sum(), logits)
    ref_value = REFERENCES[measure](logits.softmax(1))
    (ref_grad,) = torch.autograd.grad((ref_value * upstream).sum(), logits)
    torch.testing.assert_close(ours_value, ref_value)
    torch.testing.assert_close(ours_grad, ref_grad)


@pytest.mark.parametrize("measure", [margin, max_min_difference, mean_margin])
def test_ties_give_topk_values(measure):
    gen = torch.Generator().manual_seed(2)
    quantised = torch.randint(1, 4, (3, 5, 4, 4), generator=gen).double()  # many ties at the top and bottom
    quantised[0, :, 0, 0] = 1.0  # every class ties
    probs = quantised / quantised.sum(1, keepdim=True)
    torch.testing.assert_close(measure(probs), REFERENCES[measure](probs))


@pytest.mark.parametrize("measure", [margin, max_min_difference, mean_margin, entropy])
def test_rejects_bad_input(measure):
    with pytest.raises(ValueError, match="sum to 1"):
        measure(torch.randn(1, 3, 2, 2))  # logits, not probabilities
    with pytest.raises(ValueError, match=r"\[N,C,H,W\]"):
        measure(torch.ones(3, 2, 2) / 3)
    with pytest.raises(ValueError, match="floating"):
        measure(torch.ones(1, 3, 2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="at least 2 classes"):
        measure(torch.ones(1, 1, 2, 2))
