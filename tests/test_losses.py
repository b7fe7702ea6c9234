import math

import pytest
import torch
import torch.nn.functional as F

from uwl_utils.losses import PAPER_SCHEMES, Weighting, as_weighting, pixel_weights


def logits_for(probs):
    """Logits [1,C,1,P] whose softmax gives the per-pixel probability vectors ``probs``."""
    return torch.tensor(probs, dtype=torch.float64).log().T.reshape(1, len(probs[0]), 1, len(probs))


@pytest.fixture
def example():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 4, 6, dtype=torch.float64)
    labels = torch.randint(0, 5, (2, 4, 6))
    labels[0, 0, :3] = 255
    labels[1, 3, 5] = 255
    return logits, labels


def test_none_weights_are_one_on_valid_and_zero_on_ignore(example):
    logits, labels = example
    w = pixel_weights(logits, labels, "none")
    torch.testing.assert_close(w, (labels != 255).double())


def test_none_loss_is_mean_ce_times_valid_fraction(example):
    logits, labels = example
    loss = Weighting("none").loss(logits, labels)
    for i in range(2):
        n_valid = (labels[i] != 255).sum()
        expected = F.cross_entropy(logits[i : i + 1], labels[i : i + 1], ignore_index=255) * n_valid / labels[i].numel()
        torch.testing.assert_close(loss[i], expected)


def test_entropy_weight_by_hand():
    probs = [(0.5, 0.3, 0.2), (1 / 3, 1 / 3, 1 / 3)]
    logits, labels = logits_for(probs), torch.tensor([[[0, 255]]])
    e0 = -(0.5 * math.log(0.5) + 0.3 * math.log(0.3) + 0.2 * math.log(0.2))
    w = pixel_weights(logits, labels, "E")
    torch.testing.assert_close(w, torch.tensor([[[math.exp(e0 / math.log(3)), 0.0]]], dtype=torch.float64))
    w_raw = pixel_weights(logits, labels, "E", normalize_entropy=False)
    assert w_raw[0, 0, 0].item() == pytest.approx(math.exp(e0))


@pytest.mark.parametrize("scheme, u", [("M", 0.8), ("D", 0.7), ("Mbar", 0.75)])
def test_margin_weights_by_hand(scheme, u):
    w = pixel_weights(logits_for([(0.5, 0.3, 0.2)]), torch.tensor([[[1]]]), scheme)
    assert w.item() == pytest.approx(math.exp(u))


def test_l0_keeps_exactly_correct_or_unconfident_pixels():
    probs = [
        (0.9, 0.05, 0.05),  # label 0: correct and confident -> kept
        (0.9, 0.05, 0.05),  # label 1: wrong, confidence 0.9 >= 0.75 -> dropped
        (0.75, 0.2, 0.05),  # label 1: wrong, exactly at the threshold -> dropped (>=)
        (0.6, 0.3, 0.1),  # label 1: wrong but below the threshold -> kept
        (0.9, 0.05, 0.05),  # ignore -> 0
    ]
    labels = torch.tensor([[[0, 1, 1, 1, 255]]])
    w = pixel_weights(logits_for(probs), labels, "L0")
    assert w.flatten().tolist() == [1.0, 0.0, 0.0, 1.0, 0.0]
    # a lower threshold also drops the third wrong pixel
    w = pixel_weights(logits_for(probs), labels, "L0", l0_threshold=0.5)
    assert w.flatten().tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]


