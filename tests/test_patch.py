"""EOT adversarial patch (docs/attacks.md §EOT patch): placement, EOT, loss, training, evaluation."""

import math

import pytest
import torch
import torch.nn.functional as F

from uwl_utils.attacks import apply_patch, patch_eot, train_patch
from uwl_utils.attacks.base import AttackInfo, success_fraction
from uwl_utils.attacks.patch import PATCH_SIZE, centre_position, eot_apply, patch_loss, patch_shape
from uwl_utils.losses import pixel_cross_entropy

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def data(toy_model):
    """Eight training and six held-out evaluation images, 24×32, labelled by the clean prediction."""
    g = torch.Generator().manual_seed(5)
    train, test = torch.rand(8, 3, 24, 32, generator=g), torch.rand(6, 3, 24, 32, generator=g)
    with torch.no_grad():
        return train, test, toy_model(test).argmax(1)


def small_patch():
    """[3,2,3] with distinct values k/255."""
    return torch.arange(18, dtype=torch.float32).view(3, 2, 3) * 10 / 255


def test_shapes_and_centre_of_the_reference():
    assert patch_shape(PATCH_SIZE, (1024, 2048)) == (300, 600)
    assert centre_position((1024, 2048), (300, 600)) == (362, 724)  # (1024 − 300)/2, (2048 − 600)/2
    assert patch_shape((5, 7), (24, 32)) == (5, 7)  # ints are pixels
    assert patch_shape((0.5, 0.25), (24, 32)) == (12, 8)


def test_apply_patch_places_it_exactly():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 8, 10, generator=g)
    labels = torch.randint(0, 5, (2, 8, 10), generator=g)
    patch = small_patch()
    out, lab = apply_patch(images, patch, position=(1, 2), labels=labels)
    inside = torch.zeros(8, 10, dtype=torch.bool)
    inside[1:3, 2:5] = True
    for n in range(2):
        assert torch.equal(out[n, :, 1:3, 2:5], patch)
        assert out[n, 0, 1, 2] == 0 and out[n, 2, 2, 4] == 170 / 255  # hand-checked corners
        assert torch.equal(out[n][:, ~inside], images[n][:, ~inside])
        assert torch.all(lab[n][inside] == 255) and torch.equal(lab[n][~inside], labels[n][~inside])
    # default: the centre, top-left ((8 − 2)//2, (10 − 3)//2) = (3, 3)
    out, none = apply_patch(images, patch)
    assert none is None and torch.equal(out[:, :, 3:5, 3:6], patch.expand(2, -1, -1, -1))
    # bottom-right corner fits exactly
    out, _ = apply_patch(images, patch, position=(6, 7))
    assert torch.equal(out[0, :, 6:, 7:], patch)


def test_apply_patch_is_differentiable_in_the_patch():
    images = torch.rand(2, 3, 8, 10)
    patch = small_patch().requires_grad_(True)
    out, _ = apply_patch(images, patch, position=(0, 0))
    (g,) = torch.autograd.grad(out.sum(), patch)
    assert torch.equal(g, torch.full_like(patch, 2.0))  # each patch value appears once per image


def test_patch_eot_evaluates_at_the_centre_quantised_and_excludes_the_patch(toy_model, toy_batch):
    images, labels = toy_batch  # 12×16
    patch = torch.rand(3, 4, 6, generator=torch.Generator().manual_seed(1))
    info = AttackInfo()
    adv = patch_eot(toy_model, images, labels, patch=patch, info=info)
    lab = info.labels
    y, x = centre_position((12, 16), (4, 6))
    region = adv[:, :, y : y + 4, x : x + 6]
    assert torch.equal(region, (patch * 255).round().expand(3, -1, -1, -1) / 255)  # 8-bit values
    assert torch.all(lab[:, y : y + 4, x : x + 6] == 255)
    outside = torch.ones(12, 16, dtype=torch.bool)
    outside[y : y + 4, x : x + 6] = False
    assert torch.equal(lab[:, outside], labels[:, outside])
    assert torch.equal(adv[:, :, outside], images[:, :, outside])
    assert adv.min() >= 0 and adv.max() <= 1
    raw = patch_eot(toy_model, images, labels, patch=patch, quantize=False, position=(0, 0))
    assert torch.equal(raw[:, :, :4, :6], patch.expand(3, -1, -1, -1))
    # labels=None: the clean prediction, with the patch area ignored
    info = AttackInfo()
    patch_eot(toy_model, images, None, patch=patch, info=info)
    lab_none = info.labels
    pred = toy_model(images).argmax(1)
    assert torch.equal(lab_none[:, outside], pred[:, outside]) and torch.all(lab_none[:, ~outside] == 255)


