"""Sparse-pixel I-FGSM (docs/attacks.md §Sparse I-FGSM): pixel budget, selection, ε-ball, weighting, seeds."""

import pytest
import torch

from uwl_utils.attacks import ifgsm, sparse_ifgsm
from uwl_utils.attacks.base import success_fraction
from uwl_utils.attacks.sparse import pixel_budget, select_pixels
from uwl_utils.losses import Weighting
from uwl_utils.uncertainty import entropy

pytestmark = pytest.mark.usefixtures("one_thread")


def changed_pixels(adv, images):
    """[N,H,W] bool: pixels where any channel differs."""
    return (adv != images).any(1)


def test_pixel_budget():
    assert pixel_budget(1024, 2048, n_pixels=300 * 600) == 180_000  # the paper's budget, 8.58 % of the image
    assert pixel_budget(12, 16, fraction=0.25) == 48
    assert pixel_budget(12, 16, fraction=0.1) == 19  # round(19.2)
    assert pixel_budget(12, 16, fraction=1.0) == 192


@pytest.mark.parametrize("budget", [dict(fraction=0.25), dict(n_pixels=30)])
def test_only_the_selected_valid_pixels_change_and_exactly_as_many(toy_model, toy_batch, budget):
    images, labels = toy_batch
    k = pixel_budget(12, 16, **budget)
    adv = sparse_ifgsm(toy_model, images, labels, eps=16 / 255, generator=3, **budget)
    mask = select_pixels(labels, generator=3, **budget)
    assert mask.flatten(1).sum(1).tolist() == [k] * 3
    assert not (mask & (labels == 255)).any()  # only labelled pixels are chosen
    changed = changed_pixels(adv, images)
    assert not (changed & ~mask).any()  # every other pixel (all channels) is bit-for-bit unchanged
    assert torch.all(changed.flatten(1).sum(1) >= 0.9 * k)  # and the chosen ones do move
    assert torch.all((adv - images).flatten(1).abs().amax(1) <= 16 / 255 + 1e-6)
    assert adv.min() >= 0 and adv.max() <= 1


def test_fewer_valid_pixels_than_the_budget_takes_all_of_them(toy_model, toy_batch):
    images, labels = toy_batch
    labels = labels.clone()
    labels[0, 2:] = 255  # image 0 keeps at most 32 labelled pixels
    n_valid = int((labels[0] != 255).sum())
    mask = select_pixels(labels, n_pixels=100)
    assert torch.equal(mask[0], labels[0] != 255) and n_valid < 100
    assert mask[1:].flatten(1).sum(1).tolist() == [100, 100]
    adv = sparse_ifgsm(toy_model, images, labels, n_pixels=100, eps=16 / 255)
    assert not (changed_pixels(adv, images)[0] & (labels[0] == 255)).any()


