"""Batch reruns at scale: a resumable grid of papermill jobs, locally one per GPU or as SLURM job arrays.

A grid (YAML) lists notebooks, parameters shared by every job and parameters to sweep; it expands into
jobs, one papermill run each. A job's folder in the run directory is named by the hash of its notebook's
name and its parameters and holds ``job.json``, the executed notebook, ``job.log`` (cell output and, on
failure, the traceback of every attempt), the notebook's own outputs (``results/``, ``figures/``: see
``outputs``) and, once it has succeeded, ``done.json`` (its parameters, the package version and, per model, the
checkpoint hash its rows were computed with). A rerun skips jobs whose ``done.json`` holds the same parameters
and whose checkpoint files still hold those hashes, so a killed grid resumes with the missing jobs only (and each
job's notebook resumes inside :func:`uwl_utils.experiment.run` from the rows it had written) and a retrained
checkpoint reruns exactly the jobs that used it. A job runs in one process at a time (a lock in its folder)::

    python -m uwl_utils.tools.grid run GRID.yaml [--executor local|slurm] [--workers N] [--retries N]
    python -m uwl_utils.tools.grid collect RUN_DIR [--allow-mixed-checkpoints]   # -> RUN_DIR/results.parquet

The grid file (every key but ``notebooks`` optional)::

    notebooks: [02_attack_evaluation]   # names of notebooks/*.ipynb, or paths (relative to the working dir)
    run_dir: runs/grid/paper             # --run-dir wins
    parameters: {PROFILE: paper}         # given to every job
    grid:                                # a mapping of NAME: [values to sweep], or a list of such mappings
      - MODELS: [[cityscapes/ddrnet], [cityscapes/bisenetv1]]   # (a list-valued parameter: a list of lists)
    shards: 4                            # adds SHARD: [i, 4] for i < 4 to every grid entry without SHARD
    outputs: {RESULTS_DIR: results, OUT_DIR: figures}   # parameters set to folders inside the job's folder
    # a user's own models: parameters: {MODEL_SPEC: my_models.yaml} (file paths are made absolute and
    # checked when the grid is read; see uwl_utils.user_models)
    retries: 1                           # extra attempts of a failed job (--retries wins)
    workers: null                        # local: concurrent jobs (default: one per visible GPU, else 1)
    slurm: {partition: gpu, gpus_per_task: 1, time_min: 240, array_parallelism: 16,
            cpus_per_task: 8, mem_gb: 64, additional: {account: myproject}}

The local executor runs each papermill run in its own process (no kernel port races), one per visible GPU at
a time with ``CUDA_VISIBLE_DEVICES`` pinned per job; without GPUs, ``workers`` jobs at a time, each pinned
to its own group of CPU cores (affinity and ``OMP_NUM_THREADS``). The SLURM executor submits the same job
function as a submitit job array (``map_array``); ``--cluster local|debug`` runs that path on this machine.
Failed jobs are retried in rounds after the others; a job's failure never stops the others.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue
from typing import Any

import pandas as pd
import yaml
from tqdm.auto import tqdm

from uwl_utils.files import atomic_write

__all__ = [
    "Grid",
    "Job",
    "Slot",
    "SlurmOptions",
    "load_grid",
    "run_job",
    "run_grid",
    "collect",
    "file_checkpoint",
    "mark_done",
    "package_version",
    "main",
]

DEFAULT_OUTPUTS = {"RESULTS_DIR": "results", "OUT_DIR": "figures"}
_GRID_KEYS = {"notebooks", "run_dir", "parameters", "grid", "shards", "outputs", "retries", "workers", "slurm"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# A runner takes the jobs to run and the attempt number and yields (job, status) as jobs finish.
Runner = Callable[[Sequence["Job"], int], Iterator[tuple["Job", dict]]]


def _read_json(path: Path) -> Any:
    """The JSON in ``path``; None if absent or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value: Any) -> None:
    """Write JSON atomically (a reader sees the old file or the whole new one)."""
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(value, indent=1, sort_keys=True))