def test_l0_on_logits_reproduces_the_published_code():
    # raw max logit compared with a strict ">": 0.75 itself is kept, 0.76 dropped
    logits = torch.tensor([[0.75, 0.76, 0.2], [0.1, 0.1, 5.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    logits = logits.reshape(1, 3, 1, 3)  # rows are classes, columns pixels
    labels = torch.tensor([[[0, 1, 2]]])
    # pixel 0 logits (0.75, 0.1, 0.0): argmax 0 = label -> kept
    # pixel 1 logits (0.76, 0.1, 0.0): argmax 0 != 1, 0.76 > 0.75 -> dropped
    # pixel 2 logits (0.2, 5.0, 0.0): argmax 1 != 2, 5.0 > 0.75 -> dropped
    w = pixel_weights(logits, labels, "L0", l0_on="logits")
    assert w.flatten().tolist() == [1.0, 0.0, 0.0]
    logits_at = torch.tensor([0.75, 0.1, 0.0], dtype=torch.float64).reshape(1, 3, 1, 1)
    assert pixel_weights(logits_at, torch.tensor([[[1]]]), "L0", l0_on="logits").item() == 1.0


def test_l0_plus_e_is_the_product(example):
    logits, labels = example
    torch.testing.assert_close(
        pixel_weights(logits, labels, "L0+E"),
        pixel_weights(logits, labels, "L0") * pixel_weights(logits, labels, "E"),
    )


def test_l0_zeroed_pixels_get_no_gradient():
    probs = [(0.9, 0.05, 0.05), (0.9, 0.05, 0.05), (0.6, 0.3, 0.1)]
    logits = logits_for(probs).requires_grad_()
    labels = torch.tensor([[[0, 1, 1]]])
    Weighting("L0").loss(logits, labels).sum().backward()
    grad = logits.grad[0, :, 0]
    assert torch.all(grad[:, 1] == 0)  # the confidently wrong pixel
    assert torch.all(grad[:, 0] != 0) and torch.all(grad[:, 2] != 0)


def test_detach_weights_changes_only_the_gradient(example):
    logits, labels = example
    grads, values = {}, {}
    for detach in (False, True):
        x = logits.clone().requires_grad_()
        loss = Weighting("E", detach_weights=detach).loss(x, labels).sum()
        loss.backward()
        grads[detach], values[detach] = x.grad, loss.detach()
    torch.testing.assert_close(values[False], values[True])
    assert not torch.allclose(grads[False], grads[True])
    # detached: the gradient is that of a constant-weighted CE
    w = pixel_weights(logits, labels, "E").detach()
    x = logits.clone().requires_grad_()
    ((w * F.cross_entropy(x, labels, ignore_index=255, reduction="none")).sum((1, 2)) / 24).sum().backward()
    torch.testing.assert_close(grads[True], x.grad)


@pytest.mark.parametrize("scheme", PAPER_SCHEMES)
def test_every_scheme_is_zero_on_ignore_and_nonnegative(example, scheme):
    logits, labels = example
    w = pixel_weights(logits, labels, scheme)
    assert w.shape == labels.shape
    assert torch.all(w[labels == 255] == 0) and torch.all(w >= 0)


def test_record_holds_scheme_and_options():
    rec = Weighting("L0", l0_on="logits").as_record()
    assert rec == {
        "weighting": "L0",
        "detach_weights": None,
        "normalize_entropy": True,
        "l0_threshold": 0.75,
        "l0_on": "logits",
    }
    assert as_weighting("E") == Weighting("E")


def test_bad_input(example):
    logits, labels = example
    with pytest.raises(ValueError, match="unknown weighting scheme 'X'.*known schemes: none, M"):
        pixel_weights(logits, labels, "X")
    with pytest.raises(ValueError, match="shape"):
        pixel_weights(logits, labels[:, :3], "E")
    with pytest.raises(ValueError, match="integer"):
        pixel_weights(logits, labels.double(), "E")
    bad = labels.clone()
    bad[0, 1, 1] = 7
    with pytest.raises(ValueError, match=r"outside 0\.\.4 and the ignore label 255 \(found \[7\]\)"):
        pixel_weights(logits, bad, "E")
    with pytest.raises(ValueError, match="l0_on"):
        Weighting("L0", l0_on="softmax")
    with pytest.raises(ValueError, match="l0_threshold"):
        Weighting("L0", l0_threshold=1.5)
    with pytest.raises(ValueError, match=r"\[N,C,H,W\]"):
        pixel_weights(logits[0], labels[0], "E")
