"""The attack contract, checked for every attack of the registry (uwl_utils.attacks.ATTACKS) on the toy model.

Each attack returns only adversarial images: shaped, typed and placed like the input, inside [0, 1] and its
ε-ball; an image's result does not depend on its batch; ``labels=None`` attacks the clean prediction; ignore
pixels are handled; extras arrive in the AttackInfo the caller passes. Tests of one attack's algorithm live
in that attack's test file.
"""

from __future__ import annotations

import copy
import inspect

import pytest
import torch

from uwl_utils.attacks import ATTACKS, AttackInfo
from uwl_utils.checks import IGNORE_INDEX

# Fast parameters per attack; a new attack of the registry must add its case here.
CASES = {
    "fgsm": {"eps": 8 / 255},
    "ifgsm": {"eps": 4 / 255},  # steps=None: the paper's count, 5, reported in info.params
    "pgd": {"eps": 8 / 255, "steps": 3},
    "minimal_pgd": {"max_eps": 32 / 255, "search_steps": 3, "steps": 3, "adv_threshold": 0.3},
    "apgd": {"eps": 8 / 255, "steps": 4},
    "sea": {"eps": 8 / 255, "steps": 4, "losses": ["MaskCE", "JS"], "schedule": ((1.0, 1.0),), "random_init": False},
    "alma_prox": {"steps": 3, "lr_init": 0.02, "adv_threshold": 0.3},
    "cr_pgd": {"steps": 3, "norm": "linf", "eps": 8 / 255},
    "sparse_ifgsm": {"fraction": 0.2, "eps": 8 / 255, "steps": 3},
    "uniform_noise": {"eps": 8 / 255},
    "patch_eot": {"patch": torch.linspace(0, 1, 3 * 4 * 6).reshape(3, 4, 6)},
}
# More settings for the box-and-ball test: the other norm, defaults resolved inside, the CR weighting.
VARIANTS = [(name, {}) for name in CASES] + [
    ("pgd", {"norm": "l2", "eps": 0.5, "restarts": 2, "random_init": True, "generator": 0}),
    ("minimal_pgd", {"norm": "l2", "max_eps": 2.0}),
    ("cr_pgd", {"norm": "l2", "eps": None, "weighting": "CR", "n_samples": 2, "sample_batch": 2, "generator": 0}),
    ("cr_pgd", {"norm": "linf", "eps": None}),
]
NORMS = {"linf": lambda d: d.flatten(1).abs().amax(1), "l2": lambda d: d.flatten(1).norm(dim=1)}
TOL = {"linf": 1e-6, "l2": 1e-5}  # float32 rounding of (x + δ) − x


def attack(name, model, images, labels, info=None, **overrides):
    """Call a registered attack the one way, by default with the weighting "E" where it takes one (deterministic)."""
    weighting = overrides.pop("weighting", "E" if ATTACKS[name].weighted else "none")
    return ATTACKS[name](model, images, labels, weighting=weighting, info=info, **{**CASES[name], **overrides})


def budget(name: str, params: dict, info: AttackInfo) -> float | None:
    """The ε the attack ran with: resolved from a default (info.params), given, or the signature's default."""
    param = ATTACKS[name].eps_param
    if param != "eps":
        return None
    default = ATTACKS[name].parameters()[param].default
    return info.params.get(param, params.get(param, default))


def test_every_registered_attack_has_a_case():
    assert set(CASES) == set(ATTACKS)