def file_checkpoint(path: str | Path) -> str | None:
    """The content hash of a checkpoint file, 16 hex digits as :func:`uwl_utils.experiment.model_identity` records
    it; None if the file is absent."""
    from uwl_utils.models import file_sha256

    return file_sha256(path)[:16] if Path(path).is_file() else None


def package_version() -> str:
    """The installed version of this package (``"unknown"`` when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("uwl")
    except PackageNotFoundError:
        return "unknown"


def _folder_rows(folder: Path, job: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Every result row below ``folder`` (its ``part-*.parquet`` files), with ``job`` as a column."""
    from uwl_utils.experiment import load_results

    frames = [load_results(f) for f in sorted({p.parent for p in folder.glob("**/part-*.parquet")})]
    frames = [f[[c for c in columns if c in f]] if columns else f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True).assign(job=job) if frames else pd.DataFrame()


def mark_done(job: Job, attempt: int, seconds: float) -> None:
    """Write the job's ``done.json``: its notebook and parameters, the package version, and per model found in its
    rows the checkpoint hash they were computed with, with the file that holds it where known (a registered
    model's default checkpoint file, when its hash now is among the rows'); :meth:`Job.is_done` rechecks that file.
    """
    from uwl_utils.models import MODELS, checkpoint_path

    rows = job.rows(["model", "checkpoint"])
    checkpoints = {}
    for model, group in rows.groupby("model", sort=True) if "checkpoint" in rows else ():
        seen = group["checkpoint"].dropna().unique().tolist()
        path = checkpoint_path(model) if model in MODELS else None
        current = file_checkpoint(path) if path else None
        if current is not None and current in seen:
            checkpoints[model] = {"checkpoint": current, "file": str(path)}
        else:  # another model, or a registered one run from another file: recorded, not rechecked
            checkpoints[model] = {"checkpoint": seen[0] if len(seen) == 1 else None, "file": None}
    record = {
        "notebook": Path(job.notebook).stem,
        "params": job.params,
        "seconds": seconds,
        "attempt": attempt,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "version": package_version(),
        "checkpoints": checkpoints,
    }
    _write_json(job.dir / "done.json", record)


