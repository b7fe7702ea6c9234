"""The numbered notebooks as stored (make notebooks) and their parameters; nbval (make test) reruns them."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest

from uwl_utils.experiment import show_progress
from uwl_utils.notebook import output_dir, setup
from uwl_utils.tools.demo import NOTEBOOKS, notebook_names, readme_with_claims, run_notebook
from uwl_utils.tools.notebooks import WIDGET_VIEW, clean, problems

PROFILES = {
    "quick": {"n_images": 2, "batch_size": 1, "knob": 1},
    "paper": {"n_images": 500, "batch_size": 4, "knob": 2},
}


@pytest.mark.parametrize("name", notebook_names())
def test_committed_notebook_is_clean(name):
    """Outputs are allowed (make notebooks stores them) but no error, machine path, widget state or view, or
    execution-time metadata; one tagged parameters cell with the quick profile."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert problems(nb) == []
    tagged = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and 'PROFILE = "quick"' in tagged[0].source


def _executed_notebook() -> dict:
    """A notebook as papermill leaves it: its metadata, timestamps, widget state and a widget view."""
    nb = nbformat.v4.new_notebook(metadata={"papermill": {"input_path": "/work/x/00.ipynb", "duration": 1.5},
                                            "widgets": {"application/vnd.jupyter.widget-state+json": {}}})  # fmt: skip
    cell = nbformat.v4.new_code_cell("show()", metadata={"tags": [], "execution": {"iopub.status.busy": "2026"},
                                                         "papermill": {"duration": 0.5}})  # fmt: skip
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="APSR 29.94 %\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "VBox(children=…",
                                                     WIDGET_VIEW: {"model_id": "78e5", "version_major": 2}}),
    ]  # fmt: skip
    nb.cells = [cell, nbformat.v4.new_code_cell("x", metadata={"tags": ["parameters"]})]
    return nb


def test_problems_lists_what_a_stored_notebook_must_not_hold_and_clean_removes_it():
    nb = _executed_notebook()
    assert problems(nb) == [
        "notebook metadata 'papermill'",
        "notebook metadata 'widgets'",
        "cell 0: metadata 'papermill'",
        "cell 0: metadata 'execution'",
        "cell 0: a widget view (its state is not stored)",
    ]
    clean(nb)
    assert problems(nb) == [] and nb.metadata == {}
    assert nb.cells[0].metadata == {} and nb.cells[1].metadata == {"tags": ["parameters"]}
    assert nb.cells[0].outputs[0].text == "APSR 29.94 %\n"  # results stay
    assert nb.cells[0].outputs[1].data == {"text/plain": "VBox(children=…"}  # the widget's text form stays


def test_problems_finds_errors_and_machine_paths_in_text_but_not_in_images():
    nb = _executed_notebook()
    clean(nb)
    nb.cells[0].outputs += [
        nbformat.v4.new_output("stream", name="stderr", text="/home/me/uwl/x.py:3: UserWarning: w\n"),
        nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=["  File /root/y.py"]),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBO/tmp/Rw0K", "text/plain": "<Figure>"}),
    ]
    assert problems(nb) == [
        "cell 0: a machine path (/home/…) in an output",
        "cell 0: error output ValueError: bad",
        "cell 0: a machine path (/root/…) in an output",
    ]


def test_readme_claims_section_is_rewritten_between_its_markers_with_n_and_standard_error():
    claims = pd.DataFrame({
        "notebook": ["02_x", "02_x", "05_y"], "profile": "quick",
        "claim": ["ifgsm: APSR L0 ≥ E", "ifgsm: APSR L0 ≥ E", "ALMA prox reaches ≈ 99 % APSR"],
        "paper": ["holds (Fig. 5)", "holds (Fig. 5)", "≈ 99 %"], "ours": [2.5, 4.0, float("nan")],
        "se": [0.5, 1.25, float("nan")], "n": [8, 16, 0], "test": "t",
        "verdict": ["holds", "inconclusive", "not tested in this profile"], "setting": ["s8", "s16", "s0"],
        "timed": False,
    })  # fmt: skip
    readme = "# uwl\n\n## What the notebooks show\n\n<!-- claims:start -->\nstale\n<!-- claims:end -->\n\n## Next\n"
    new = readme_with_claims(readme, claims)
    head, section = new.split("<!-- claims:start -->\n")
    section, tail = section.split("<!-- claims:end -->")
    assert head == "# uwl\n\n## What the notebooks show\n\n" and tail == "\n\n## Next\n"
    assert "(profile: quick)" in section and "stale" not in section
    # the row over 16 images is the claim's headline; the untested claim is left out
    assert section.endswith("| ifgsm: APSR L0 ≥ E | holds (Fig. 5) | 4.0 ± 1.2 | 16 | inconclusive | s16 |\n\n")
    assert "ALMA" not in section and "s8" not in section
    assert readme_with_claims(new, claims) == new  # rewriting again changes nothing
    with pytest.raises(ValueError, match="the README needs one <!-- claims:start --> followed by one"):
        readme_with_claims("# uwl\n<!-- claims:end --> <!-- claims:start -->", claims)


def test_output_and_results_folders_follow_the_environment_when_it_sets_them(tmp_path, monkeypatch):
    monkeypatch.setenv("UWL_OUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("UWL_RESULTS_DIR", str(tmp_path / "rows"))
    cfg = setup(PROFILES, PROFILE="quick", DATASET="synth_city", OUT_DIR="../figures", RESULTS_DIR="../runs/r")
    assert cfg.out_dir == tmp_path / "out" and cfg.out_dir.is_dir() and cfg.results_dir == tmp_path / "rows"
    assert output_dir("../figures", "06_claims") == tmp_path / "out"
    monkeypatch.delenv("UWL_OUT_DIR")
    assert output_dir("../figures", "06_claims") == NOTEBOOKS / "../figures"


def test_progress_bars_follow_uwl_progress_unless_asked(monkeypatch):
    monkeypatch.delenv("UWL_PROGRESS", raising=False)
    assert show_progress() is True
    monkeypatch.setenv("UWL_PROGRESS", "0")
    assert show_progress() is False and show_progress(True) is True


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