def test_seeded_selection_is_reproducible_shared_across_images_and_batch_independent(toy_model, toy_batch):
    images, labels = toy_batch
    full = torch.zeros(3, 12, 16, dtype=torch.long)  # every pixel labelled
    a, b, c = (select_pixels(full, fraction=0.2, generator=s) for s in (5, 5, 6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a[0], a[1]) and torch.equal(a[0], a[2])  # one field for every image, as the paper's code
    assert torch.equal(select_pixels(full, fraction=0.2), select_pixels(full, fraction=0.2))  # default seed 0
    # the attack: same seed → same result; an image's result does not depend on its batch
    kw = dict(fraction=0.25, eps=16 / 255, generator=5)
    x = sparse_ifgsm(toy_model, images, labels, **kw)
    assert torch.equal(x, sparse_ifgsm(toy_model, images, labels, **kw))
    assert not torch.equal(x, sparse_ifgsm(toy_model, images, labels, **{**kw, "generator": 6}))
    single = torch.cat([sparse_ifgsm(toy_model, images[i : i + 1], labels[i : i + 1], **kw) for i in range(3)])
    torch.testing.assert_close(x, single, atol=1e-6, rtol=0)


def test_uncertainty_selection_takes_the_most_uncertain_valid_pixels(toy_model, toy_batch):
    images, labels = toy_batch
    with torch.no_grad():
        probs = toy_model(images).softmax(1)
    mask = select_pixels(labels, n_pixels=20, selection="uncertainty", probs=probs, measure="E")
    e = entropy(probs).masked_fill(labels == 255, -1)
    for i in range(3):
        threshold = e[i].flatten().topk(20).values[-1]
        assert int(mask[i].sum()) == 20
        assert torch.all(e[i][mask[i]] >= threshold) and torch.all(e[i][~mask[i] & (labels[i] != 255)] <= threshold)
    adv = sparse_ifgsm(toy_model, images, labels, n_pixels=20, selection="uncertainty", eps=16 / 255)
    assert not (changed_pixels(adv, images) & ~mask).any()


def test_full_budget_is_plain_ifgsm(toy_model, toy_batch):
    images, _ = toy_batch  # labels=None: every pixel is labelled by the clean prediction
    for scheme in ("L0", "E"):
        a = sparse_ifgsm(toy_model, images, None, fraction=1.0, eps=8 / 255, weighting=scheme)
        assert torch.equal(a, ifgsm(toy_model, images, None, eps=8 / 255, weighting=scheme))


def test_raises_the_misclassified_share_and_more_pixels_raise_it_more(toy_model, toy_batch):
    images, labels = toy_batch
    clean = success_fraction(toy_model(images), labels)
    fracs = [
        success_fraction(toy_model(sparse_ifgsm(toy_model, images, labels, fraction=f, eps=16 / 255)), labels)
        for f in (0.1, 0.5)
    ]
    assert torch.all(fracs[0] > clean + 0.05)
    assert torch.all(fracs[1] > fracs[0])


def test_default_is_l0_weighting_recomputed_every_step(toy_model, toy_batch, monkeypatch):
    images, labels = toy_batch
    calls = []
    original = Weighting._weights  # what the loss calls for the weights of the current logits

    def spy(self, logits, labels_, step, log_probs):
        calls.append((self.scheme, step))
        return original(self, logits, labels_, step, log_probs)

    monkeypatch.setattr(Weighting, "_weights", spy)
    sparse_ifgsm(toy_model, images, labels, fraction=0.3, eps=4 / 255)  # n = 5 steps at ε = 4
    assert calls == [("L0", (t, 5)) for t in range(1, 6)]
    calls.clear()
    sparse_ifgsm(toy_model, images, labels, fraction=0.3, eps=4 / 255, steps=2, weighting="E")
    assert calls == [("E", (1, 2)), ("E", (2, 2))]


def test_weighting_changes_the_result(toy_model, toy_batch):
    images, labels = toy_batch
    kw = dict(fraction=0.5, eps=16 / 255)
    results = [sparse_ifgsm(toy_model, images, labels, weighting=w, **kw) for w in ("none", "L0", "E")]
    assert not torch.equal(results[0], results[1]) and not torch.equal(results[0], results[2])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(), "exactly one of n_pixels and fraction"),
        (dict(n_pixels=10, fraction=0.1), "exactly one of n_pixels and fraction"),
        (dict(fraction=0.0), "fraction must lie in"),
        (dict(fraction=1.5), "fraction must lie in"),
        (dict(n_pixels=0), "pixel budget"),
        (dict(n_pixels=12 * 16 + 1), "pixel budget"),
        (dict(n_pixels=2.5), "n_pixels must be an integer"),
        (dict(fraction=0.1, selection="grid"), "unknown selection"),
        (dict(fraction=0.1, selection="uncertainty", measure="X"), "unknown uncertainty measure"),
        (dict(fraction=0.1, eps=16), "did you mean 16/255"),
        (dict(fraction=0.1, alpha=0), "alpha"),
        (dict(fraction=0.1, steps=0), "steps must be at least 1"),
        (dict(fraction=0.1, weighting="CR"), "cr_pgd only"),
    ],
)
def test_bad_parameters(toy_model, toy_batch, kwargs, match):
    images, labels = toy_batch
    with pytest.raises(ValueError, match=match):
        sparse_ifgsm(toy_model, images, labels, **kwargs)


def test_bad_images_and_labels(toy_model, toy_batch):
    images, labels = toy_batch
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sparse_ifgsm(toy_model, images * 255, labels, fraction=0.1)
    with pytest.raises(ValueError, match="shape"):
        sparse_ifgsm(toy_model, images, labels[:, :4], fraction=0.1)
    with pytest.raises(ValueError, match="needs probs"):
        select_pixels(labels, fraction=0.1, selection="uncertainty")


@pytest.mark.parametrize("selection", ["random", "uncertainty"])
def test_selection_never_takes_ignore_pixels_not_even_the_most_uncertain_and_is_seeded(toy_model, toy_batch, selection):
    images, labels = toy_batch
    with torch.no_grad():
        probs = toy_model(images).softmax(1)
    labels = labels.clone()
    top = entropy(probs).flatten(1).topk(40, dim=1).indices  # ignore exactly the 40 most uncertain pixels per image
    labels.view(3, -1).scatter_(1, top, 255)
    kw = dict(n_pixels=50, selection=selection, probs=probs)
    for seed in (0, 1, 2):
        mask = select_pixels(labels, generator=seed, **kw)
        assert mask.flatten(1).sum(1).tolist() == [50] * 3  # exactly the budget
        assert not (mask & (labels == 255)).any()  # never an ignore pixel
        assert torch.equal(mask, select_pixels(labels, generator=seed, **kw))  # same seed, same pixels
        gen = torch.Generator().manual_seed(seed)  # a generator seeded alike draws the same field
        assert torch.equal(mask, select_pixels(labels, generator=gen, **kw))
    adv = sparse_ifgsm(toy_model, images, labels, n_pixels=50, selection=selection, eps=16 / 255)
    changed = changed_pixels(adv, images)
    assert not (changed & (labels == 255)).any()
    assert torch.all(changed.flatten(1).sum(1) <= 50)
    assert torch.equal(adv, sparse_ifgsm(toy_model, images, labels, n_pixels=50, selection=selection, eps=16 / 255))
