"""Runtime ratios that survive a busy machine: configurations timed interleaved and repeated, ratios paired.

One timing per configuration divides whatever load one run met by whatever load another met. Here each
repetition times every configuration once, back to back, in an order rotated by the repetition's number; the
ratio to the baseline is formed within a repetition (a slow spell that covers it cancels), and the median of
these paired ratios is reported with their range. Absolute seconds are the timing machine's own
(docs/benchmarks.md).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

import torch

__all__ = ["paired_ratios"]


def _sync(device: torch.device | str | None) -> None:
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
    """Seconds of each configuration (a no-argument callable) and its ratio to ``baseline``'s, interleaved.

    Returns ``{name: {"ratio": median of the per-repetition ratios, "ratio_min", "ratio_max": their range,
    "seconds": median seconds, "times_s": every timing}}``; the baseline's ratio is 1. ``warmup`` runs each
    configuration once untimed first; on a CUDA ``device`` each timing is synchronised.
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
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            _sync(device)
            start = time.perf_counter()
            configs[name]()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    result: dict[str, dict[str, object]] = {}
    for name, seconds in times.items():
        ratios = [s / b for s, b in zip(seconds, times[baseline], strict=True)]
        result[name] = {"ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                        "seconds": statistics.median(seconds), "times_s": seconds}  # fmt: skip
    return result
