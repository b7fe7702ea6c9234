"""SEA: per image the adversarial of the worst of its losses, its settings recorded, registered like every attack."""

from __future__ import annotations

import pytest
import torch

from uwl_utils.attacks import ATTACKS, apgd, sea
from uwl_utils.attacks.apgd import SEA_SCHEDULE
from uwl_utils.attacks.base import AttackInfo, success_fraction
from uwl_utils.attacks.sea import SEA_LOSSES
from uwl_utils.experiment import AttackConfig


def test_sea_returns_per_image_the_adversarial_of_the_worst_loss(toy_model, toy_batch):
    images, labels = toy_batch
    eps, steps = 2 / 255, 10  # a setting where the toy batch's winners differ
    info = AttackInfo()
    adv = sea(toy_model, images, labels, eps=eps, steps=steps, random_init=False, info=info)
    singles = {
        scheme: apgd(toy_model, images, labels, eps=eps, steps=steps, weighting=scheme, track=tracked,
                     schedule=SEA_SCHEDULE)
        for scheme, tracked in SEA_LOSSES.items()
    }  # fmt: skip
    with torch.no_grad():
        apsr = torch.stack([success_fraction(toy_model(a), labels) for a in singles.values()])
    winners = apsr.argmax(0).tolist()
    names = list(SEA_LOSSES)
    assert info.winner == [names[w] for w in winners]
    assert len(set(info.winner)) > 1  # the choice is per image
    for i, w in enumerate(winners):
        torch.testing.assert_close(adv[i], singles[names[w]][i], atol=0, rtol=0)
    with torch.no_grad():
        assert torch.all(success_fraction(toy_model(adv), labels) >= apsr.amax(0))


def test_sea_records_its_settings_and_stays_in_the_ball(toy_model, toy_batch):
    images, labels = toy_batch
    info = AttackInfo()
    adv = sea(toy_model, images, labels, eps=2 / 255, steps=10, losses=["MaskCE", "JS"], generator=0, info=info)
    assert info.params == {
        "losses": {"MaskCE": "none", "JS": "none"},
        "steps": 10,
        "schedule": [[2.0, 0.3], [1.5, 0.3], [1.0, 0.4]],
        "rho": 0.75,
        "random_init": True,
    }
    assert info.iterations <= 2 * (10 + 3)  # per loss: one start per stage and one evaluation per iteration
    assert adv.min() >= 0 and adv.max() <= 1
    assert torch.all((adv - images).flatten(1).abs().amax(1) <= 2 / 255 + 1e-6)


def test_sea_is_registered_with_the_release_defaults():
    assert ATTACKS["sea"].fn is sea and ATTACKS["apgd"].fn is apgd
    kwargs = AttackConfig("sea", 8).kwargs()
    assert kwargs["eps"] == 8 / 255 and kwargs["steps"] == 300 and kwargs["schedule"] == SEA_SCHEDULE
    assert kwargs["losses"] == {"MaskCE": "none", "SegPGD": "none", "JS": "none", "MaskNCL": "NCL"}
    assert kwargs["random_init"] is True


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(losses=["MaskCE", "entropy"]), "unknown weighting scheme"),
        (dict(losses=[]), "at least one"),
        (dict(steps=2), "without iterations"),
    ],
)
def test_bad_input(toy_model, toy_batch, kwargs, match):
    images, labels = toy_batch
    with pytest.raises(ValueError, match=match):
        sea(toy_model, images, labels, **kwargs)
