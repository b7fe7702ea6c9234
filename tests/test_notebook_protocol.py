"""Notebooks 01 and 02 run the paper's protocol: their profiles (read from the committed .ipynb) call PGD the
paper's minimal-ε PGD, no PGD can stop short of ε, and the helpers behind ATTACKS / EPS_255 / Table 1 build and
time what they say; the grid example sweeps notebook 02 over attacks and ε."""

from __future__ import annotations

import json

import pytest
import torch

from uwl_utils.notebook import attack_configs, attacks_caption, weighting_runtimes
from uwl_utils.protocol import MINIMAL_PGD
from uwl_utils.testing import ToySegmenter
from uwl_utils.tools import grid as grid_lib
from uwl_utils.tools.demo import NOTEBOOKS

REPO = NOTEBOOKS.parent


def notebook_profiles(name: str) -> dict:
    """The PROFILES of a committed notebook: its profiles cell run on its own."""
    cells = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    (source,) = [s for s in sources if "PROFILES = {" in s]
    namespace: dict = {}
    exec(source, namespace)
    return namespace["PROFILES"]


@pytest.mark.parametrize("name", ["01_weighting_measures", "02_attack_evaluation"])
def test_pgd_of_both_profiles_is_minimal_pgd_with_the_papers_settings_in_the_paper_profile(name):
    profiles = notebook_profiles(name)
    paper = profiles["paper"]["attack_params"]["minimal_pgd"]
    assert paper == {"max_eps": 1.0, "search_steps": 13, "steps": 40, "rel_step": 1 / 30, "restarts": 1,
                     "random_init": False, "adv_threshold": 0.99}  # fmt: skip
    for profile in ("paper", "quick"):
        prof = profiles[profile]
        assert "minimal_pgd" in prof["attacks"] and "pgd" not in prof["attacks"]  # fixed-ε PGD only on request
        assert prof["attack_params"]["minimal_pgd"] == dict(MINIMAL_PGD[profile])
        for attack in ("minimal_pgd", "pgd"):  # steps × step must reach ε (or the searched ε)
            params = prof["attack_params"].get(attack)
            if params is not None:
                assert params["steps"] * params["rel_step"] >= 1


def test_attack_configs_sweep_eps_only_for_attacks_that_take_one():
    configs = attack_configs(["fgsm", "minimal_pgd"], [4, 16], {"minimal_pgd": {"steps": 5}})
    assert [(c.name, c.eps_255, dict(c.params)) for c in configs] == [
        ("fgsm", 4.0, {}), ("fgsm", 16.0, {}), ("minimal_pgd", None, {"steps": 5})]  # fmt: skip
    (normalised,) = attack_configs(["fgsm"], [16], eps_space="normalized")
    assert normalised.eps_255 == pytest.approx(16 * 57.12 / 255)  # the smallest mmseg std, 57.12 grey levels
    with pytest.raises(ValueError, match="unknown attack"):
        attack_configs(["fgsm", "bim"], [4])
    with pytest.raises(ValueError, match="ε > 0"):
        attack_configs(["fgsm"], [0])


def test_attacks_caption_names_every_attack_its_eps_and_the_parameters_set():
    configs = attack_configs(["ifgsm", "minimal_pgd", "pgd"], [4, 16], {"minimal_pgd": {"steps": 20}})
    assert attacks_caption(configs) == (
        "I-FGSM at ε 4, 16/255 (pixel ε given) (defaults); minimal-ε PGD: steps 20; "
        "PGD (fixed ε) at ε 4, 16/255 (pixel ε given) (defaults)"
    )


def test_weighting_runtimes_time_each_weighting_against_the_first_with_a_ratio_range():
    torch.manual_seed(0)
    model, x = ToySegmenter().eval(), torch.rand(2, 3, 16, 16)
    y = torch.randint(0, 5, (2, 16, 16))
    table = weighting_runtimes(model, x, y, attack_configs(["fgsm"], [4]), ["none", "L0"], reps=2)
    assert list(table["weighting"]) == ["none", "L0"] and list(table["attack"]) == ["FGSM", "FGSM"]
    assert table["time / none"].iloc[0] == 1.0 and table["ratio range"].iloc[0] == "1.00–1.00"
    assert (table["seconds_per_image"] > 0).all()
    low, high = (float(v) for v in table["ratio range"].iloc[1].split("–"))
    assert low <= table["time / none"].iloc[1] <= high


def test_the_sweep_example_lists_two_attacks_times_two_eps_per_model(capsys):
    grid = grid_lib.load_grid(REPO / "examples" / "grid_sweep.yaml")
    jobs = grid.jobs()
    per_model: dict = {}
    for job in jobs:
        cell = (job.params["ATTACKS"][0], job.params["EPS_255"][0])
        per_model.setdefault(job.params["MODELS"][0], set()).add(cell)
    models = ("synth_city/deeplabv3plus", "synth_city/bisenetv1", "synth_city/ddrnet")
    assert per_model == {m: {("fgsm", 4), ("fgsm", 16), ("ifgsm", 4), ("ifgsm", 16)} for m in models}
    assert grid_lib.main(["run", str(REPO / "examples" / "grid_sweep.yaml"), "--dry-run"]) == 0
    assert "12 job(s)" in capsys.readouterr().out
