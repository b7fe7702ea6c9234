"""APGD: the checkpoint rule on scripted losses, an independent plain loop, box and ball, batch independence."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from uwl_utils.attacks import apgd
from uwl_utils.attacks.apgd import SEA_SCHEDULE, StepSizeControl, checkpoint_halves, stage_lengths
from uwl_utils.attacks.base import AttackInfo, success_fraction

CHECKPOINTS_100 = [22, 41, 57, 70, 80, 87, 93, 99]  # periods 22, 19, 16, 13, 10, 7, then 6 = ⌊0.06·100⌋


def _scripted_losses(t: int) -> list[float]:
    """Tracked loss after iteration t (t = 0: the start) for four images."""
    rising = float(t)
    flat = 0.0
    rises_then_flat = float(min(t, 30))
    # up to 22 by iteration 22, then a drop and a slow climb that never gets back to 22
    sawtooth = float(t) if t <= 22 else 0.1 * (t - 23)
    return [rising, flat, rises_then_flat, sawtooth]


def test_step_size_halves_exactly_at_the_expected_checkpoints():
    control = StepSizeControl(100, torch.tensor(_scripted_losses(0)))
    halved_at = {i: [] for i in range(4)}
    for t in range(1, 101):
        _, halve = control.observe(torch.tensor(_scripted_losses(t)))
        for i in torch.nonzero(halve).flatten().tolist():
            halved_at[i].append(t)
    assert halved_at[0] == []  # the loss rises at every step and the best keeps improving
    assert halved_at[1] == CHECKPOINTS_100  # never rises: rule (1) at every checkpoint
    assert halved_at[2] == CHECKPOINTS_100[1:]  # 22 rises of 22 at the first; 8 of 19 at the second, then none
    # rule (2): rises often enough, but the best (22) never improves; off right after a halving
    assert halved_at[3] == [41, 70, 87, 99]


def test_checkpoint_rule_counts_rises_with_at_most_rho_k():
    best = torch.tensor([9.0, 9.0])
    window = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [2.5, 4.0]])  # 3 and 4 rises of k = 4
    off = torch.tensor([True, True])
    assert checkpoint_halves(window, best, best - 1, off, 0.75).tolist() == [True, False]
    # rule (2): not halved last time and the best has not risen since
    assert checkpoint_halves(window, best, best, ~off, 0.75).tolist() == [True, True]
    assert checkpoint_halves(window, best, best - 1, ~off, 0.75).tolist() == [True, False]


def test_stage_lengths_follow_the_release():
    assert stage_lengths(300, SEA_SCHEDULE) == [90, 90, 120]
    assert stage_lengths(10, SEA_SCHEDULE) == [3, 3, 4]
    assert stage_lengths(7, ((1.0, 1.0),)) == [7]


def _plain_apgd(model, image, label, eps, steps):
    """Single-image ℓ∞ APGD with CE, written from Croce & Hein (2020) Alg. 1 with Python scalars."""
    rho, alpha = 0.75, 0.75
    n = label.numel()

    def loss_grad(x):
        x = x.clone().requires_grad_(True)
        logits = model(x)
        loss = F.cross_entropy(logits, label, ignore_index=255, reduction="sum") / n
        (g,) = torch.autograd.grad(loss, x)
        valid = label != 255
        frac = ((logits.argmax(1) != label) & valid).sum().item() / max(valid.sum().item(), 1)
        return loss.item(), g, frac

    def proj(x):
        return torch.min(torch.max(x, image - eps), image + eps).clamp(0, 1)

    x = image.clone()
    f, g, frac = loss_grad(x)
    best_frac, best = frac, x
    f_max, x_max, g_max = f, x, g
    eta, x_prev = 2 * eps, x
    period, checkpoint, history, halved_last, f_max_last = max(int(0.22 * steps), 1), 0, [f], True, f
    for i in range(steps):
        z = proj(x + eta * g.sign())
        a = 1.0 if i == 0 else alpha
        x, x_prev = proj(x + a * (z - x) + (1 - a) * (x - x_prev)), x
        f, g, frac = loss_grad(x)
        if frac >= best_frac and best_frac < 1:
            best_frac, best = frac, x
        if f > f_max:
            f_max, x_max, g_max = f, x, g
        history.append(f)
        if i + 1 == checkpoint + period:
            window = history[checkpoint:]
            rises = sum(b > a for a, b in zip(window[:-1], window[1:], strict=True))
            halve = rises <= rho * period or (not halved_last and f_max_last >= f_max)
            if halve:
                eta, x, g = eta / 2, x_max, g_max
            halved_last, f_max_last, checkpoint = halve, f_max, i + 1
            period = max(period - max(int(0.03 * steps), 1), max(int(0.06 * steps), 1))
    return best


def test_apgd_equals_an_independent_single_image_loop(toy_model, toy_batch):
    images, labels = toy_batch
    adv = apgd(toy_model, images, labels, eps=4 / 255, steps=20)
    for i in range(images.shape[0]):
        expected = _plain_apgd(toy_model, images[i : i + 1], labels[i : i + 1], 4 / 255, 20)
        torch.testing.assert_close(adv[i : i + 1], expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("scheme", ["none", "E", "L0", "SegPGD", "MaskNCL"])
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_never_leaves_the_box_or_the_ball(toy_model, toy_batch, scheme, norm):
    images, labels = toy_batch
    before = images.clone()
    eps = 4 / 255 if norm == "linf" else 0.3
    adv = apgd(
        toy_model, images, labels, eps=eps, norm=norm, steps=12, weighting=scheme, schedule=SEA_SCHEDULE,
        random_init=True, generator=0,
    )  # fmt: skip
    assert adv.min() >= 0 and adv.max() <= 1
    delta = (adv - images).flatten(1)
    size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert torch.all(size <= eps + 1e-6)
    assert torch.equal(images, before) and not torch.equal(adv, images)


@pytest.mark.parametrize("schedule", [((1.0, 1.0),), SEA_SCHEDULE])
def test_batch_equals_images_one_at_a_time(toy_model, toy_batch, schedule):
    images, labels = toy_batch
    kwargs = dict(eps=4 / 255, steps=15, weighting="E", schedule=schedule)
    batched = apgd(toy_model, images, labels, **kwargs)
    single = torch.cat([apgd(toy_model, images[i : i + 1], labels[i : i + 1], **kwargs) for i in range(3)])
    torch.testing.assert_close(batched, single, atol=1e-6, rtol=0)


def test_info_and_apsr_not_below_the_start(toy_model, toy_batch):
    images, labels = toy_batch
    info = AttackInfo()
    adv = apgd(toy_model, images, labels, eps=4 / 255, steps=10, weighting="L0", track="none", info=info)
    assert info.iterations == 11  # the start and one evaluation per iteration (no image reaches APSR 1 here)
    assert info.params == {"track": "none", "schedule": [[1.0, 1.0]]}
    with torch.no_grad():
        assert torch.all(success_fraction(toy_model(adv), labels) >= success_fraction(toy_model(images), labels))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(steps=0), "steps"),
        (dict(rho=0.0), "rho"),
        (dict(norm="l1"), "unknown norm"),
        (dict(schedule=((2.0, 0.5), (1.5, 0.5))), "radius factor 1"),
        (dict(schedule=((2.0, 0.5), (1.0, 0.6))), "summing to 1"),
        (dict(schedule=SEA_SCHEDULE, steps=2), "without iterations"),
        (dict(track="entropy"), "unknown weighting scheme"),
    ],
)
def test_bad_input(toy_model, toy_batch, kwargs, match):
    images, labels = toy_batch
    with pytest.raises(ValueError, match=match):
        apgd(toy_model, images, labels, **kwargs)