@dataclass(frozen=True)
class Job:
    """One papermill run: a notebook with its parameters, in its own folder of the run directory."""

    notebook: str  # absolute path of the source notebook
    params: dict[str, Any]  # the notebook parameters that define the job (hashed)
    run_dir: str
    outputs: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_OUTPUTS))

    @property
    def key(self) -> str:
        """sha256 of the notebook's name and the sorted JSON parameters (first 12 hex digits)."""
        ident = json.dumps({"notebook": Path(self.notebook).stem, "params": self.params}, sort_keys=True)
        return hashlib.sha256(ident.encode()).hexdigest()[:12]

    @property
    def name(self) -> str:
        return f"{Path(self.notebook).stem}-{self.key}"

    @property
    def dir(self) -> Path:
        return Path(self.run_dir) / self.name

    @property
    def log(self) -> Path:
        return self.dir / "job.log"

    @property
    def executed(self) -> Path:
        return self.dir / Path(self.notebook).name

    def parameters(self) -> dict[str, Any]:
        """What papermill injects: the job's parameters plus its output folders."""
        return {**self.params, **{k: str(self.dir / v) for k, v in self.outputs.items()}}

    def is_done(self) -> bool:
        """True when ``done.json`` records this notebook, these parameters and, for every registered model its rows
        came from, the checkpoint that model's file still holds (a retrained or replaced checkpoint reruns the job)."""
        done = _read_json(self.dir / "done.json")
        if done is None or done.get("notebook") != Path(self.notebook).stem or done.get("params") != self.params:
            return False
        recorded = (done.get("checkpoints") or {}).values()
        return all(c["file"] is None or file_checkpoint(c["file"]) == c["checkpoint"] for c in recorded)

    def rows(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The result rows the job's notebook wrote (every ``part-*.parquet`` below its folder), with a ``job``
        column; an empty frame if none."""
        return _folder_rows(self.dir, self.name, columns)

    def to_json(self) -> dict:
        return dataclasses.asdict(self) | {"key": self.key}

    @classmethod
    def from_dir(cls, folder: str | Path) -> Job:
        """The job described by ``folder/job.json``."""
        spec = json.loads((Path(folder) / "job.json").read_text())
        return cls(spec["notebook"], spec["params"], spec["run_dir"], spec["outputs"])


@dataclass
class SlurmOptions:
    """Submission settings of the SLURM executor (YAML ``slurm:`` section, command-line options win)."""

    partition: str | None = None
    gpus_per_task: int = 1
    cpus_per_task: int | None = None
    mem_gb: float | None = None
    time_min: int = 240
    array_parallelism: int = 32
    additional: dict[str, Any] = field(default_factory=dict)  # extra sbatch options, e.g. {account: ...}


@dataclass
class Grid:
    """An expanded grid description; :meth:`jobs` lists its jobs."""

    notebooks: list[str]
    run_dir: str
    parameters: dict[str, Any] = field(default_factory=dict)
    grid: list[dict[str, list]] = field(default_factory=lambda: [{}])
    shards: int | None = None
    outputs: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_OUTPUTS))
    retries: int = 0
    workers: int | None = None
    slurm: SlurmOptions = field(default_factory=SlurmOptions)

    def jobs(self) -> list[Job]:
        """Every notebook × every grid entry's product of swept values (duplicates dropped), in order."""
        jobs: dict[str, Job] = {}
        for notebook in self.notebooks:
            for entry in self.grid:
                entry = dict(entry)
                if self.shards and "SHARD" not in entry:
                    entry["SHARD"] = [[i, self.shards] for i in range(self.shards)]
                for values in itertools.product(*entry.values()):
                    params = {**self.parameters, **dict(zip(entry, values, strict=True))}
                    job = Job(notebook, params, self.run_dir, dict(self.outputs))
                    jobs.setdefault(job.key, job)
        return list(jobs.values())


def _notebook_path(spec: str) -> str:
    """A bare name means ``notebooks/<name>.ipynb`` of this project; anything else is a path."""
    if "/" not in spec and not spec.endswith(".ipynb"):
        from uwl_utils.notebook import NOTEBOOKS

        path = NOTEBOOKS / f"{spec}.ipynb"
    else:
        path = Path(spec).expanduser()
    if not path.is_file():
        raise ValueError(f"notebook {spec!r} not found (looked for {path})")
    return str(path.resolve())


def _model_spec_for_jobs(spec: Any) -> Any:
    """A ``MODEL_SPEC`` value as the jobs need it: a registry / Python file's path made absolute (jobs run in
    the notebook's folder) and checked to exist; a module's importability checked. None stays None."""
    if spec is None:
        return None
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"MODEL_SPEC must be a registry file, a Python file or module, or 'module:function'; "
                         f"got {spec!r}")  # fmt: skip
    from uwl_utils.user_models import anchor_spec

    anchored, path = anchor_spec(spec, Path.cwd())
    if path is not None:
        if not path.is_file():
            raise ValueError(f"MODEL_SPEC={spec!r}: file {path} not found")
        return anchored
    target = spec.partition(":")[0]
    try:
        found = importlib.util.find_spec(target) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ValueError(f"MODEL_SPEC={spec!r}: module {target!r} cannot be imported here; install it, put it on "
                         "PYTHONPATH or give a file path (my_models.py:build)")  # fmt: skip
    return spec