def test_eot_transformations_stay_within_the_reference_ranges():
    images = torch.rand(16, 3, 40, 60, generator=torch.Generator().manual_seed(2))
    patch = torch.rand(3, 10, 20, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    out, masks = eot_apply(images, patch, generator=4)
    assert out.shape == images.shape and masks.shape == (16, 40, 60)
    assert out.min() >= 0 and out.max() <= 1
    y0, x0 = centre_position((40, 60), (10, 20))  # (15, 20)
    sizes = set()
    for n in range(16):
        rows, cols = masks[n].any(1).nonzero().flatten(), masks[n].any(0).nonzero().flatten()
        h, w = len(rows), len(cols)
        assert int(masks[n].sum()) == h * w  # a rectangle
        assert 8 <= h <= 12 and 16 <= w <= 24  # ⌊s·h⌋, ⌊s·w⌋ for s in [0.8, 1.2]
        assert y0 - 5 <= rows[0] < y0 + 5 and x0 - 10 <= cols[0] < x0 + 10  # ± half the unscaled patch
        assert torch.equal(out[n][:, ~masks[n]], images[n][:, ~masks[n]])
        sizes.add((h, w, int(rows[0]), int(cols[0])))
    assert len(sizes) > 8  # independent per image
    again, _ = eot_apply(images, patch, generator=4)
    assert torch.equal(out, again)
    (g,) = torch.autograd.grad(out.sum(), patch)
    assert g.abs().sum() > 0
    # no scaling and no noise: the patch itself, somewhere around the centre
    plain, m = eot_apply(images, patch, generator=5, scale=(1.0, 1.0), noise=0.0)
    rows, cols = m[0].any(1).nonzero().flatten(), m[0].any(0).nonzero().flatten()
    y, x = int(rows[0]), int(cols[0])
    torch.testing.assert_close(plain[0, :, y : y + 10, x : x + 20], patch.detach())


def test_patch_loss_by_hand():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]]).T.reshape(1, 2, 1, 4)
    labels = torch.tensor([[[0, 0, 255, 1]]])
    patch_mask = torch.tensor([[[False, False, False, True]]])
    # Ω = pixels 0, 1 (pixel 2 ignored, pixel 3 under the patch); pixel 0 correct, pixel 1 wrong
    loss_nm, loss_m, gamma = patch_loss(logits, labels, patch_mask, gamma=0.0)
    torch.testing.assert_close(loss_nm, torch.tensor(math.log(1 + math.exp(-2))))
    torch.testing.assert_close(loss_m, torch.tensor(math.log(1 + math.exp(1))))
    assert gamma == 0
    _, _, dynamic = patch_loss(logits, labels, patch_mask, gamma=-1)
    torch.testing.assert_close(dynamic, torch.tensor(1 / 3))  # |Ω_c| / (#pixels − #patch pixels), ignore counted


def test_training_beats_the_random_initial_patch_on_held_out_images(toy_model, data):
    train, test, test_labels = data

    def evaluate(patch):
        info = AttackInfo()
        adv = patch_eot(toy_model, test, test_labels, patch=patch, info=info)
        lab = info.labels
        with torch.no_grad():
            logits = toy_model(adv)
        ce = pixel_cross_entropy(logits, lab).sum() / (lab != 255).sum()
        return success_fraction(logits, lab).mean().item(), ce.item()

    kw = dict(size=(0.4, 0.4), batch_size=4, generator=0)
    random_patch = train_patch(toy_model, train, None, epochs=0, **kw)  # the same U[0,1] start, untrained
    trained = train_patch(toy_model, train, None, epochs=25, **kw)
    assert trained.shape == random_patch.shape == (3, 10, 13)
    assert trained.min() >= 0 and trained.max() <= 1
    apsr_random, ce_random = evaluate(random_patch)
    apsr_trained, ce_trained = evaluate(trained)
    assert apsr_trained > apsr_random + 0.01 and ce_trained > 1.3 * ce_random
    assert torch.equal(trained, train_patch(toy_model, train, None, epochs=25, **kw))  # seeded
    # the other loss mixes and training without EOT also push the patch the right way
    for options in (dict(gamma=-1), dict(gamma=1.0), dict(eot=False)):
        p = train_patch(toy_model, train, None, epochs=10, **{**kw, **options})
        assert evaluate(p)[1] > ce_random


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m, x, y: apply_patch(x, torch.rand(2, 4)), "patch must be a floating tensor \\[3,h,w\\]"),
        (lambda m, x, y: apply_patch(x, torch.rand(3, 4, 4) * 2), "patch values must lie in \\[0, 1\\]"),
        (lambda m, x, y: apply_patch(x, torch.rand(3, 20, 4)), "larger than the images"),
        (lambda m, x, y: apply_patch(x, torch.rand(3, 4, 4), position=(10, 0)), "does not fit"),
        (lambda m, x, y: apply_patch(x, torch.rand(3, 4, 4), position=(-1, 0)), "does not fit"),
        (lambda m, x, y: apply_patch(x * 255, torch.rand(3, 4, 4)), "\\[0, 1\\]"),
        (lambda m, x, y: apply_patch(x, torch.rand(3, 4, 4), labels=y[:, :3]), "labels must be an integer"),
        (lambda m, x, y: patch_eot(m, x, y[:, :3], patch=torch.rand(3, 4, 4)), "shape"),
        (lambda m, x, y: train_patch(m, x, y, epochs=-1), "epochs"),
        (lambda m, x, y: train_patch(m, x, y, lr=0), "lr"),
        (lambda m, x, y: train_patch(m, x, y, gamma=2.0), "gamma"),
        (lambda m, x, y: train_patch(m, x, y, scale=(1.2, 0.8)), "scale"),
        (lambda m, x, y: train_patch(m, x, y, size=(1.5, 0.5)), "fraction"),
        (lambda m, x, y: train_patch(m, x, y, size=(40, 4)), "does not fit"),
        (lambda m, x, y: patch_loss(F.one_hot(y.clamp(max=4)).permute(0, 3, 1, 2).float(), y, y == 0, -2), "gamma"),
    ],
)
def test_bad_input(toy_model, toy_batch, call, match):
    images, labels = toy_batch
    with pytest.raises(ValueError, match=match):
        call(toy_model, images, labels)