@pytest.mark.parametrize("name", ATTACKS)
def test_spec_matches_the_signature(name):
    spec, params = ATTACKS[name], ATTACKS[name].parameters()
    assert list(inspect.signature(spec.fn).parameters)[:3] == ["model", "images", "labels"]
    assert params["info"].default is None and params["info"].kind is inspect.Parameter.KEYWORD_ONLY
    assert ("weighting" in params) == spec.weighted
    assert spec.eps_param is None or spec.eps_param in params
    assert not {"return_eps", "return_labels"} & set(params)
    if "norm" in params:
        assert params["norm"].default == spec.norm


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name, overrides", VARIANTS)
def test_output_in_box_and_ball_like_the_input(toy_model, toy_batch, name, overrides, dtype):
    images, labels = toy_batch
    model = toy_model if dtype == torch.float32 else copy.deepcopy(toy_model).to(dtype)
    images = images.to(dtype)
    before_x, before_y = images.clone(), labels.clone()
    info = AttackInfo()
    adv = attack(name, model, images, labels, info, **overrides)
    assert isinstance(adv, torch.Tensor)
    assert adv.shape == images.shape and adv.dtype == dtype and adv.device == images.device
    assert torch.isfinite(adv).all() and adv.min() >= 0 and adv.max() <= 1
    assert torch.equal(images, before_x) and torch.equal(labels, before_y)
    assert not torch.equal(adv, images)
    params = {**CASES[name], **overrides}
    norm = params.get("norm", ATTACKS[name].norm)
    eps = budget(name, params, info)
    if eps is not None:
        assert torch.all(NORMS[norm](adv - images) <= eps + TOL[norm])
    if ATTACKS[name].minimal:
        found = ~torch.isnan(info.eps_found)
        assert info.eps_found.shape == (images.shape[0],) and found.any()
        assert torch.all(NORMS[norm](adv - images)[found] <= info.eps_found[found] + TOL[norm])
    else:
        assert info.eps_found is None


@pytest.mark.parametrize("name", [n for n, spec in ATTACKS.items() if spec.batch_invariant])
def test_batch_equals_images_one_at_a_time(toy_model, toy_batch, name):
    images, labels = toy_batch
    batched = attack(name, toy_model, images, labels)
    single = torch.cat([attack(name, toy_model, images[i : i + 1], labels[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, single, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ATTACKS)
def test_labels_none_attacks_the_clean_prediction(toy_model, toy_batch, name):
    images, _ = toy_batch
    with torch.no_grad():
        pred = toy_model(images).argmax(1)
    info_none, info_pred = AttackInfo(), AttackInfo()
    torch.testing.assert_close(
        attack(name, toy_model, images, None, info_none), attack(name, toy_model, images, pred, info_pred)
    )
    if info_pred.labels is not None:  # labels to score against come from the prediction too
        assert torch.equal(info_none.labels, info_pred.labels)


@pytest.mark.parametrize("name", [n for n, spec in ATTACKS.items() if spec.batch_invariant])
def test_an_image_without_valid_pixels_runs_and_leaves_the_others_alone(toy_model, toy_batch, name):
    images, labels = toy_batch
    labels = labels.clone()
    labels[1] = IGNORE_INDEX
    adv = attack(name, toy_model, images, labels)
    assert torch.isfinite(adv).all() and adv.min() >= 0 and adv.max() <= 1
    others = [0, 2]
    torch.testing.assert_close(adv[others], attack(name, toy_model, images[others], labels[others]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ATTACKS)
def test_info_is_optional_and_filled(toy_model, toy_batch, name):
    images, labels = toy_batch
    info = AttackInfo()
    with_info = attack(name, toy_model, images, labels, info)
    assert torch.equal(with_info, attack(name, toy_model, images, labels))
    assert isinstance(info.iterations, int) and info.iterations >= 0
    assert set(info.params) <= set(ATTACKS[name].parameters())
    assert all(v is not None for v in info.params.values())  # values used, never the None of a default


def test_resolved_values_are_reported(toy_model, toy_batch):
    images, labels = toy_batch
    for name, expected in [("ifgsm", {"steps": 5}), ("sparse_ifgsm", {})]:
        info = AttackInfo()
        attack(name, toy_model, images, labels, info)
        assert info.params == expected and info.iterations == 5 - 2 * (name == "sparse_ifgsm")
    info = AttackInfo()
    attack("cr_pgd", toy_model, images, labels, info, norm="l2", eps=None)
    assert info.params == {"eps": 1.0, "step_size": pytest.approx(2.5 / 3)} and info.iterations == 3
    info = AttackInfo()
    attack("minimal_pgd", toy_model, images, labels, info)
    assert info.iterations == 3 * 3  # search steps × PGD steps, one restart


@pytest.mark.parametrize("name", [n for n, spec in ATTACKS.items() if not spec.weighted])
def test_an_attack_without_weighting_refuses_one(toy_model, toy_batch, name):
    images, labels = toy_batch
    with pytest.raises(ValueError, match="takes no weighting"):
        ATTACKS[name](toy_model, images, labels, weighting="E", **CASES[name])
