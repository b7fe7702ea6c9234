"""Grid runs of papermill jobs: sharding, expansion, the local executor (kill and resume, a failing job,
retries), ``collect`` pooling shards exactly as one unsharded run, the SLURM path on submitit's local
executor, and notebook 02's SHARD and RESULTS parameters. The toy job notebook is tiny (a random two-layer
conv net, FGSM on 2 images of 32×64 per job)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import pandas as pd
import pytest
import torch
import yaml

from uwl_utils.data import ShardedDataset, load_dataset, shard_length
from uwl_utils.experiment import AttackConfig, run, summarize
from uwl_utils.tools import grid as G
from uwl_utils.tools.demo import run_notebook

SIZE = (32, 64)
N_IMAGES = 4
# Built the same way in the job notebook and in the reference run of this test.
MODEL_CODE = """\
torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Tanh(), torch.nn.Conv2d(8, 19, 3, padding=1)
).eval()
model.num_classes = 19
"""
JOB_CODE = f"""\
import torch
from uwl_utils.data import load_dataset, shard_length
from uwl_utils.experiment import AttackConfig, run
{MODEL_CODE}
data = load_dataset("synth_city", size={SIZE}, shard=SHARD)
result = run({{"toy": model}}, [AttackConfig(ATTACK, EPS)], ["none"], data, n_images=shard_length(N_IMAGES, SHARD),
             batch_size=1, device="cpu", out=f"{{RESULTS_DIR}}/toy", image_size={SIZE}, progress=False)
print(result.summary[["eps_255", "apsr", "miou_adv"]])
"""


def _toy_model() -> torch.nn.Module:
    scope = {"torch": torch}
    exec(MODEL_CODE, scope)
    return scope["model"]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """A two-cell job notebook: a tagged parameters cell and the attack run."""
    path = tmp_path_factory.mktemp("nb") / "toy_job.ipynb"
    params = nbformat.v4.new_code_cell(
        f'SHARD = None\nATTACK = "fgsm"\nEPS = 4\nN_IMAGES = {N_IMAGES}\nRESULTS_DIR = "results"\nOUT_DIR = "figures"'
    )
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(JOB_CODE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One unsharded run of the same images, in this process: the pooled metrics the grid must reproduce.
    Batches of one image, as in the jobs: a network's output depends on its batch at the float-rounding level."""
    data = load_dataset("synth_city", size=SIZE)
    attacks = [AttackConfig("fgsm", 2), AttackConfig("fgsm", 4)]
    out = tmp_path_factory.mktemp("reference")
    rows = run({"toy": _toy_model()}, attacks, ["none"], data, n_images=N_IMAGES, batch_size=1, device="cpu",
               out=out, image_size=SIZE, progress=False).rows  # fmt: skip
    return rows