def test_patch_loss_sums_over_the_batch_and_the_dynamic_gamma_counts_every_image():
    # two 1×3 images, 2 classes; image 0: pixel 2 under the patch; image 1: pixel 0 ignored, pixel 2 under the patch
    logits = torch.tensor([[[[1.0, 0.0, 5.0]], [[0.0, 2.0, 0.0]]], [[[0.0, 0.0, 0.0]], [[3.0, 0.0, 1.0]]]])
    labels = torch.tensor([[[0, 0, 1]], [[255, 0, 0]]])
    patch_mask = torch.tensor([[[False, False, True]], [[False, False, True]]])
    loss_nm, loss_m, gamma = patch_loss(logits, labels, patch_mask, gamma=0.25)
    # Ω: (0,0) correct CE log(1+e^-1); (0,1) wrong CE log(1+e^2); (1,1) a tie, argmax 0 = label: correct, CE log 2
    torch.testing.assert_close(loss_nm, torch.tensor(math.log(1 + math.exp(-1)) + math.log(2)))
    torch.testing.assert_close(loss_m, torch.tensor(math.log(1 + math.exp(2))))
    assert gamma == 0.25
    _, _, dynamic = patch_loss(logits, labels, patch_mask, gamma=-1)
    torch.testing.assert_close(dynamic, torch.tensor(2 / 4))  # |Ω_c| = 2 over 6 − 2 patch pixels


def test_one_training_step_is_adam_ascending_the_mixed_normalised_gradients_by_hand(toy_model, data):
    train = data[0][:4]
    labels = torch.randint(0, 5, (4, 24, 32), generator=torch.Generator().manual_seed(3))  # many pixels misclassified
    lr, gamma = 0.05, 0.3
    p0 = torch.rand((3, 6, 8), generator=torch.Generator().manual_seed(7)).requires_grad_(True)  # train_patch's start
    y, x = centre_position((24, 32), (6, 8))
    patched = train.clone()
    patched[:, :, y : y + 6, x : x + 8] = p0  # the patch at the centre, no EOT
    logits = toy_model(patched)
    ce = F.cross_entropy(logits, labels, reduction="none")
    omega = torch.ones(24, 32, dtype=torch.bool)
    omega[y : y + 6, x : x + 8] = False
    correct = logits.argmax(1) == labels
    (g_nm,) = torch.autograd.grad((ce * (omega & correct)).sum(), p0, retain_graph=True)
    (g_m,) = torch.autograd.grad((ce * (omega & ~correct)).sum(), p0)
    d = gamma * g_nm / g_nm.norm() + (1 - gamma) * g_m / g_m.norm()
    d = d / d.norm()
    # Adam's first step with default betas: m̂ = ∇ = −d, v̂ = d², p ← p − lr·m̂ / (√v̂ + 1e-8); then clip to [0, 1]
    expected = (p0.detach() + lr * d / (d.abs() + 1e-8)).clamp(0, 1)
    trained = train_patch(toy_model, train, labels, size=(6, 8), epochs=1, batch_size=4, lr=lr, gamma=gamma,
                          eot=False, generator=7)  # fmt: skip
    torch.testing.assert_close(trained, expected, atol=1e-5, rtol=0)


def test_a_large_learning_rate_still_leaves_the_patch_in_0_1_and_only_its_area_changes(toy_model, data):
    train, test, test_labels = data
    patch = train_patch(toy_model, train, None, size=(0.4, 0.4), epochs=3, batch_size=4, lr=5.0, generator=1)
    assert patch.min() >= 0 and patch.max() <= 1
    assert ((patch == 0) | (patch == 1)).float().mean() > 0.5  # the steps overshoot; the clip holds them
    info = AttackInfo()
    adv = patch_eot(toy_model, test, test_labels, patch=patch, info=info)
    lab = info.labels
    assert adv.min() >= 0 and adv.max() <= 1
    area = lab == 255  # the evaluation ignores exactly the patch's area ...
    h, w = patch.shape[1:]
    assert area.flatten(1).sum(1).tolist() == [h * w] * len(test)
    assert torch.equal(adv.permute(1, 0, 2, 3)[:, ~area], test.permute(1, 0, 2, 3)[:, ~area])  # ... and nothing else
