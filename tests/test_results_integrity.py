"""No stale or lost rows: a grid job whose checkpoint changed is recomputed and only its rows are replaced;
``collect`` refuses to pool two checkpoints of one model unless told to; two processes writing into one results
folder at once leave it whole; ``kill -9`` of :func:`experiment.run` mid-batch loses no finished row."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch.utils.data import Dataset

from uwl_utils.experiment import AttackConfig, load_results, run, summarize
from uwl_utils.models import checkpoint_path
from uwl_utils.testing import ToySegmenter
from uwl_utils.tools import grid as G

REPO = Path(__file__).resolve().parents[1]


class Images(Dataset):
    """``n`` random 12×16 images labelled with the 19-class toy model's clean prediction."""

    name = "toy19"

    def __init__(self, n: int = 4) -> None:
        self.x = torch.rand(n, 3, 12, 16, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            self.y = ToySegmenter(19)(self.x).argmax(1)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.x[i], "label": self.y[i], "id": f"toy/{i}"}


# ------------------------------------------------------------------------------------------ stale grid rows


def _in_process_runner(ran: list[str]):
    """A grid runner that does a job's work here: the toy model under the job's MODEL name, loaded (as
    load_model would) from that model's checkpoint file, attacked with fgsm at the job's EPS."""

    def runner(jobs, attempt):
        for job in jobs:
            model = ToySegmenter(19)
            model.checkpoint_path = checkpoint_path(job.params["MODEL"])
            run({job.params["MODEL"]: model}, [AttackConfig("fgsm", job.params["EPS"])], ["none"], Images(),
                n_images=4, batch_size=2, device="cpu", out=job.dir / "results", progress=False)  # fmt: skip
            G.mark_done(job, attempt, 0.0)
            ran.append(job.params["MODEL"] + f"@{job.params['EPS']}")
            yield job, G._status(job, "done", attempt)

    return runner


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    """Checkpoint files of two registered tiny models in a folder of their own (their content is never loaded)."""
    monkeypatch.setenv("UWL_CHECKPOINT_DIR", str(tmp_path / "ckpt"))
    (tmp_path / "ckpt").mkdir()
    for name in ("synth_city/bisenetv1", "synth_city/ddrnet"):
        checkpoint_path(name).write_bytes(f"{name} v1".encode())


def _grid(tmp_path, eps=(2, 4)) -> G.Grid:
    notebook = tmp_path / "job.ipynb"
    notebook.write_text("{}")
    spec = {"notebooks": [str(notebook)], "run_dir": str(tmp_path / "run"),
            "grid": {"MODEL": ["synth_city/bisenetv1", "synth_city/ddrnet"], "EPS": list(eps)}}  # fmt: skip
    return G.load_grid(spec)


def test_a_changed_checkpoint_reruns_exactly_its_jobs_and_collect_takes_its_new_rows(tmp_path, checkpoints):
    ran: list[str] = []
    G.run_grid(_grid(tmp_path), _in_process_runner(ran), progress=False)
    assert sorted(ran) == ["synth_city/bisenetv1@2", "synth_city/bisenetv1@4", "synth_city/ddrnet@2",
                           "synth_city/ddrnet@4"]  # fmt: skip
    job = _grid(tmp_path).jobs()[0]
    done = json.loads((job.dir / "done.json").read_text())
    old = G.file_checkpoint(checkpoint_path("synth_city/bisenetv1"))
    assert done["version"] == G.package_version() != "unknown"
    assert done["checkpoints"] == {
        "synth_city/bisenetv1": {"checkpoint": old, "file": str(checkpoint_path("synth_city/bisenetv1"))}
    }
    ran.clear()
    assert set(G.run_grid(_grid(tmp_path), _in_process_runner(ran), progress=False)["status"]) == {"skipped"}
    assert ran == []

    checkpoint_path("synth_city/bisenetv1").write_bytes(b"synth_city/bisenetv1 retrained")
    new = G.file_checkpoint(checkpoint_path("synth_city/bisenetv1"))
    summary = G.run_grid(_grid(tmp_path), _in_process_runner(ran), progress=False).set_index("job")
    assert sorted(ran) == ["synth_city/bisenetv1@2", "synth_city/bisenetv1@4"]
    assert sorted(summary["status"]) == ["done", "done", "skipped", "skipped"]
    assert len(job.rows()) == 8 and set(job.rows()["checkpoint"]) == {old, new}  # the old rows stay on disk
    rows = G.collect(tmp_path / "run")
    bisenet = rows[rows["model"] == "synth_city/bisenetv1"]
    assert len(rows) == 16 and set(bisenet["checkpoint"]) == {new}  # ... but are not collected


def test_collect_refuses_two_checkpoints_of_one_model_unless_told(tmp_path, checkpoints, capsys):
    G.run_grid(_grid(tmp_path), _in_process_runner([]), progress=False)
    checkpoint_path("synth_city/bisenetv1").write_bytes(b"synth_city/bisenetv1 retrained")
    ran: list[str] = []
    G.run_grid(_grid(tmp_path, eps=[2]), _in_process_runner(ran), progress=False)  # only the ε=2 jobs rerun
    assert ran == ["synth_city/bisenetv1@2"]
    with pytest.raises(ValueError, match=r"rows of synth_city/bisenetv1 come from 2 checkpoints .*--allow-mixed"):
        G.collect(tmp_path / "run")
    assert not (tmp_path / "run" / "results.parquet").exists()
    with pytest.raises(SystemExit):
        G.main(["collect", str(tmp_path / "run")])
    assert "come from 2 checkpoints" in capsys.readouterr().err
    assert G.main(["collect", str(tmp_path / "run"), "--allow-mixed-checkpoints"]) == 0
    rows = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert rows.loc[rows["model"] == "synth_city/bisenetv1", "checkpoint"].nunique() == 2 and len(rows) == 16