def _assert_pools_like(rows: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Same (config, image) rows and exactly the same pooled APSR and mIoU."""
    assert sorted(zip(rows.config, rows.image_id, strict=True)) == sorted(
        zip(reference.config, reference.image_id, strict=True)
    )
    cols = ["config", "n_images", "apsr_clean", "apsr", "apsr_image_mean", "miou_clean", "miou_adv", "delta_miou"]
    got = summarize(rows)[cols].sort_values("config", ignore_index=True)
    want = summarize(reference)[cols].sort_values("config", ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


# ------------------------------------------------------------------------------------------- sharding


def test_shards_partition_the_split_and_keep_the_attributes():
    full = load_dataset("synth_city", size=SIZE)
    shards = [load_dataset("synth_city", size=SIZE, shard=(i, 3)) for i in range(3)]
    assert all(isinstance(s, ShardedDataset) for s in shards)
    assert sum(len(s) for s in shards) == len(full)
    assert sorted(i for s in shards for i in s.indices) == list(range(len(full)))
    assert shards[1][0]["id"] == full[1]["id"] and shards[1][2]["id"] == full[7]["id"]
    for attr in ("name", "num_classes", "class_names", "palette", "ignore_index"):
        assert getattr(shards[2], attr) == getattr(full, attr)
    # the first k items of each of n shards are the first n·k items of the data set
    assert [shard_length(10, (i, 3)) for i in range(3)] == [4, 3, 3] and shard_length(10, None) == 10
    for bad in [(3, 3), (-1, 2), (0, 0), (0.5, 2), "01", 3]:
        with pytest.raises(ValueError, match="shard must be"):
            load_dataset("synth_city", shard=bad)


# ------------------------------------------------------------------------------------------- grid files


def test_grid_expands_into_hashed_jobs(notebook, tmp_path):
    spec = {
        "notebooks": [str(notebook)],
        "parameters": {"N_IMAGES": 4},
        "grid": [{"ATTACK": ["fgsm"], "EPS": [2, 4]}, {"ATTACK": ["ifgsm"], "EPS": [4], "SHARD": [[0, 2]]}],
        "shards": 2,
    }
    jobs = G.load_grid(spec, tmp_path / "run").jobs()
    assert len(jobs) == 5 and len({j.key for j in jobs}) == 5
    assert [j.params["SHARD"] for j in jobs[:4]] == [[0, 2], [1, 2], [0, 2], [1, 2]]
    assert jobs[0].params == {"N_IMAGES": 4, "ATTACK": "fgsm", "EPS": 2, "SHARD": [0, 2]}
    # the hash depends on the notebook's name and the parameters only, not on where the run lives
    again = G.load_grid(spec, tmp_path / "elsewhere").jobs()
    assert [j.key for j in again] == [j.key for j in jobs]
    assert jobs[0].parameters()["RESULTS_DIR"] == str(tmp_path / "run" / jobs[0].name / "results")
    with pytest.raises(ValueError, match="non-empty list of values to sweep"):
        G.load_grid({**spec, "grid": {"EPS": 4}}, tmp_path)
    with pytest.raises(ValueError, match="unknown grid key"):
        G.load_grid({**spec, "epochs": 3}, tmp_path)
    with pytest.raises(ValueError, match="set by the grid per job"):
        G.load_grid({**spec, "parameters": {"RESULTS_DIR": "x"}}, tmp_path)


def test_bad_grids_are_refused_with_a_message(notebook, tmp_path, capsys):
    spec = {"notebooks": [str(notebook)], "run_dir": str(tmp_path / "run")}
    for bad, message in [
        ({"notebooks": ["no_such_notebook"]}, "notebook 'no_such_notebook' not found"),
        ({"grid": [["EPS", 4]]}, "each grid entry must be a mapping"),
        ({"retries": -1}, "retries must be a non-negative integer"),
        ({"workers": 0}, "workers must be a positive integer"),
        ({"shards": 0}, "shards must be a positive integer"),
        ({"slurm": {"gpus": 2}}, r"unknown slurm option\(s\) \['gpus'\]"),
    ]:
        with pytest.raises(ValueError, match=message):
            G.load_grid({**spec, **bad})
    (tmp_path / "list.yaml").write_text("- 02_attack_evaluation\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        G.load_grid(tmp_path / "list.yaml")
    with pytest.raises(ValueError, match="workers must be at least 1"):
        G.local_slots(workers=0, gpus=[])
    # the command line answers bad input with one line and exit status 2, not a traceback
    with pytest.raises(SystemExit) as exit_:
        G.main(["run", str(tmp_path / "missing.yaml")])
    assert exit_.value.code == 2 and "grid file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        G.main(["collect", str(tmp_path)])
    assert "no result rows under" in capsys.readouterr().err


def test_local_slots_pin_one_gpu_or_one_core_group_per_job():
    gpu = G.local_slots(gpus=["0", "1"])
    assert [s.gpu for s in gpu] == ["0", "1"] and gpu[1].env()["CUDA_VISIBLE_DEVICES"] == "1"
    cpu = G.local_slots(workers=2, gpus=[])
    assert len(cpu) == 2 and all(s.env()["CUDA_VISIBLE_DEVICES"] == "" for s in cpu)
    if len(os.sched_getaffinity(0)) >= 2:
        assert not set(cpu[0].cpus) & set(cpu[1].cpus)
    assert all(s.env()["OMP_NUM_THREADS"] == str(len(s.cpus)) for s in cpu)


# ------------------------------------------------------------------------------------------- grid runs


@pytest.mark.slow
def test_local_grid_resumes_after_a_kill_reports_failures_and_collects_exactly(notebook, reference, tmp_path):
    run_dir = tmp_path / "run"
    spec = {
        "notebooks": [str(notebook)],
        "run_dir": str(run_dir),
        "grid": [{"ATTACK": ["fgsm"], "EPS": [2, 4]}, {"ATTACK": ["no_such_attack"], "SHARD": [[0, 2]]}],
        "shards": 2,
        "retries": 1,
    }
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text(yaml.safe_dump(spec))
    grid = G.load_grid(grid_file)
    jobs = grid.jobs()
    good, bad = jobs[:4], jobs[4]

    # 1. start the grid on 2 workers and kill it (with its job processes) once the first job is done
    cmd = [sys.executable, "-m", "uwl_utils.tools.grid", "run", str(grid_file), "--workers", "2"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600  # generous: a cold, loaded machine takes minutes for the first job
    while not any(j.is_done() for j in good) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {j.key: (j.dir / "done.json").stat().st_mtime_ns for j in good if j.is_done()}
    assert 1 <= len(done_before) < len(good), "the kill should land part-way"

    # 2. rerun: finished jobs are skipped, the missing ones run, the bad one fails twice without stopping them
    summary = G.run_grid(grid, G.local_runner(workers=2), progress=False).set_index("job")
    for job in good:
        expected = "skipped" if job.key in done_before else "done"
        assert summary.loc[job.name, "status"] == expected, summary.loc[job.name].to_dict()
    assert {j.key: (j.dir / "done.json").stat().st_mtime_ns for j in good if j.key in done_before} == done_before
    failed = summary.loc[bad.name]
    assert failed["status"] == "failed" and failed["attempts"] == 2
    assert "unknown attack 'no_such_attack'" in failed["error"] and failed["log"] == str(bad.log)
    log = bad.log.read_text()
    assert "=== attempt 2" in log and "ValueError" in log and not bad.is_done()
    assert (run_dir / "summary.csv").is_file() and {"ATTACK", "EPS", "SHARD"} <= set(summary.columns)

    # 3. collect pools the shards exactly as one unsharded run of the same images
    rows = G.collect(run_dir)
    assert (run_dir / "results.parquet").is_file() and rows["job"].nunique() == 4
    _assert_pools_like(pd.read_parquet(run_dir / "results.parquet"), reference)


@pytest.mark.slow
def test_slurm_path_runs_the_same_jobs_as_a_submitit_array(notebook, reference, tmp_path, capsys):
    run_dir = tmp_path / "run"
    grid_file = tmp_path / "grid.yaml"
    spec = {"notebooks": [str(notebook)], "run_dir": str(run_dir), "grid": {"EPS": [4]}, "shards": 2,
            "slurm": {"partition": "gpu", "gpus_per_task": 0, "time_min": 5, "array_parallelism": 2}}  # fmt: skip
    grid_file.write_text(yaml.safe_dump(spec))
    code = G.main(["run", str(grid_file), "--executor", "slurm", "--cluster", "local", "--time-min", "10"])
    out = capsys.readouterr().out
    assert code == 0 and "2 done" in out
    assert len(list((run_dir / "submitit").glob("*/*_log.out"))) == 2, "one submitit array task per job"
    jobs = G.load_grid(grid_file).jobs()
    assert all(j.is_done() for j in jobs)
    assert json.loads((jobs[0].dir / "done.json").read_text())["params"] == jobs[0].params
    assert G.main(["collect", str(run_dir)]) == 0
    _assert_pools_like(pd.read_parquet(run_dir / "results.parquet"), reference[reference.eps_255 == 4])


@pytest.mark.slow
def test_notebook_02_runs_as_shards_and_draws_from_the_collected_table(tmp_path):
    """Notebook 02 as two shard jobs (one image each): disjoint images, and ``-p RESULTS`` draws its tables
    from the collected rows, pooled over the shards, without computing."""
    params = {
        "N_IMAGES": 2,
        "MODELS": ["synth_city/bisenetv1"],
        "IMAGE_SIZE": [64, 128],
        "DEVICE": "cpu",
        "ATTACKS": ["fgsm"],
        "EPS_255": [4],
    }
    grid = G.load_grid({"notebooks": ["02_attack_evaluation"], "parameters": params, "shards": 2}, tmp_path / "run")
    summary = G.run_grid(grid, G.local_runner(workers=2), progress=False)
    assert summary["status"].tolist() == ["done", "done"], summary.to_dict("records")
    rows = G.collect(tmp_path / "run")
    ids = rows.groupby("job")["image_id"].unique()
    assert [len(set(i)) for i in ids] == [1, 1] and set(ids.iloc[0]).isdisjoint(ids.iloc[1])
    assert set(rows.image_id) == {load_dataset("synth_city")[i]["id"] for i in range(2)}

    figures = tmp_path / "figures"
    run_notebook("02_attack_evaluation", {**params, "RESULTS": str(tmp_path / "run" / "results.parquet"),
                                          "OUT_DIR": str(figures), "RESULTS_DIR": str(tmp_path / "unused")},
                 out_dir=tmp_path)  # fmt: skip
    assert not (tmp_path / "unused").exists(), "RESULTS given: nothing is computed"
    (table,) = [p for p in figures.glob("02_attack_evaluation_synth_city_quick_*.csv") if "_rows" not in p.name]
    drawn = pd.read_csv(table).sort_values("config", ignore_index=True)
    pooled = summarize(rows).sort_values("config", ignore_index=True)
    assert (drawn["n_images"] == 2).all() and list(drawn["config"]) == list(pooled["config"])
    for col in ["apsr", "miou_clean", "miou_adv", "delta_miou"]:
        assert drawn[col].tolist() == pytest.approx(pooled[col].tolist(), rel=1e-12), col
    suffix = table.stem.removeprefix("02_attack_evaluation")  # _<data set>_<profile>_<settings hash>
    names = {p.name for p in figures.iterdir()}
    assert {f"02_attack_evaluation_{what}{suffix}.png" for what in ("apsr", "delta_miou", "gains")} <= names
