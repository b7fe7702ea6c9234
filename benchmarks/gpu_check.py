"""``python -m benchmarks.gpu_check`` (``make gpu-check``): the GPU numbers of the paper's setting in one short run.

    python -m benchmarks.gpu_check              # one CUDA GPU, under 8 minutes
    python -m benchmarks.gpu_check --dry-run    # everything shrunk, on the CPU: the same code paths, ~1-2 min

Writes ``OUT/NAME.json`` and ``OUT/NAME.md`` (default ``benchmarks/results/gpu_check``) after every part:

1. ``runtimes``: Table 1's attacks (FGSM, I-FGSM ε=16, minimal PGD, ALMA prox), each with ``none`` / ``E`` /
   ``L0``, on the five full-size architectures at the paper's resolutions (random weights, 2 images): a few
   iterations each, reported as seconds per iteration per frame and projected onto the full attack;
2. ``overhead``: I-FGSM on DeepLabv3+ R101 at 512×1024, every scheme against ``none`` (paired repetitions);
3. ``memory``: peak ``torch.cuda.max_memory_allocated`` of one I-FGSM iteration of DeepLabv3+ R101 at
   512×1024 and 1024×2048, with and without activation checkpointing, and whether it fits in 24 GB;
4. ``notebook``: notebook 02 with the paper profile on 4 synthetic images, ``DEVICE=cuda``, through papermill
   under a time cap (skipped, with the reason, when the budget left is too short).

Each part runs in its own try/except (an error is recorded, the next part still runs); no part starts after
``--budget-s`` seconds (default 420).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from benchmarks.fullsize import DLV3P_R101, fullsize_overhead, iteration_memory, random_batch, repo_env
from benchmarks.report import _clean, machine, machine_line, write_results
from uwl_utils.attacks import alma_prox, fgsm, ifgsm, ifgsm_steps, minimal_pgd
from uwl_utils.models import get_spec, random_model

__all__ = ["Plan", "plan", "run_check", "main", "PARTS", "ATTACKS"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PARTS = ("runtimes", "overhead", "memory", "notebook")
SCHEMES = ("none", "E", "L0")
GB24 = 24.0
# the paper's full attacks, in forward+backward passes per image (Table 1): FGSM one; I-FGSM ε = 16 the
# paper's n = min(ε + 4, 1.25ε) = 20; minimal PGD 13 bisection steps × 40 iterations; ALMA prox 500
ATTACKS = ("fgsm", "ifgsm16", "minimal_pgd", "alma_prox")
FULL_ITERATIONS = {"fgsm": 1, "ifgsm16": ifgsm_steps(16 / 255), "minimal_pgd": 13 * 40, "alma_prox": 500}
PAPER_SIZES = {"cityscapes": (1024, 2048), "voc": (512, 512)}
ZOO = ("cityscapes/deeplabv3plus", "cityscapes/bisenetv1", "cityscapes/ddrnet", "voc/deeplabv3plus", "voc/pspnet")
TINY = {  # the same families, small: what --dry-run runs instead
    "cityscapes/deeplabv3plus": "synth_city/deeplabv3plus",
    "cityscapes/bisenetv1": "synth_city/bisenetv1",
    "cityscapes/ddrnet": "synth_city/ddrnet",
    "voc/deeplabv3plus": "synth_voc/deeplabv3plus",
    "voc/pspnet": "synth_voc/pspnet",
}


@dataclass(frozen=True)
class Plan:
    """What the check runs: the full plan on CUDA, or everything shrunk (``dry_run``) on the CPU."""

    device: str
    dry_run: bool
    architectures: dict[str, str]  # reported name -> model actually built (random weights)
    sizes: dict[str, tuple[int, int]]  # reported name -> (H, W)
    images: int = 2
    iterations: int = 2  # measured iterations per attack (FGSM: 1)
    overhead_architecture: tuple[str, dict] = DLV3P_R101
    overhead_size: tuple[int, int] = (512, 1024)
    overhead_steps: int = 3
    overhead_reps: int = 5
    memory_architecture: tuple[str, dict] = DLV3P_R101
    memory_sizes: tuple[tuple[int, int], ...] = ((512, 1024), (1024, 2048))
    memory_modes: tuple[str, ...] = ("none", "checkpoint", "checkpoint+bf16")
    memory_limit_gb: float = 120.0
    notebook_params: dict[str, Any] = field(default_factory=dict)
    notebook_cap_s: float = 240.0
    budget_s: float = 420.0


def plan(dry_run: bool, budget_s: float | None = None) -> Plan:
    """The full plan (CUDA, the paper's sizes) or its shrunk twin on the CPU (tiny models of the same families)."""
    if not dry_run:
        sizes = {name: PAPER_SIZES[get_spec(name).dataset] for name in ZOO}
        notebook = {"PROFILE": "paper", "DEVICE": "cuda", "DATASET": "synth_city", "N_IMAGES": 4}
        return Plan("cuda", False, {n: n for n in ZOO}, sizes, notebook_params=notebook, budget_s=budget_s or 420.0)
    tiny_arch = ("synth_city/deeplabv3plus", {})
    notebook = {
        "PROFILE": "quick", "DEVICE": "cpu", "DATASET": "synth_city", "N_IMAGES": 1,
        "MODELS": ["synth_city/deeplabv3plus"], "WEIGHTINGS": ["none", "L0"], "IMAGE_SIZE": [64, 128],
        "ATTACKS": ["fgsm"], "EPS_255": [4],  # the same papermill path; notebook 02 itself runs under nbval
    }  # fmt: skip
    return Plan(
        "cpu",
        True,
        dict(TINY),
        {name: (32, 64) for name in ZOO},
        iterations=1,
        overhead_architecture=tiny_arch,
        overhead_size=(32, 64),
        overhead_steps=1,
        overhead_reps=1,
        memory_architecture=tiny_arch,
        memory_sizes=((32, 64),),  # on the CPU each measurement is a fresh subprocess (~30 s of imports)
        memory_modes=("none", "checkpoint"),
        memory_limit_gb=64.0,
        notebook_params=notebook,
        notebook_cap_s=480.0,
        budget_s=budget_s or 600.0,
    )


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _attack(name: str, model, x, y, iterations: int, scheme: str) -> Callable[[], object]:
    if name == "fgsm":
        return lambda: fgsm(model, x, y, eps=16 / 255, weighting=scheme)
    if name == "ifgsm16":
        return lambda: ifgsm(model, x, y, eps=16 / 255, alpha=1 / 255, steps=iterations, weighting=scheme)
    if name == "minimal_pgd":
        return lambda: minimal_pgd(model, x, y, search_steps=1, steps=iterations, weighting=scheme)
    return lambda: alma_prox(model, x, y, steps=iterations, weighting=scheme)


def runtimes(p: Plan, deadline: float, log: Callable[[str], None]) -> dict[str, object]:
    """Seconds per iteration per frame of each attack and scheme, and the projection onto the full attack."""
    out: dict[str, object] = {}
    for name, built in p.architectures.items():
        if time.perf_counter() > deadline:
            out[name] = {"status": "skipped", "reason": "time budget spent"}
            continue
        try:
            model = random_model(built, p.device)
            x, y = random_batch(p.images, p.sizes[name], model.num_classes, p.device)
            rows: dict[str, object] = {}
            for attack in ATTACKS:
                k = 1 if attack == "fgsm" else p.iterations
                for scheme in SCHEMES:
                    _attack(attack, model, x, y, 1, scheme)()  # warm-up (cuDNN autotuning, allocations)
                    _sync(p.device)
                    start = time.perf_counter()
                    _attack(attack, model, x, y, k, scheme)()
                    _sync(p.device)
                    per_frame_iter = (time.perf_counter() - start) / k / p.images
                    rows[f"{attack}/{scheme}"] = {
                        "iterations_measured": k,
                        "s_per_iteration_per_frame": per_frame_iter,
                        "full_iterations": FULL_ITERATIONS[attack],
                        "projected_s_per_frame": per_frame_iter * FULL_ITERATIONS[attack],
                    }
            for attack in ATTACKS:  # the weighting's overhead per attack, from the rows above
                none = rows[f"{attack}/none"]["s_per_iteration_per_frame"]
                for scheme in SCHEMES[1:]:
                    row = rows[f"{attack}/{scheme}"]
                    row["vs_none"] = row["s_per_iteration_per_frame"] / none
            out[name] = {"status": "ok", "built": built, "size": list(p.sizes[name]), "images": p.images, "rows": rows}
            log(f"runtimes {name}: done")
        except Exception as exc:  # noqa: BLE001 - recorded, the next architecture still runs
            out[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
            log(f"runtimes {name}: {type(exc).__name__}: {exc}")
        finally:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    return out


def memory(p: Plan, log: Callable[[str], None]) -> dict[str, object]:
    """One I-FGSM iteration's peak memory per size and mode; each row says whether it fits in 24 GB."""
    result = iteration_memory(
        p.memory_sizes, p.memory_modes, p.device, p.memory_limit_gb, p.memory_architecture, log=log
    )
    for modes in result["sizes"].values():
        for r in modes.values():
            if r.get("status") == "ok":
                r["within_24gb"] = r["peak_gb"] <= GB24
    return result


def notebook(p: Plan, deadline: float, log: Callable[[str], None]) -> dict[str, object]:
    """Notebook 02 through papermill in a subprocess, killed at the cap or the budget's end, whichever is first."""
    cap = min(p.notebook_cap_s, deadline + 60 - time.perf_counter())
    if cap < 60:
        return {"status": "skipped", "reason": f"only {cap:.0f} s of the budget left (needs ≥ 60 s)"}
    with tempfile.TemporaryDirectory() as tmp:
        params = {**p.notebook_params, "OUT_DIR": f"{tmp}/figures", "RESULTS_DIR": f"{tmp}/results"}
        cmd = [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "02_attack_evaluation.ipynb"),
               f"{tmp}/out.ipynb", "--cwd", str(ROOT / "notebooks"), "--no-progress-bar"]  # fmt: skip
        for key, value in params.items():
            cmd += ["-y", json.dumps({key: value})]
        log(f"notebook 02: {p.notebook_params}, cap {cap:.0f} s")
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, env=repo_env()
        )
        try:
            output, _ = proc.communicate(timeout=cap)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return {"status": "timeout", "cap_s": cap, "params": params}
        seconds = time.perf_counter() - start
        tables = sorted(Path(tmp, "figures").glob("*.csv"))
        table = tables[0].read_text() if tables else None
    status = "ok" if proc.returncode == 0 else "error"
    return {"status": status, "seconds": seconds, "params": p.notebook_params, "first_table_csv": table,
            "log_tail": output[-3000:]}  # fmt: skip