# ------------------------------------------------------------------------------------------ real processes

RUN_SCRIPT = """\
import sys, time
sys.path.insert(0, "tests")
from uwl_utils.testing import ToySegmenter
from test_results_integrity import Images
from uwl_utils.experiment import AttackConfig, run

class Slow(ToySegmenter):
    def forward(self, x):
        time.sleep({delay})  # long enough that a kill lands inside a batch
        return super().forward(x)

attacks = [AttackConfig("ifgsm", e, {{"steps": 3}}) for e in (2, 4, 8)]
run({{"toy": Slow(19)}}, attacks, ["none", "E"], Images(6), n_images=6, batch_size=2, device="cpu",
    out=sys.argv[1], progress=False)
"""
N_ROWS = 6 * 3 * 2


def _start(out: Path, delay: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    code = textwrap.dedent(RUN_SCRIPT.format(delay=delay))
    return subprocess.Popen([sys.executable, "-c", code, str(out)], cwd=REPO, env=env, stderr=subprocess.PIPE)


def _run_here(out: Path) -> pd.DataFrame:
    """The subprocesses' run, in this process, without the delay."""
    attacks = [AttackConfig("ifgsm", e, {"steps": 3}) for e in (2, 4, 8)]
    return run({"toy": ToySegmenter(19)}, attacks, ["none", "E"], Images(6), n_images=6, batch_size=2, device="cpu",
               out=out, progress=False).rows  # fmt: skip


def _assert_same_results(rows: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert len(rows) == N_ROWS and not rows.duplicated(["config", "image_id"]).any()
    cols = ["config", "n_images", "apsr_clean", "apsr", "apsr_image_mean", "miou_clean", "miou_adv", "delta_miou"]
    got = summarize(rows)[cols].sort_values("config", ignore_index=True)
    want = summarize(reference)[cols].sort_values("config", ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def _every_part_reads(out: Path) -> int:
    """Rows in all part files (each must read back whole); files of an interrupted write are never parts."""
    return sum(len(pd.read_parquet(p)) for p in out.glob("part-*.parquet"))


@pytest.mark.slow
def test_kill_9_mid_batch_loses_no_finished_row_and_leaves_no_unreadable_file(tmp_path):
    out = tmp_path / "out"
    proc = _start(out, delay=0.02)
    deadline = time.monotonic() + 60
    while len(list(out.glob("part-*.parquet"))) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    n_before = _every_part_reads(out)
    assert 3 <= len(before) and n_before < N_ROWS, "the kill should land part-way"
    assert len(load_results(out)) == n_before  # every finished row is there, once

    resumed = _run_here(out)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet") if p.name in before} == before
    assert _every_part_reads(out) == N_ROWS  # the rerun added exactly the missing rows
    _assert_same_results(resumed, _run_here(tmp_path / "reference"))


@pytest.mark.slow
def test_two_processes_writing_into_one_results_folder_leave_it_whole(tmp_path):
    out = tmp_path / "out"
    procs = [_start(out, delay=0.0), _start(out, delay=0.0)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-2000:]
    assert _every_part_reads(out) >= N_ROWS  # both may have computed a row; each file is whole
    assert not list(out.glob(".tmp-*"))
    _assert_same_results(load_results(out), _run_here(tmp_path / "reference"))


def test_a_job_locked_by_another_process_is_reported_busy_and_left_alone(tmp_path):
    job = _grid(tmp_path).jobs()[0]
    job.dir.mkdir(parents=True)
    holder = subprocess.Popen(  # another process holds the job's lock, as a second grid running it would
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
         "print('locked', flush=True); time.sleep(60)", str(job.dir / ".lock")], stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert holder.stdout.readline() == b"locked\n"
        status = G.run_job(job)
        assert status["status"] == "busy" and "another process" in status["error"]
        assert sorted(p.name for p in job.dir.iterdir()) == [".lock"]  # no log, no notebook, no status written

        def runner(jobs, attempt):  # the locked job through run_job; the others need not run
            for j in jobs:
                yield j, G.run_job(j, attempt) if j.key == job.key else G._status(j, "done", attempt)

        summary = G.run_grid(_grid(tmp_path), runner, retries=2, progress=False)
        assert summary.loc[0, "status"] == "busy" and summary.loc[0, "attempts"] == 1  # not retried
    finally:
        holder.kill()
        holder.wait()


def test_the_data_is_checked_before_any_attack_and_kept_for_reuse_while_small():
    from uwl_utils.experiment import _checked_batches

    data = Images(4)
    kept = _checked_batches(data, 3, 19)
    assert [b["id"] for b in kept] == [["toy/0", "toy/1", "toy/2"], ["toy/3"]]
    assert torch.equal(torch.cat([b["image"] for b in kept]), data.x)
    assert _checked_batches(data, 3, 19, keep_bytes=0) is None  # too large to keep: the attack loop reloads
    data.x[3, 0, 0, 0] = float("nan")
    for keep in (1 << 30, 0):
        with pytest.raises(ValueError, match=r"images \[toy/3\] contain NaN"):
            _checked_batches(data, 3, 19, keep_bytes=keep)