def load_grid(source: str | Path | Mapping[str, Any], run_dir: str | Path | None = None) -> Grid:
    """Read and check a grid description (a YAML file or an equivalent mapping); relative paths are taken
    from the working directory."""
    if isinstance(source, Mapping):
        spec = dict(source)
    else:
        if not Path(source).is_file():
            raise ValueError(f"grid file {str(source)!r} not found")
        spec = yaml.safe_load(Path(source).read_text())
        if not isinstance(spec, Mapping):
            raise ValueError(f"grid file {str(source)!r} must hold a mapping (notebooks:, grid:, ...), got {spec!r}")
        spec = dict(spec)
    unknown = set(spec) - _GRID_KEYS
    if unknown:
        raise ValueError(f"unknown grid key(s) {sorted(unknown)}; known keys: {sorted(_GRID_KEYS)}")
    notebooks = spec.get("notebooks")
    if isinstance(notebooks, str):
        notebooks = [notebooks]
    if not notebooks:
        raise ValueError("the grid needs `notebooks:` (names in notebooks/ or paths)")
    run_dir = run_dir or spec.get("run_dir")
    if not run_dir:
        raise ValueError("no run directory: set `run_dir:` in the grid or pass --run-dir")
    entries = spec.get("grid") or [{}]
    entries = [entries] if isinstance(entries, Mapping) else list(entries)
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise ValueError(f"each grid entry must be a mapping of NAME: [values to sweep], got {entry!r}")
        for name, values in entry.items():
            if not isinstance(values, list) or not values:
                raise ValueError(
                    f"grid parameter {name} must be a non-empty list of values to sweep, got {values!r} "
                    f"(a single value: {name}: [value]; a list-valued parameter: {name}: [[a, b]])"
                )
    parameters = dict(spec.get("parameters") or {})
    if "MODEL_SPEC" in parameters:
        parameters["MODEL_SPEC"] = _model_spec_for_jobs(parameters["MODEL_SPEC"])
    entries = [
        {**entry, "MODEL_SPEC": [_model_spec_for_jobs(v) for v in entry["MODEL_SPEC"]]} if "MODEL_SPEC" in entry
        else dict(entry) for entry in entries
    ]  # fmt: skip
    outputs = dict(spec.get("outputs") or DEFAULT_OUTPUTS)
    clash = set(outputs) & (set(spec.get("parameters") or {}) | {k for e in entries for k in e})
    if clash:
        raise ValueError(f"{sorted(clash)} are set by the grid per job (`outputs:`); do not set them as parameters")
    shards = spec.get("shards")
    if shards is not None and (not isinstance(shards, int) or shards < 1):
        raise ValueError(f"shards must be a positive integer, got {shards!r}")
    retries, workers = spec.get("retries") or 0, spec.get("workers")
    if not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive integer (or null: one per visible GPU), got {workers!r}")
    slurm = dict(spec.get("slurm") or {})
    bad = set(slurm) - {f.name for f in dataclasses.fields(SlurmOptions)}
    if bad:
        known = [f.name for f in dataclasses.fields(SlurmOptions)]
        raise ValueError(f"unknown slurm option(s) {sorted(bad)}; known: {known}")
    return Grid(
        notebooks=[_notebook_path(str(n)) for n in notebooks],
        run_dir=str(Path(run_dir).expanduser().resolve()),
        parameters=parameters,
        grid=entries,
        shards=shards,
        outputs=outputs,
        retries=retries,
        workers=workers,
        slurm=SlurmOptions(**slurm),
    )


def _status(job: Job, status: str, attempt: int, seconds: float = 0.0, error: str = "", log: str | None = None) -> dict:
    return {"job": job.name, "status": status, "attempts": attempt, "seconds": round(seconds, 1), "error": error,
            "log": log or str(job.log)}  # fmt: skip


