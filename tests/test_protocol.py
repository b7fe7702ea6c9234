"""The paper's protocol settings (uwl_utils.protocol): minimal-ε PGD profiles, attack labels, ε units."""

import inspect
import math

import pytest
import torch

from uwl_utils.attacks import ATTACKS, minimal_pgd
from uwl_utils.experiment import AttackConfig
from uwl_utils.protocol import (
    ATTACK_LABELS,
    MINIMAL_PGD,
    MMSEG_STD_255,
    attack_label,
    eps_from_normalized,
    pixel_eps_255,
)


def test_paper_profile_is_the_frameworks_minimal_pgd_linf():
    """alma_prox_segmentation's minimal_pgd_linf: max_eps 1 on [0, 1] (not /255), 13 bisection trials of a
    40-step PGD from the clean image with step ε/30, success at 99 % of the valid pixels."""
    assert dict(MINIMAL_PGD["paper"]) == {
        "max_eps": 1.0, "search_steps": 13, "steps": 40, "rel_step": 1 / 30, "restarts": 1, "random_init": False,
        "adv_threshold": 0.99,
    }  # fmt: skip
    # the resolution of the search: 2·max_eps / 2¹³ ≈ 0.062/255
    assert 2 * MINIMAL_PGD["paper"]["max_eps"] / 2**13 * 255 == pytest.approx(0.0623, abs=1e-4)


@pytest.mark.parametrize("profile", ["paper", "quick"])
def test_profiles_are_keyword_sets_of_minimal_pgd_and_recorded_as_given(profile):
    params = MINIMAL_PGD[profile]
    assert set(params) <= set(inspect.signature(minimal_pgd).parameters)
    recorded = AttackConfig("minimal_pgd", None, params).kwargs()
    assert {k: recorded[k] for k in params} == dict(params)


def test_quick_profile_is_the_same_attack_with_fewer_passes():
    paper, quick = MINIMAL_PGD["paper"], MINIMAL_PGD["quick"]
    assert quick["search_steps"] * quick["steps"] == 100 < paper["search_steps"] * paper["steps"] == 520
    # the same path per trial: steps · rel_step = 4/3 of ε
    assert quick["steps"] * quick["rel_step"] == pytest.approx(paper["steps"] * paper["rel_step"])
    assert quick["restarts"] == paper["restarts"] == 1 and quick["random_init"] is paper["random_init"] is False
    # trials 2·max_eps/2^search_steps apart: 2/255 in the quick profile
    assert 2 * quick["max_eps"] / 2 ** quick["search_steps"] == pytest.approx(2 / 255)


def test_every_attack_has_a_label_and_the_two_pgds_are_told_apart():
    assert set(ATTACK_LABELS) == set(ATTACKS)
    assert attack_label("minimal_pgd") == "minimal-ε PGD" and attack_label("pgd") == "PGD (fixed ε)"
    assert len(set(ATTACK_LABELS.values())) == len(ATTACK_LABELS)
    with pytest.raises(ValueError, match="unknown attack 'PGD'"):
        attack_label("PGD")


def test_eps_from_normalized_by_hand_and_through_the_normalisation():
    assert eps_from_normalized(16) == pytest.approx(16 * 57.12 / 255)  # ≈ 3.58: the smallest channel std
    assert eps_from_normalized(16, 57.5) == pytest.approx(3.6078, abs=1e-4)
    # the model wrapper's normalisation (255 x − mean)/std: adding ε/255 there moves each channel by std·ε/255²
    mean, std = torch.tensor([123.675, 116.28, 103.53]), torch.tensor(MMSEG_STD_255, dtype=torch.float64)
    x = torch.rand(3, dtype=torch.float64)
    x_norm = (255 * x - mean) / std
    moved = ((x_norm + 16 / 255) * std + mean) / 255
    per_channel_255 = (moved - x) * 255
    assert per_channel_255.min().item() == pytest.approx(eps_from_normalized(16))
    assert per_channel_255.max().item() == pytest.approx(eps_from_normalized(16, std.max()))


def test_pixel_eps_255_converts_only_the_normalized_space():
    assert pixel_eps_255(8) == 8.0 and pixel_eps_255(8, "pixel") == 8.0
    assert pixel_eps_255(8, "normalized") == pytest.approx(8 * 57.12 / 255)
    assert math.isclose(pixel_eps_255(4, "normalized", [50.0, 60.0]), 4 * 50 / 255)
    with pytest.raises(ValueError, match="eps_space must be one of"):
        pixel_eps_255(8, "norm")
    with pytest.raises(ValueError, match="positive std"):
        eps_from_normalized(8, 0.0)


def test_eps_space_grid_pixel_is_attack_grid_and_normalized_converts_eps_alpha_and_keeps_steps():
    from uwl_utils.experiment import attack_grid
    from uwl_utils.protocol import eps_space_grid

    assert eps_space_grid("ifgsm", [4, 16], "pixel") == attack_grid("ifgsm", [4, 16])
    a4, a16 = eps_space_grid("ifgsm", [4, 16], "normalized")
    assert a16.eps_255 == pytest.approx(16 * 57.12 / 255)
    kw = a16.kwargs()
    assert kw["eps"] == pytest.approx(16 * 57.12 / 255**2) and kw["alpha"] == pytest.approx(57.12 / 255**2)
    assert kw["steps"] == 20 and a4.kwargs()["steps"] == 5  # min(ε + 4, ⌊1.25 ε⌋) of the nominal ε
    assert eps_space_grid("fgsm", 8, "normalized")[0].params == {}  # one step: only ε changes
    assert eps_space_grid("ifgsm", 8, "normalized", steps=3)[0].params["steps"] == 3  # the caller's value wins
    quick = eps_space_grid("minimal_pgd", None, "normalized", **MINIMAL_PGD["quick"])
    assert quick == [AttackConfig("minimal_pgd", None, dict(MINIMAL_PGD["quick"]))]
