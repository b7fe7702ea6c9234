"""Full-size measurements: the weighting overhead on DeepLabv3+ R101 and the memory of one attack iteration.

- :func:`fullsize_overhead`: I-FGSM for a few iterations on the full-size DeepLabv3+ with a ResNet-101
  backbone (random weights; the paper's Table 1 setting is 512×1024), every paper scheme against ``"none"``,
  interleaved repetitions and paired ratios, next to the ratio implied by the weighting alone.
- :func:`iteration_memory`: peak memory and time of one I-FGSM iteration with and without the model's
  ``memory_saving`` (activation checkpointing), per image size. On CUDA ``torch.cuda.max_memory_allocated``;
  on the CPU each measurement runs in a fresh subprocess (``python -m benchmarks.fullsize --child ...``) and
  reports its peak resident set (``resource.getrusage``). A size whose memory, predicted from the smaller
  sizes measured before it (linear in the pixels), exceeds ``limit_gb`` is skipped with the prediction.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from uwl_utils.attacks import ifgsm
from uwl_utils.losses import PAPER_SCHEMES, Weighting
from uwl_utils.models import random_model
from uwl_utils.runtime import paired_ratios

__all__ = ["DLV3P_R101", "fullsize_overhead", "iteration_memory", "random_batch", "repo_env"]

ROOT = Path(__file__).resolve().parents[1]

# DeepLabv3+ with a ResNet-101 backbone: the zoo's Cityscapes DeepLabv3+ (R50) with depth 101
DLV3P_R101 = ("cityscapes/deeplabv3plus", {"backbone": {"depth": 101}})

Log = Callable[[str], None]


def repo_env() -> dict[str, str]:
    """This process's environment with the repository root first on PYTHONPATH, for child processes (a machine
    without the editable install, e.g. a bare GPU box with the dependencies carried in as wheels)."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def random_batch(
    n: int, size: tuple[int, int], num_classes: int, device: str | torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random images [n,3,H,W] in [0,1] and random labels [n,H,W] with 5 % ignored (seed 0)."""
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(n, 3, *size, generator=gen)
    labels = torch.randint(0, num_classes, (n, *size), generator=gen)
    labels[torch.rand(labels.shape, generator=gen) < 0.05] = 255
    return images.to(device), labels.to(device)


def _weighting_alone(logits: torch.Tensor, labels: torch.Tensor, scheme: str) -> Callable[[], None]:
    def run() -> None:
        lg = logits.detach().requires_grad_(True)
        torch.autograd.grad(Weighting(scheme).loss(lg, labels, step=(1, 2), validate=False).sum(), lg)

    return run


def fullsize_overhead(
    size: tuple[int, int] = (512, 1024),
    steps: int = 2,
    reps: int = 2,
    device: str | torch.device = "cpu",
    architecture: tuple[str, dict] = DLV3P_R101,
    component_reps: int = 5,
    log: Log = print,
) -> dict[str, object]:
    """I-FGSM (``steps`` iterations, ε = 8/255, batch 1) with every paper scheme against ``"none"``.

    ``ratio``: the median over ``reps`` repetitions of the scheme's time over ``"none"``'s in the same
    repetition (``ratio_min`` / ``ratio_max``: their spread). ``implied_ratio``: 1 + (the scheme's loss and
    gradient on fixed logits of this size − ``"none"``'s) / ``"none"``'s time per iteration.
    """
    name, overrides = architecture
    model = random_model(name, device, overrides=overrides)
    x, y = random_batch(1, size, model.num_classes, device)
    log(f"full-size overhead: {name} {overrides}, {size[0]}×{size[1]}, {steps} iterations × {reps} repetitions")
    configs = {
        s: (lambda s=s: ifgsm(model, x, y, eps=8 / 255, alpha=1 / 255, steps=steps, weighting=s)) for s in PAPER_SCHEMES
    }
    measured = paired_ratios(configs, "none", reps, device=device)
    per_iter = measured["none"]["seconds"] / steps
    with torch.no_grad():
        logits = model(x)
    alone = paired_ratios({s: _weighting_alone(logits, y, s) for s in PAPER_SCHEMES}, "none", component_reps)
    schemes = {
        s: {
            **{k: measured[s][k] for k in ("ratio", "ratio_min", "ratio_max")},
            "median_s": measured[s]["seconds"],
            "times_s": measured[s]["times_s"],
            "weighting_alone_s": alone[s]["seconds"],
            "implied_ratio": 1 + (alone[s]["seconds"] - alone["none"]["seconds"]) / per_iter,
        }
        for s in PAPER_SCHEMES
    }
    return {
        "model": name,
        "overrides": overrides,
        "weights": "random",
        "size": list(size),
        "steps": steps,
        "reps": reps,
        "device": str(device),
        "per_iter_s_none": per_iter,
        "schemes": schemes,
        "worst_ratio": max(r["ratio"] for s, r in schemes.items() if s != "none"),
    }


# --- memory of one attack iteration ------------------------------------------------------------------------------


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: kilobytes


def measure_iteration(
    size: tuple[int, int], memory_saving: str, device: str | torch.device, architecture: tuple[str, dict] = DLV3P_R101
) -> dict[str, float]:
    """In this process: peak memory (GB) and seconds of one I-FGSM iteration on one random image.

    CUDA: ``max_memory_allocated`` during the iteration (the model's weights included). CPU: the process's
    peak resident set, and the same before the iteration (the model and the interpreter) as ``base_gb``.
    """
    name, overrides = architecture
    model = random_model(name, device, overrides=overrides, memory_saving=memory_saving)
    ifgsm(model, *random_batch(1, (64, 64), model.num_classes, device), steps=1)  # one-off costs, not counted
    x, y = random_batch(1, size, model.num_classes, device)
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device) / 2**30 if cuda else _peak_rss_gb()
    start = time.perf_counter()
    ifgsm(model, x, y, eps=8 / 255, alpha=1 / 255, steps=1)
    if cuda:
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if cuda else _peak_rss_gb()
    return {"peak_gb": peak, "base_gb": base, "seconds": seconds}


def _in_subprocess(size: tuple[int, int], memory_saving: str, architecture: tuple[str, dict], timeout: float) -> dict:
    spec = json.dumps({"size": list(size), "memory_saving": memory_saving, "architecture": list(architecture)})
    cmd = [sys.executable, "-m", "benchmarks.fullsize", "--child", spec, "--threads", str(torch.get_num_threads())]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=repo_env())
    if done.returncode != 0:
        raise RuntimeError(f"child failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def iteration_memory(
    sizes: Sequence[tuple[int, int]] = ((512, 1024), (1024, 2048)),
    modes: Sequence[str] = ("none", "checkpoint"),
    device: str | torch.device = "cpu",
    limit_gb: float = 20.0,
    architecture: tuple[str, dict] = DLV3P_R101,
    timeout: float = 1800,
    log: Log = print,
) -> dict[str, object]:
    """Peak memory and time of one I-FGSM iteration per size and ``memory_saving`` mode, smallest size first.

    A (size, mode) whose predicted peak exceeds ``limit_gb`` is skipped: the prediction scales the memory above
    the base (what the process held before the iteration) of the largest size measured in that mode by the
    ratio of pixels. ``ratio``: per size, each mode's peak above the base over ``"none"``'s (None when
    ``"none"`` did not grow).
    """
    cuda = torch.device(device).type == "cuda"
    rows: dict[str, dict[str, object]] = {}
    for size in sorted(sizes, key=lambda s: s[0] * s[1]):
        key = f"{size[0]}x{size[1]}"
        rows[key] = {}
        for mode in modes:
            before = [(k, r[mode]) for k, r in rows.items() if k != key and r.get(mode, {}).get("status") == "ok"]
            if before:
                k, r = before[-1]
                h, w = (int(v) for v in k.split("x"))
                predicted = r["base_gb"] + (r["peak_gb"] - r["base_gb"]) * size[0] * size[1] / (h * w)
                if predicted > limit_gb:
                    rows[key][mode] = {"status": "skipped", "predicted_gb": predicted,
                                       "reason": f"predicted {predicted:.1f} GB > limit {limit_gb:g} GB"}  # fmt: skip
                    log(f"memory {key} {mode}: skipped, predicted {predicted:.1f} GB > {limit_gb:g} GB")
                    continue
            log(f"memory {key} {mode}: measuring one I-FGSM iteration")
            if cuda:
                measured = measure_iteration(size, mode, device, architecture)
                torch.cuda.empty_cache()
            else:
                measured = _in_subprocess(size, mode, architecture, timeout)
            rows[key][mode] = {"status": "ok", **measured}
        none = rows[key].get("none", {})
        for r in rows[key].values():
            if r.get("status") == "ok" and none.get("status") == "ok":
                growth = none["peak_gb"] - none["base_gb"]  # 0 when the iteration fit in memory already held
                r["ratio"] = (r["peak_gb"] - r["base_gb"]) / growth if growth > 0 else None
                r["time_ratio"] = r["seconds"] / none["seconds"]
    return {
        "device": str(device),
        "measure": "torch.cuda.max_memory_allocated" if cuda else "peak RSS of a fresh subprocess",
        "limit_gb": limit_gb,
        "model": architecture[0],
        "overrides": architecture[1],
        "sizes": rows,
    }


def _child(argv: Sequence[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fullsize")
    p.add_argument("--child", required=True, help="JSON: size, memory_saving, architecture")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = json.loads(args.child)
    name, overrides = spec["architecture"]
    out = measure_iteration(tuple(spec["size"]), spec["memory_saving"], "cpu", (name, overrides))
    print(json.dumps({k: (v if math.isfinite(v) else None) for k, v in out.items()}))


if __name__ == "__main__":
    _child(sys.argv[1:])