def _notebook_error(executed: Path) -> str | None:
    """``ename: evalue`` of the first failed cell of an executed notebook, if any."""
    try:
        cells = json.loads(executed.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None
    for cell in cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return _ANSI.sub("", f"{output.get('ename')}: {output.get('evalue')}").splitlines()[0][:300]
    return None


def _last_line(path: Path, offset: int) -> str:
    """The last non-blank line written to a log after ``offset``."""
    with open(path, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        lines = [line.strip() for line in _ANSI.sub("", f.read()).splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def run_job(job: Job, attempt: int = 1, env: Mapping[str, str] | None = None, cpus: Sequence[int] = ()) -> dict:
    """Run one job: papermill in a process of its own; never raises for a failing notebook.

    ``env`` is added to the job's environment (the local executor pins ``CUDA_VISIBLE_DEVICES`` this way) and
    ``cpus`` (Linux) its CPU core group. Appends papermill's log, the cells' output and, on failure, the
    traceback to ``job.log``; writes ``done.json`` (atomically, with the parameters) on success and
    ``status.json`` in any case; returns the status row. The local and SLURM executors both run this.

    A job runs in one process at a time: while another process (a second grid over the same run directory)
    holds the job's folder lock, this returns at once with status ``"busy"`` and touches nothing.
    """
    job.dir.mkdir(parents=True, exist_ok=True)
    with open(job.dir / ".lock", "a") as lock:
        if not _lock(lock):
            return _status(job, "busy", attempt, 0.0, "running in another process; rerun the grid once it has finished")
        return _run_papermill(job, attempt, env, cpus)


def _lock(file: Any) -> bool:
    """Take an exclusive lock on an open file without waiting (released when it closes, also on kill -9); True if
    taken, or where the platform has no ``fcntl``."""
    try:
        import fcntl
    except ImportError:  # Windows: no locking
        return True
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _run_papermill(job: Job, attempt: int, env: Mapping[str, str] | None, cpus: Sequence[int]) -> dict:
    _write_json(job.dir / "job.json", job.to_json())
    (job.dir / "parameters.yaml").write_text(yaml.safe_dump(job.parameters(), sort_keys=True))
    env = {**os.environ, **(env or {})}
    cmd = [sys.executable, "-m", "papermill", job.notebook, str(job.executed), "-f", str(job.dir / "parameters.yaml"),
           "--cwd", str(Path(job.notebook).parent), "--no-progress-bar", "--log-output"]  # fmt: skip
    start = time.perf_counter()
    with open(job.log, "a", encoding="utf-8") as log:
        offset = log.tell()
        log.write(f"=== attempt {attempt} · {time.strftime('%Y-%m-%d %H:%M:%S')} · {socket.gethostname()} · "
                  f"CUDA_VISIBLE_DEVICES={env.get('CUDA_VISIBLE_DEVICES', 'unset')} · "
                  f"cpus={','.join(map(str, cpus)) or 'all'}\n$ {' '.join(cmd)}\n")  # fmt: skip
        log.flush()
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if cpus and hasattr(os, "sched_setaffinity"):
            try:  # before the kernel starts, so that it inherits the core group
                os.sched_setaffinity(proc.pid, set(cpus))
            except OSError:  # already gone
                pass
        code = proc.wait()
        seconds = time.perf_counter() - start
        if code == 0:
            mark_done(job, attempt, seconds)
            status = _status(job, "done", attempt, seconds)
        else:
            log.flush()
            error = _notebook_error(job.executed) or _last_line(job.log, offset) or f"papermill exited with {code}"
            status = _status(job, "failed", attempt, seconds, error)
        log.write(f"=== {status['status']} in {status['seconds']} s\n")
    _write_json(job.dir / "status.json", status)
    return status


# ---------------------------------------------------------------------------------------------- executors


@dataclass(frozen=True)
class Slot:
    """Where one local job runs: its GPU (None: no GPU) and its CPU core group."""

    gpu: str | None
    cpus: tuple[int, ...]

    def env(self) -> dict[str, str]:
        threads = str(len(self.cpus))
        return {"CUDA_VISIBLE_DEVICES": self.gpu or "", "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def _visible_gpus() -> list[str]:
    """GPU ids this process may use: CUDA_VISIBLE_DEVICES if set, else every device torch sees."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip() and g.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def local_slots(workers: int | None = None, gpus: Sequence[str] | None = None) -> list[Slot]:
    """One slot per concurrent local job: a GPU each (one job per visible GPU unless ``workers`` says
    otherwise; GPUs are then shared round-robin) and a disjoint group of CPU cores."""
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    gpus = list(_visible_gpus() if gpus is None else gpus)
    n = workers or max(1, len(gpus))
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    per = max(1, len(cpus) // n)
    groups = [tuple(cpus[i * per : (i + 1) * per]) if len(cpus) >= n else tuple(cpus) for i in range(n)]
    return [Slot(gpus[i % len(gpus)] if gpus else None, groups[i]) for i in range(n)]


def local_runner(workers: int | None = None) -> Runner:
    """Run jobs on this machine, one per slot of :func:`local_slots` at a time."""
    slots = local_slots(workers)

    def run_in_slot(job: Job, attempt: int, free: Queue) -> dict:
        slot = free.get()
        try:
            return run_job(job, attempt, slot.env(), slot.cpus)
        except Exception as exc:  # not the notebook failing (run_job reports that) but e.g. a full disk
            return _status(job, "failed", attempt, 0.0, f"{type(exc).__name__}: {exc}"[:300])
        finally:
            free.put(slot)

    def runner(jobs: Sequence[Job], attempt: int) -> Iterator[tuple[Job, dict]]:
        free: Queue = Queue()
        for slot in slots:
            free.put(slot)
        with ThreadPoolExecutor(max_workers=len(slots)) as pool:
            futures = {pool.submit(run_in_slot, job, attempt, free): job for job in jobs}
            for future in as_completed(futures):
                yield futures[future], future.result()

    return runner


def slurm_runner(run_dir: str | Path, options: SlurmOptions, cluster: str = "slurm") -> Runner:
    """Submit jobs as a submitit job array per round (``cluster="local"`` or ``"debug"`` to run here)."""
    import submitit

    executor = submitit.AutoExecutor(folder=Path(run_dir) / "submitit" / "%j", cluster=cluster)
    executor.update_parameters(
        name=f"uwl-grid-{Path(run_dir).name}",
        timeout_min=options.time_min,
        tasks_per_node=1,
        gpus_per_node=options.gpus_per_task,  # one task per array element: its GPUs
        cpus_per_task=options.cpus_per_task,
        mem_gb=options.mem_gb,
        slurm_partition=options.partition,
        slurm_array_parallelism=options.array_parallelism,
        slurm_additional_parameters=options.additional or None,
    )
    poll = 15.0 if cluster == "slurm" else 0.5

    def runner(jobs: Sequence[Job], attempt: int) -> Iterator[tuple[Job, dict]]:
        submitted = executor.map_array(run_job, list(jobs), [attempt] * len(jobs))
        by_id = {id(s): job for s, job in zip(submitted, jobs, strict=True)}
        for sjob in submitit.helpers.as_completed(submitted, poll_frequency=poll):
            job = by_id[id(sjob)]
            try:
                status = sjob.result()
            except Exception as exc:  # cancelled, timed out, node failure: submitit's own log says why
                log = getattr(getattr(sjob, "paths", None), "stderr", job.log)
                error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
                status = _status(job, "failed", attempt, 0.0, error, str(log))
            yield job, status

    return runner


# ---------------------------------------------------------------------------------------------- grid runs


def _varying(jobs: Sequence[Job]) -> list[str]:
    """Parameter names whose value differs between jobs (the summary's columns)."""
    names = sorted({k for job in jobs for k in job.params})
    return [k for k in names if len({json.dumps(job.params.get(k), sort_keys=True) for job in jobs}) > 1]


def _shown(job: Job, names: Sequence[str]) -> dict[str, str]:
    """A job's parameter values for a table: text as is, other values as JSON, unset as empty."""

    def show(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    return {k: show(job.params[k]) if k in job.params else "" for k in names}


def _done_seconds(job: Job) -> float:
    return float((_read_json(job.dir / "done.json") or {}).get("seconds", 0.0))


def run_grid(grid: Grid, runner: Runner, retries: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Run the grid's missing jobs with ``runner``, retrying failed ones up to ``retries`` times (rounds
    after the others); returns the summary table (one row per job), also written to ``summary.csv``."""
    retries = grid.retries if retries is None else int(retries)
    if retries < 0:
        raise ValueError(f"retries must be at least 0, got {retries}")
    jobs = grid.jobs()
    run_dir = Path(grid.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    statuses = {job.key: _status(job, "skipped", 0, _done_seconds(job)) for job in jobs if job.is_done()}
    todo = [job for job in jobs if job.key not in statuses]
    bar = tqdm(total=len(jobs), initial=len(statuses), desc="grid", unit="job", disable=not progress)
    for attempt in range(1, retries + 2):
        if not todo:
            break
        for job, status in runner(todo, attempt):
            statuses[job.key] = status
            final = status["status"] in ("done", "busy") or attempt == retries + 1
            bar.update(int(final))
            failed = sum(statuses[j.key]["status"] == "failed" for j in todo if j.key in statuses)
            bar.set_postfix({"attempt": attempt, "failed" if attempt == retries + 1 else "to retry": failed})
        todo = [job for job in todo if statuses[job.key]["status"] not in ("done", "busy")]
    bar.close()
    varying = _varying(jobs)
    rows = [{**statuses[job.key], **_shown(job, varying)} for job in jobs]
    columns = ["job", *varying, "status", "attempts", "seconds", "error", "log"]
    summary = pd.DataFrame(rows, columns=columns)
    summary.to_csv(run_dir / "summary.csv", index=False)
    return summary


def collect(run_dir: str | Path, out: str | Path | None = None, allow_mixed_checkpoints: bool = False) -> pd.DataFrame:
    """All jobs' result rows as one tidy table, de-duplicated by (config, image_id), with a ``job`` column;
    written to ``out`` (default ``RUN_DIR/results.parquet``). Pool it with :func:`experiment.summarize`.

    A finished job contributes only the rows of the checkpoints its ``done.json`` records (rows it kept from an
    earlier checkpoint stay on disk). Rows of two checkpoints of one model are refused unless
    ``allow_mixed_checkpoints``: rerun the grid (it recomputes the jobs whose checkpoint changed) first.
    """
    run_dir = Path(run_dir)
    names = sorted({p.relative_to(run_dir).parts[0] for p in run_dir.glob("*/**/part-*.parquet")})
    frames = [_current_rows(run_dir / name) for name in names]
    frames = [f for f in frames if len(f)]
    if not frames:
        raise ValueError(f"no result rows under {run_dir} (looked for */**/part-*.parquet)")
    rows = pd.concat(frames, ignore_index=True).sort_values(["config", "image_id", "job"], ignore_index=True)
    rows = rows.drop_duplicates(["config", "image_id"], ignore_index=True)
    if not allow_mixed_checkpoints and "checkpoint" in rows:
        _refuse_mixed_checkpoints(rows)
    out = Path(out) if out is not None else run_dir / "results.parquet"
    with atomic_write(out) as tmp:
        rows.to_parquet(tmp, index=False)
    return rows


def _current_rows(folder: Path) -> pd.DataFrame:
    """A job folder's rows; for a finished job only those of the checkpoints its ``done.json`` records."""
    rows = _folder_rows(folder, folder.name)
    recorded = (_read_json(folder / "done.json") or {}).get("checkpoints") or {}
    if not len(rows) or "checkpoint" not in rows:
        return rows
    expected = rows["model"].map(lambda m: recorded.get(m, {}).get("checkpoint"))
    stale = expected.notna() & (expected != rows["checkpoint"])
    return rows[~stale].reset_index(drop=True)


def _refuse_mixed_checkpoints(rows: pd.DataFrame) -> None:
    per_model = rows.dropna(subset=["checkpoint"]).groupby("model")["checkpoint"].unique()
    mixed = per_model[per_model.map(len) > 1]
    if len(mixed):
        model = mixed.index[0]
        jobs = rows[rows["model"] == model].groupby("checkpoint")["job"].unique().map(sorted).to_dict()
        raise ValueError(
            f"rows of {model} come from {len(mixed.iloc[0])} checkpoints (checkpoint: jobs {jobs}); pooling them "
            "would average two models. Rerun the grid (it recomputes the jobs whose checkpoint changed), or pass "
            "allow_mixed_checkpoints=True (--allow-mixed-checkpoints) to pool them anyway"
        )


# ---------------------------------------------------------------------------------------------- command line


def _print_table(table: pd.DataFrame) -> None:
    with pd.option_context("display.max_colwidth", 100, "display.width", 250, "display.max_rows", 500):
        print(table.to_string(index=False))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m uwl_utils.tools.grid", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a grid's missing jobs")
    run.add_argument("grid", help="grid description (YAML)")
    run.add_argument("--executor", choices=["local", "slurm"], default="local")
    run.add_argument("--run-dir", help="default: the grid's run_dir")
    run.add_argument("--workers", type=int, help="local: concurrent jobs (default: one per visible GPU, else 1)")
    run.add_argument("--retries", type=int, help="extra attempts of a failed job (default: the grid's, else 0)")
    run.add_argument("--dry-run", action="store_true", help="list the jobs and whether they are done; run nothing")
    slurm = run.add_argument_group("slurm (override the grid's slurm: section)")
    slurm.add_argument("--partition")
    slurm.add_argument("--gpus-per-task", type=int)
    slurm.add_argument("--cpus-per-task", type=int)
    slurm.add_argument("--mem-gb", type=float)
    slurm.add_argument("--time-min", type=int, help="time limit of each job, minutes")
    slurm.add_argument("--array-parallelism", type=int, help="array elements running at once")
    slurm.add_argument("--cluster", choices=["slurm", "local", "debug"], default="slurm",
                       help="submitit executor; local or debug try the SLURM path on this machine")  # fmt: skip
    col = sub.add_parser("collect", help="pool every job's result rows into RUN_DIR/results.parquet")
    col.add_argument("run_dir")
    col.add_argument("--out", help="default: RUN_DIR/results.parquet")
    col.add_argument("--allow-mixed-checkpoints", action="store_true",
                     help="pool rows although one model's rows come from two checkpoints")  # fmt: skip
    one = sub.add_parser("job", help="(re)run one job folder, e.g. to debug it")
    one.add_argument("job_dir")
    one.add_argument("--attempt", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        return _main(args)
    except ValueError as exc:
        parser.error(str(exc))


def _main(args: argparse.Namespace) -> int:
    if args.command == "job":
        if not (Path(args.job_dir) / "job.json").is_file():
            raise ValueError(f"{args.job_dir} is not a job folder (no job.json)")
        return 0 if run_job(Job.from_dir(args.job_dir), args.attempt)["status"] == "done" else 1
    if args.command == "collect":
        from uwl_utils.experiment import summarize

        rows = collect(args.run_dir, args.out, args.allow_mixed_checkpoints)
        out = args.out or Path(args.run_dir) / "results.parquet"
        n_jobs, n_configs = rows["job"].nunique(), rows["config"].nunique()
        print(f"{len(rows)} rows from {n_jobs} job(s), {n_configs} configuration(s) -> {out}")
        _print_table(summarize(rows).drop(columns=["options", "config"]).round(2))
        return 0

    grid = load_grid(args.grid, args.run_dir)
    jobs = grid.jobs()
    print(f"{len(jobs)} job(s) in {grid.run_dir}")
    if args.dry_run:
        if grid.parameters:
            print(f"every job: {json.dumps(grid.parameters, sort_keys=True)}")
        varying = _varying(jobs)
        _print_table(pd.DataFrame([{"job": j.name, **_shown(j, varying), "done": j.is_done()} for j in jobs]))
        return 0
    Path(grid.run_dir).mkdir(parents=True, exist_ok=True)
    (Path(grid.run_dir) / "grid.yaml").write_text(Path(args.grid).read_text())
    if args.executor == "local":
        runner = local_runner(args.workers if args.workers is not None else grid.workers)
    else:
        overrides = {"partition": args.partition, "gpus_per_task": args.gpus_per_task, "mem_gb": args.mem_gb,
                     "cpus_per_task": args.cpus_per_task, "time_min": args.time_min,
                     "array_parallelism": args.array_parallelism}  # fmt: skip
        options = dataclasses.replace(grid.slurm, **{k: v for k, v in overrides.items() if v is not None})
        runner = slurm_runner(grid.run_dir, options, args.cluster)
    summary = run_grid(grid, runner, args.retries)
    counts = summary["status"].value_counts().to_dict()
    print(f"\n{', '.join(f'{v} {k}' for k, v in counts.items())} · summary: {Path(grid.run_dir) / 'summary.csv'}")
    _print_table(summary)
    return 1 if counts.get("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
