"""The numbered notebooks run headlessly with their committed defaults; bad parameters stop them early."""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm
import pytest

from uwl_utils.notebook import setup
from uwl_utils.tools.demo import NOTEBOOKS, notebook_names, run_notebook

PROFILES = {
    "quick": {"n_images": 2, "batch_size": 1, "knob": 1},
    "paper": {"n_images": 500, "batch_size": 4, "knob": 2},
}


@pytest.mark.parametrize("name", notebook_names())
def test_committed_notebook_is_clean(name):
    """No outputs, no execution counts, a tagged parameters cell, no machine-specific paths."""
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    tagged = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1 and 'PROFILE = "quick"' in "".join(tagged[0]["source"])
    text = json.dumps(nb)
    assert "/work/" not in text and "/home/" not in text and "/tmp/" not in text


@pytest.mark.slow
@pytest.mark.parametrize("name", notebook_names())
def test_notebook_runs_with_committed_defaults(name, tmp_path):
    figures, results = tmp_path / "figures", tmp_path / "results"
    output = run_notebook(name, {"OUT_DIR": str(figures), "RESULTS_DIR": str(results)}, out_dir=tmp_path)
    nb = json.loads(output.read_text())
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors
    assert list(figures.glob("*.png")) and list(figures.glob("*.pdf")) and list(figures.glob("*.csv"))


def test_bad_parameter_stops_the_notebook_in_its_setup_cell(tmp_path):
    with pytest.raises(pm.PapermillExecutionError) as err:
        run_notebook(
            "00_quickstart", {"DATASET": "cityscapes", "DATA_ROOT": str(tmp_path / "missing")}, out_dir=tmp_path
        )
    assert "DATA_ROOT=" in str(err.value) and "does not exist" in str(err.value)
    assert err.value.exec_count <= 3  # the parameters cells and the setup cell


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"PROFILE": "fast"}, r"PROFILE='fast' is unknown; use one of \['quick', 'paper'\]"),
        ({"DATASET": "kitti"}, r"DATASET='kitti' is unknown"),
        ({"DATASET": "voc"}, r"needs DATA_ROOT"),
        ({"MODELS": ["synth_city/segformer"]}, r"unknown model 'synth_city/segformer'"),
        ({"MODELS": ["synth_voc/pspnet"]}, r"trained for 'synth_voc', not DATASET='synth_city'"),
        ({"N_IMAGES": 0}, r"at least 1"),
        ({"unknown_knob": 3}, r"unknown parameter\(s\) \['unknown_knob'\]"),
    ],
)
def test_setup_rejects_bad_parameters(params, message, tmp_path):
    kwargs = {"PROFILE": "quick", "DATASET": "synth_city", "OUT_DIR": str(tmp_path), **params}
    with pytest.raises(ValueError, match=message):
        setup(PROFILES, **kwargs)


def test_setup_rejects_cuda_without_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(ValueError, match='DEVICE="cuda" but torch sees no CUDA GPU'):
        setup(PROFILES, PROFILE="quick", DATASET="synth_city", DEVICE="cuda", OUT_DIR=str(tmp_path))


def test_setup_fills_from_the_profile_and_explicit_values_win(tmp_path):
    cfg = setup(PROFILES, PROFILE="paper", DATASET="synth_voc", DEVICE="cpu", OUT_DIR=str(tmp_path), N_IMAGES=7)
    assert (cfg.n_images, cfg.batch_size, cfg.knob) == (7, 4, 2)
    assert cfg.models == ["synth_voc/deeplabv3plus", "synth_voc/pspnet"]
    assert cfg.label == "paper profile · synth_voc · 7 images" and Path(cfg.out_dir).is_dir()
    assert setup(PROFILES, PROFILE="quick", DATASET="synth_city", OUT_DIR=str(tmp_path), knob=5).knob == 5


def test_relative_paths_resolve_against_the_notebook_folder_whatever_the_working_directory(tmp_path, monkeypatch):
    from uwl_utils.tools.demo import NOTEBOOKS

    monkeypatch.chdir(tmp_path)  # e.g. papermill run from the repository root: no notebook here
    cfg = setup(PROFILES, PROFILE="quick", DATASET="synth_city", NOTEBOOK="02_attack_evaluation",
                OUT_DIR=f"../{tmp_path.name}/figs", RESULTS_DIR="../runs/results")  # fmt: skip
    assert cfg.out_dir == NOTEBOOKS / f"../{tmp_path.name}/figs"  # against notebooks/, not the working directory
    cfg.out_dir.rmdir()
    cfg.out_dir.parent.rmdir()
    assert cfg.results_dir == NOTEBOOKS / "../runs/results"
    (tmp_path / "02_attack_evaluation.ipynb").write_text("{}")  # JupyterLab: the kernel runs in the notebook's folder
    cfg = setup(PROFILES, PROFILE="quick", DATASET="synth_city", NOTEBOOK="02_attack_evaluation", OUT_DIR="figs")
    assert cfg.out_dir == tmp_path / "figs" and cfg.out_dir.is_dir()


def test_file_names_carry_notebook_profile_data_set_and_a_settings_hash(tmp_path):
    import torch

    kwargs = {"PROFILE": "quick", "DATASET": "synth_city", "OUT_DIR": str(tmp_path), "NOTEBOOK": "02_x",
              "RESULTS_DIR": str(tmp_path / "r"), "THREADS": 1}  # fmt: skip
    a, b, c = setup(PROFILES, **kwargs), setup(PROFILES, **kwargs), setup(PROFILES, **kwargs, N_IMAGES=3)
    assert a.name("apsr") == f"02_x_apsr_synth_city_quick_{a.settings_hash}" and len(a.settings_hash) == 6
    assert a.name("apsr") == b.name("apsr") and a.name("apsr") != c.name("apsr")
    assert a.results() == tmp_path / "r" / f"02_x_synth_city_quick_{a.settings_hash}"
    assert torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="THREADS must be at least 1"):
        setup(PROFILES, **{**kwargs, "THREADS": 0})


def test_list_parameters_given_as_text_by_plain_papermill_p_are_read_as_yaml(tmp_path):
    kwargs = {"PROFILE": "quick", "DATASET": "synth_city", "OUT_DIR": str(tmp_path)}
    cfg = setup(PROFILES, **kwargs, MODELS="[synth_city/ddrnet]", IMAGE_SIZE="[64, 128]", knob="[1, 2]")
    assert cfg.models == ["synth_city/ddrnet"] and cfg.image_size == (64, 128) and cfg.knob == [1, 2]
    with pytest.raises(ValueError, match=r"MODELS must be a list such as \[a, b\]; got 'synth_city/ddrnet'"):
        setup(PROFILES, **kwargs, MODELS="synth_city/ddrnet")
