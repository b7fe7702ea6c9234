"""Runtime ratios that survive a busy machine: configurations timed interleaved and repeated, ratios paired.

A single timing per configuration divides one slow spell by one quiet one. Here every repetition times each
configuration once, back to back in a rotating order, and the ratio to the baseline is taken per repetition
(a slow spell that hits the whole repetition cancels); the median over repetitions and the spread of the
paired ratios are reported. Absolute seconds are the timing machine's own.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

import torch

__all__ = ["paired_ratios"]


def _synchronize(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def paired_ratios(
    configs: Mapping[str, Callable[[], object]],
    baseline: str,
    reps: int = 5,
    *,
    warmup: bool = True,
    device: torch.device | str | None = None,
) -> dict[str, dict[str, object]]:
    """Time every configuration ``reps`` times, interleaved; per configuration its ratio to ``baseline``.

    Returns ``{name: {"ratio": median of the paired ratios, "ratio_min", "ratio_max": their spread,
    "seconds": median seconds, "times_s": all timings}}`` (the baseline's ratio is 1). Repetition r runs the
    configurations in the order rotated by r. ``warmup`` calls each once untimed first; ``device`` (CUDA)
    is synchronised around each timing.
    """
    names = list(configs)
    if baseline not in configs:
        raise ValueError(f"baseline {baseline!r} is not one of the configurations {names}")
    if not isinstance(reps, int) or reps < 1:
        raise ValueError(f"reps must be an integer ≥ 1; got {reps!r}")
    if warmup:
        for name in names:
            configs[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            _synchronize(device)
            start = time.perf_counter()
            configs[name]()
            _synchronize(device)
            times[name].append(time.perf_counter() - start)
    out: dict[str, dict[str, object]] = {}
    for name, t in times.items():
        ratios = [a / b for a, b in zip(t, times[baseline], strict=True)]
        out[name] = {
            "ratio": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            "seconds": statistics.median(t),
            "times_s": t,
        }
    return out
