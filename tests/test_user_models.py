"""A user's models by name: registry files and modules, MODEL_SPEC in notebook setup and in a grid."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest
import torch

import uwl_utils.user_models as user_models
from uwl_utils.experiment import AttackConfig, run
from uwl_utils.models import load_model
from uwl_utils.notebook import resolve_model, setup
from uwl_utils.tools import grid as grid_lib
from uwl_utils.user_models import register_spec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "own_model"
FACTORIES = (EXAMPLES / "factories.py").read_text()

PROFILES = {"quick": {"n_images": 2, "batch_size": 2}}


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch):
    monkeypatch.setattr(user_models, "USER_MODELS", {})


@pytest.fixture
def registry(tmp_path):
    """A registry file with a factory from a Python file beside it, and one with a state-dict checkpoint."""
    (tmp_path / "factories.py").write_text(FACTORIES)
    (tmp_path / "registry.yaml").write_text(
        "models:\n"
        "  mine/plain: {loader: 'factories.py:build', width: 3}\n"
        "  mine/voc: {loader: 'factories.py:build', classes: 21}\n"
    )
    return tmp_path / "registry.yaml"


def test_a_registry_file_registers_names_that_load_model_builds(registry):
    assert register_spec(registry) == ["mine/plain", "mine/voc"]
    model = load_model("mine/plain")
    assert model.name == "mine/plain" and model.num_classes == 19 and model.module[0].out_channels == 3
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert load_model("mine/voc").num_classes == 21
    with pytest.raises(ValueError, match="checkpoint in its registry entry"):
        load_model("mine/plain", checkpoint=registry)


def test_a_python_module_and_a_single_factory_register_too(registry):
    folder = registry.parent
    assert register_spec(folder / "factories.py") == ["mine/plain", "mine/voc"]
    assert load_model("mine/voc").num_classes == 21  # its factory path is taken from the module's folder
    spec = f"{folder / 'factories.py'}:build"
    assert register_spec(spec) == [spec] and load_model(spec).num_classes == 19


def test_bad_registries_say_what_is_wrong(tmp_path, registry):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  mine/x: {width: 3}\n")
    with pytest.raises(ValueError, match="`loader:`"):
        register_spec(bad)
    bad.write_text("models:\n  synth_city/ddrnet: {loader: smp}\n")
    with pytest.raises(ValueError, match="registered model of the package"):
        register_spec(bad)
    with pytest.raises(ValueError, match="not found"):
        register_spec(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="no function 'nope'"):
        register_spec(f"{registry.parent / 'factories.py'}:nope")
    with pytest.raises(ValueError, match="PYTHONPATH"):
        register_spec("no_such_package_here:build")
    with pytest.raises(ValueError, match="no registry file and cannot be imported"):
        register_spec("no_such_package_here")


def test_setup_takes_model_spec_and_checks_classes_before_any_work(registry, tmp_path):
    cfg = setup(PROFILES, PROFILE="quick", DATASET="synth_city", MODEL_SPEC=str(registry), MODELS=["mine/plain"],
                OUT_DIR=str(tmp_path / "figs"), THREADS=1)  # fmt: skip
    assert cfg.models == ["mine/plain"]
    with pytest.raises(ValueError, match="'mine/voc' outputs 21 classes but DATASET='synth_city' has 19"):
        setup(
            PROFILES, PROFILE="quick", DATASET="synth_city", MODEL_SPEC=str(registry), OUT_DIR=str(tmp_path), THREADS=1
        )
    cfg = setup(PROFILES, PROFILE="quick", DATASET="synth_voc", MODEL_SPEC=str(registry), MODELS=["mine/voc"],
                OUT_DIR=str(tmp_path), THREADS=1)  # fmt: skip
    assert cfg.models == ["mine/voc"]


def test_class_names_must_follow_the_data_sets_order(tmp_path):
    (tmp_path / "factories.py").write_text(FACTORIES)
    (tmp_path / "r.yaml").write_text("models:\n  mine/named: {loader: 'factories.py:build', classes: 21}\n")
    name, model = resolve_model(str(tmp_path / "r.yaml"), "synth_voc")
    assert name == "mine/named" and model.num_classes == 21
    from uwl_utils.adapters import wrap
    from uwl_utils.notebook import check_model_classes

    shuffled = ["aeroplane", "background", *[f"c{k}" for k in range(19)]]
    with pytest.raises(ValueError, match="calls class 0 'aeroplane' but DATASET='synth_voc' calls it 'background'"):
        from uwl_utils.data import load_dataset

        check_model_classes(wrap(model.module, classes=shuffled), load_dataset("synth_voc"), "m")


def test_resolve_model_picks_one_entry_of_several(registry):
    with pytest.raises(ValueError, match=r"registers \['mine/plain', 'mine/voc'\]; pick one"):
        resolve_model(str(registry), "synth_city")
    name, model = resolve_model(str(registry), "synth_city", name="mine/plain")
    assert name == "mine/plain" and model.num_classes == 19


def test_experiment_rows_carry_the_user_models_name_and_state_hash(registry, tmp_path):
    register_spec(registry)
    rows = run(["mine/plain"], [AttackConfig("ifgsm", 4, {"steps": 1})], ["none", "L0"], "synth_city", n_images=2,
               batch_size=2, device="cpu", out=tmp_path / "out", image_size=(16, 24), progress=False).rows  # fmt: skip
    assert len(rows) == 4 and set(rows["model"]) == {"mine/plain"}
    assert set(rows["checkpoint"]) == {load_model("mine/plain").state_digest()}


def test_a_mmseg_entry_with_a_checkpoint_is_keyed_by_the_files_hash(tmp_path):
    from uwl_utils.experiment import model_identity
    from uwl_utils.loaders import mmseg_model

    (tmp_path / "fcn.py").write_text((EXAMPLES / "my_fcn.py").read_text())
    torch.save(mmseg_model(tmp_path / "fcn.py").module.segmentor.state_dict(), tmp_path / "fcn.pth")
    (tmp_path / "r.yaml").write_text("models:\n  mine/fcn: {loader: mmseg, config: fcn.py, checkpoint: fcn.pth}\n")
    register_spec(tmp_path / "r.yaml")
    digest = hashlib.sha256((tmp_path / "fcn.pth").read_bytes()).hexdigest()[:16]
    assert model_identity(load_model("mine/fcn"), "mine/fcn") == {"model": "mine/fcn", "checkpoint": digest}


def test_a_grid_makes_model_spec_paths_absolute_checks_them_and_its_dry_run_lists_them(
    registry, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(registry.parent)
    other = tmp_path / "other.yaml"
    other.write_text(registry.read_text().replace("mine/", "other/"))
    spec = {"notebooks": ["02_attack_evaluation"], "run_dir": "runs", "parameters": {"MODEL_SPEC": "registry.yaml"},
            "grid": [{"MODEL_SPEC": ["registry.yaml", "factories.py:build"]}]}  # fmt: skip
    grid = grid_lib.load_grid(spec)
    assert grid.parameters["MODEL_SPEC"] == str(registry)
    assert grid.grid[0]["MODEL_SPEC"] == [str(registry), f"{registry.parent / 'factories.py'}:build"]
    assert {job.params["MODEL_SPEC"] for job in grid.jobs()} == set(grid.grid[0]["MODEL_SPEC"])
    for bad, message in (("missing.yaml", "not found"), ("no_such_package_here:build", "cannot be imported"),
                         (3, "must be a registry file")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            grid_lib.load_grid({**spec, "grid": [], "parameters": {"MODEL_SPEC": bad}})
    (registry.parent / "grid.yaml").write_text(json.dumps({**spec, "grid": []}))
    assert grid_lib.main(["run", "grid.yaml", "--dry-run"]) == 0
    assert f'every job: {{"MODEL_SPEC": "{registry}"}}' in capsys.readouterr().out


def test_the_example_registry_builds_every_entry_for_the_cityscapes_label_space():
    names = register_spec(EXAMPLES / "models.yaml")
    assert names == ["mine/fcn", "mine/segformer", "mine/tiny", "mine/wrapped"]
    if importlib.util.find_spec("transformers") is None:
        names.remove("mine/segformer")  # the segformer extra is missing here
    for name in names:
        chosen, model = resolve_model(str(EXAMPLES / "models.yaml"), "synth_city", name=name)
        assert chosen == name and model.num_classes == 19
        assert model(torch.rand(1, 3, 32, 44)).shape == (1, 19, 32, 44)  # SegFormer needs 32 px or more


def test_a_relative_model_spec_in_setup_resolves_like_out_dir_against_the_notebooks_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the notebooks' folder: relative paths mean notebooks/
    cfg = setup(PROFILES, PROFILE="quick", DATASET="synth_city", MODEL_SPEC="../examples/own_model/factories.py",
                MODELS=["mine/plain"], OUT_DIR=str(tmp_path), THREADS=1)  # fmt: skip
    assert cfg.models == ["mine/plain"] and user_models.USER_MODELS["mine/plain"].factory.__name__ == "build"


@pytest.mark.slow
def test_notebook_02_attacks_a_user_model_given_by_model_spec(tmp_path):
    """The notebook parameter MODEL_SPEC puts one's own model (the example registry) through notebook 02."""
    import pandas as pd

    from uwl_utils.models import REPO_ROOT
    from uwl_utils.tools.demo import run_notebook

    params = {"MODEL_SPEC": str(REPO_ROOT / "examples/own_model/models.yaml"), "MODELS": ["mine/tiny"],
              "N_IMAGES": 2, "IMAGE_SIZE": [64, 128], "DEVICE": "cpu", "ATTACKS": ["fgsm"], "EPS_255": [4],
              "OUT_DIR": str(tmp_path / "figures"), "RESULTS_DIR": str(tmp_path / "results")}  # fmt: skip
    run_notebook("02_attack_evaluation", params, out_dir=tmp_path)
    (rows_csv,) = (tmp_path / "figures").glob("02_attack_evaluation_*_rows.csv")
    rows = pd.read_csv(rows_csv)
    assert set(rows.model) == {"mine/tiny"} and rows.checkpoint.notna().all()  # keyed by the model's state hash
    assert set(rows.weighting) == {"none", "E", "L0"} and rows.image_id.nunique() == 2
