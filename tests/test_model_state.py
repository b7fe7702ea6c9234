"""Attacks never change the model they attack: parameters, buffers, mode flags, requires_grad, no .grad."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from uwl_utils.attacks import ATTACKS, train_patch
from uwl_utils.model_state import eval_mode, frozen

# Few steps each: the point is what the attack does to the model, not how strong it is.
CHEAP = {
    "fgsm": {},
    "ifgsm": {"steps": 2},
    "pgd": {"steps": 2, "generator": 0},
    "minimal_pgd": {"search_steps": 2, "steps": 2, "generator": 0},
    "apgd": {"steps": 3, "generator": 0},
    "sea": {"steps": 6, "losses": ["none", "JS"], "generator": 0},
    "alma_prox": {"steps": 3},
    "cr_pgd": {"steps": 2, "n_samples": 2, "sample_batch": 2, "eps": 0.5, "generator": 0},
    "sparse_ifgsm": {"steps": 2, "fraction": 0.2, "generator": 0},
    "uniform_noise": {"generator": 0},
    "patch_eot": {"patch": torch.full((3, 4, 4), 0.5)},
}
WEIGHTING = {"cr_pgd": "CR", "sparse_ifgsm": "L0"}  # the weightings these two are built around


class BatchNormDropoutNet(nn.Module):
    """Conv-BN-ReLU-Dropout-conv: in training mode its BN statistics move and its dropout is random."""

    num_classes = 4

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout2d(0.5), nn.Conv2d(8, 4, 1)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)


def _snapshot(model: nn.Module) -> tuple[dict, list, list]:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    return state, [m.training for m in model.modules()], [p.requires_grad for p in model.parameters()]


def _assert_unchanged(model: nn.Module, before: tuple[dict, list, list]) -> None:
    state, modes, flags = before
    after = model.state_dict()
    assert state.keys() == after.keys()
    for key, value in state.items():
        assert torch.equal(value, after[key]), f"{key} changed"
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())


def test_cheap_settings_cover_every_registered_attack():
    assert set(CHEAP) == set(ATTACKS)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_registered_attack_leaves_a_training_mode_model_unchanged_and_attacks_it_in_eval_mode(name):
    model = BatchNormDropoutNet().train()
    model.body[1].running_mean.fill_(0.3)  # statistics that a training-mode forward would move
    model.body[1].weight.requires_grad_(False)  # a mix of flags, each to be restored as it was
    images = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    reference = copy.deepcopy(model).eval()
    with torch.no_grad():
        labels = reference(images).argmax(1)
    before = _snapshot(model)
    params = dict(CHEAP[name], weighting=WEIGHTING.get(name, "none"))
    adv = ATTACKS[name](model, images, labels, **params)
    _assert_unchanged(model, before)
    # attacked as it predicts: the same adversarial as attacking an eval-mode copy (dropout would randomise it)
    torch.testing.assert_close(adv, ATTACKS[name](reference, images, labels, **params), rtol=0, atol=0)


def test_train_patch_leaves_the_model_unchanged():
    model = BatchNormDropoutNet().train()
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    before = _snapshot(model)
    train_patch(model, images, None, size=(4, 4), epochs=2, batch_size=2, generator=0)
    _assert_unchanged(model, before)


def test_an_attack_that_fails_still_restores_the_model():
    model = BatchNormDropoutNet().train()
    before = _snapshot(model)
    with pytest.raises(ValueError, match="eps"):
        ATTACKS["ifgsm"](model, torch.rand(1, 3, 8, 8), eps=-1.0)
    _assert_unchanged(model, before)


def test_frozen_and_eval_mode_restore_each_submodule_flag_as_it_was():
    model = BatchNormDropoutNet().train()
    model.body[3].eval()  # one submodule already in eval mode
    with frozen(model):
        assert not any(m.training for m in model.modules())
        assert not any(p.requires_grad for p in model.parameters())
    assert [m.training for m in model.modules()] == [True, True, True, True, True, False, True]
    assert all(p.requires_grad for p in model.parameters())
    with eval_mode(model):
        assert all(p.requires_grad for p in model.parameters())  # eval_mode leaves gradients alone


def test_attacks_refuse_a_model_that_is_not_a_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        ATTACKS["fgsm"](lambda x: x, torch.rand(1, 3, 8, 8))