def run_check(p: Plan, out_dir: str | Path, name: str, log: Callable[[str], None] = print) -> dict[str, object]:
    """Every part in turn, each in try/except, the JSON and markdown rewritten after each; returns the result."""
    start = time.perf_counter()
    deadline = start + p.budget_s
    result: dict[str, Any] = {
        "schema": 1,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "plan": _clean(asdict(p)),
        "parts": {},
    }
    for part in PARTS:
        if time.perf_counter() > deadline:
            result["parts"][part] = {"status": "skipped", "reason": f"time budget of {p.budget_s:.0f} s spent"}
        else:
            log(f"[{time.perf_counter() - start:.0f} s] {part}")
            part_start = time.perf_counter()
            try:
                if part == "runtimes":
                    res = runtimes(p, deadline, log)
                elif part == "overhead":
                    res = fullsize_overhead(
                        p.overhead_size, p.overhead_steps, p.overhead_reps, p.device, p.overhead_architecture, log=log
                    )
                elif part == "memory":
                    res = memory(p, log)
                else:
                    res = notebook(p, deadline, log)
                res = {"status": res.get("status", "ok"), **res}
            except Exception as exc:  # noqa: BLE001 - recorded, the next part still runs
                res = {"status": "error", "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
                log(f"{part}: {type(exc).__name__}: {exc}")
            res["wall_s"] = time.perf_counter() - part_start
            result["parts"][part] = res
        result["wall_s"] = time.perf_counter() - start
        write(result, out_dir, name)
    return result


def write(result: dict[str, Any], out_dir: str | Path, name: str) -> tuple[Path, Path]:
    """The JSON and this check's markdown, as the benchmark writes its own."""
    return write_results(result, out_dir, name, markdown=to_markdown)


def _cell(value: Any, fmt: str = "{:.3f}") -> str:
    return "–" if value is None else fmt.format(value)


def to_markdown(result: dict[str, Any]) -> str:
    """The parts as tables; a part that failed or was skipped says so."""
    plan_ = result["plan"]
    lines = [
        "# GPU check" + (" (dry run: everything shrunk, on the CPU)" if plan_["dry_run"] else ""),
        "",
        f"Machine: {machine_line(result['machine'])}. Written {result['created']}; wall time "
        f"{result.get('wall_s', 0):.0f} s of a {plan_['budget_s']:.0f} s budget. Random weights throughout.",
        "",
    ]
    for part, res in result["parts"].items():
        lines += [f"## {part}", ""]
        if res.get("status") not in ("ok", None) and part != "runtimes":
            lines += [f"**{res['status']}**: {res.get('error') or res.get('reason') or ''}", ""]
            if part != "notebook":
                continue
        if part == "runtimes":
            lines += [
                f"Seconds per frame ({plan_['images']} images per batch): per iteration (measured over "
                f"{plan_['iterations']} iterations, FGSM 1) and projected onto the full attack (FGSM 1, I-FGSM ε=16 "
                f"{FULL_ITERATIONS['ifgsm16']}, minimal PGD 13×40, ALMA prox 500 iterations); in brackets the time "
                "per iteration over `none`'s.",
                "",
                "| architecture | size | " + " | ".join(f"{a}/{s}" for a in ATTACKS for s in SCHEMES) + " |",
                "|---|---|" + "---|" * (len(ATTACKS) * len(SCHEMES)),
            ]
            for name, r in res.items():
                if not isinstance(r, dict) or "status" not in r:
                    continue
                if r["status"] != "ok":
                    lines.append(f"| {name} | | {r['status']}: {r.get('error') or r.get('reason')} |")
                    continue
                cells = []
                for a in ATTACKS:
                    for s in SCHEMES:
                        row = r["rows"][f"{a}/{s}"]
                        ratio = f" ({row['vs_none']:.2f})" if "vs_none" in row else ""
                        per_iter, full = row["s_per_iteration_per_frame"], row["projected_s_per_frame"]
                        cells.append(f"{per_iter:.3f} → {full:.1f}{ratio}")
                lines.append(f"| {name} ({r['built']}) | {r['size'][0]}×{r['size'][1]} | " + " | ".join(cells) + " |")
            lines.append("")
        elif part == "overhead":
            lines += [
                f"I-FGSM on {res['model']} {res['overrides']} at {res['size'][0]}×{res['size'][1]}, {res['steps']} "
                f"iterations × {res['reps']} repetitions; {res['per_iter_s_none']:.3f} s per iteration with `none`.",
                "",
                "| scheme | time / none (median of paired) | spread | implied by the weighting alone |",
                "|---|---|---|---|",
            ]
            for s, r in res["schemes"].items():
                lines.append(f"| {s} | {r['ratio']:.3f} | {r['ratio_min']:.3f}–{r['ratio_max']:.3f} | "
                             f"{r['implied_ratio']:.3f} |")  # fmt: skip
            lines.append("")
        elif part == "memory":
            lines += [
                f"One I-FGSM iteration of {res['model']} {res['overrides']}, batch 1, {res['measure']}.",
                "",
                "| size | memory_saving | peak GB | within 24 GB | peak / none's | s | time / none's | note |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for size, modes in res["sizes"].items():
                for mode, r in modes.items():
                    if r["status"] == "ok":
                        ratios = f"{_cell(r.get('ratio'))} | {r['seconds']:.2f} | {_cell(r.get('time_ratio'))}"
                        lines.append(f"| {size} | {mode} | {r['peak_gb']:.2f} | {r['within_24gb']} | {ratios} | |")
                    else:
                        lines.append(f"| {size} | {mode} | | | | | | {r.get('reason', r['status'])} |")
            lines.append("")
        elif part == "notebook":
            lines += [f"Notebook 02 with {res.get('params')}: **{res['status']}**"
                      + (f" in {res['seconds']:.0f} s" if "seconds" in res else ""), ""]  # fmt: skip
            shown = res.get("first_table_csv") if res["status"] == "ok" else res.get("log_tail", "")[-1500:]
            if shown:
                lines += ["```", shown.strip()[:3000], "```", ""]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true", help="everything shrunk, on the CPU (tests the code paths)")
    p.add_argument("--budget-s", type=float, default=None, help="start no part after this many seconds")
    p.add_argument("--out", default=str(RESULTS_DIR))
    p.add_argument("--name", default=None, help="default gpu_check (gpu_check_dry_run with --dry-run)")
    args = p.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on a GPU, or use --dry-run to test the check on the CPU")
    if args.dry_run:
        torch.set_num_threads(1)
    name = args.name or ("gpu_check_dry_run" if args.dry_run else "gpu_check")
    result = run_check(plan(args.dry_run, args.budget_s), args.out, name, lambda m: print(m, flush=True))
    print((Path(args.out) / f"{name}.md").read_text())
    return result


if __name__ == "__main__":
    main()
