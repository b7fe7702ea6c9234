"""Clocks, forward/backward pass counting, and the ratio arithmetic of the benchmark.

Every reported ratio is a median over repetitions of ratios of timings taken seconds apart (these machines are
noisy); the functions that turn timings into ratios are pure so that tests can check them against hand-computed
values.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
from torch import nn

__all__ = [
    "Sync",
    "make_sync",
    "timed",
    "median",
    "ratio_of_medians",
    "paired_ratio",
    "overhead_ratios",
    "floor_ratio",
    "run_passes",
    "images_per_second",
    "PassCounter",
    "bare_forward_backward",
    "bare_forward",
]

Sync = Callable[[], None]
PassKey = tuple[str, int]  # ("fb" | "f", batch size)


def make_sync(device: torch.device | str) -> Sync:
    """A function that waits for the device's queued work (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def timed(fn: Callable[[], object], sync: Sync) -> tuple[float, object]:
    """(seconds, result) of one call of ``fn``, with the device synchronised before and after."""
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - start, out


def median(values: Iterable[float]) -> float:
    values = list(values)
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


def ratio_of_medians(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """median(numerator) / median(denominator)."""
    return median(numerator) / median(denominator)


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """The median over repetitions of numerator[i] / denominator[i].

    The two timings of one repetition are taken seconds apart, so a slow spell of a shared machine that hits
    one repetition cancels in its ratio; the median then drops the repetitions where it hit only one side.
    """
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError(f"need equally many timings, at least one; got {len(numerator)} and {len(denominator)}")
    return median(a / b for a, b in zip(numerator, denominator, strict=True))


def overhead_ratios(times: Mapping[str, Sequence[float]], baseline: str = "none") -> dict[str, float]:
    """Per scheme, the median over repetitions of its wall time over the baseline's (same attack, same steps).

    With equal step counts this is also the ratio of the time per iteration.
    """
    if baseline not in times:
        raise KeyError(f"no timings for the baseline {baseline!r}")
    return {scheme: paired_ratio(t, times[baseline]) for scheme, t in times.items()}


def floor_ratio(wall: Sequence[float], floor: Sequence[float]) -> float:
    """An attack's wall time over its floor, the same forward(+backward) passes run bare, paired by repetition.

    1.0 means the attack costs exactly its passes.
    """
    return paired_ratio(wall, floor)


def run_passes(
    model: nn.Module,
    passes: Mapping[PassKey, int],
    inputs: Mapping[int, torch.Tensor],
    grads: Mapping[int, torch.Tensor],
) -> None:
    """The passes an attack made, bare: ``n`` × :func:`bare_forward_backward` or :func:`bare_forward` per key."""
    for (kind, batch), n in passes.items():
        for _ in range(n):
            if kind == "fb":
                bare_forward_backward(model, inputs[batch], grads[batch])
            else:
                bare_forward(model, inputs[batch])


def images_per_second(batch: int, seconds: Sequence[float]) -> float:
    """Images attacked per second: batch size over the median wall time of one attack on the batch."""
    return batch / median(seconds)


class PassCounter(nn.Module):
    """Wraps a model to count its forward and forward+backward passes and to time them.

    A forward whose output receives a gradient counts as a forward+backward pass ("fb"), any other as a
    forward-only pass ("f"), keyed by batch size. With ``timing``, the time spent inside the model's forward
    and inside its backward (from the gradient reaching the logits to it reaching the input) is summed, with
    the device synchronised at each boundary; the remainder of an attack's wall time is spent outside the
    model (loss, weights, projections, bookkeeping). Attributes the attacks read (``num_classes``,
    ``ignore_index``) are passed through.
    """

    def __init__(self, model: nn.Module, sync: Sync | None = None, timing: bool = False) -> None:
        super().__init__()
        self.model = model
        for name in ("num_classes", "ignore_index", "class_names"):
            if getattr(model, name, None) is not None:
                setattr(self, name, getattr(model, name))
        self.sync = sync or (lambda: None)
        self.timing = timing
        self.reset()

    def reset(self) -> None:
        self.forwards: Counter[int] = Counter()
        self.backwards: Counter[int] = Counter()
        self.forward_s = 0.0
        self.backward_s = 0.0

    @property
    def passes(self) -> dict[PassKey, int]:
        """{("fb", batch): n, ("f", batch): n} over the calls since the last :meth:`reset`."""
        out: dict[PassKey, int] = {}
        for batch, n in sorted(self.forwards.items()):
            fb = self.backwards.get(batch, 0)
            if fb:
                out[("fb", batch)] = fb
            if n - fb:
                out[("f", batch)] = n - fb
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = int(x.shape[0])
        self.forwards[batch] += 1
        if self.timing:
            self.sync()
            start = time.perf_counter()
        out = self.model(x)
        if self.timing:
            self.sync()
            self.forward_s += time.perf_counter() - start
        if out.requires_grad and x.requires_grad:
            marks: dict[str, float] = {}

            def at_output(grad: torch.Tensor) -> None:
                self.backwards[batch] += 1
                if self.timing:
                    self.sync()
                    marks["start"] = time.perf_counter()

            def at_input(grad: torch.Tensor) -> None:
                if self.timing and "start" in marks:
                    self.sync()
                    self.backward_s += time.perf_counter() - marks.pop("start")

            out.register_hook(at_output)
            x.register_hook(at_input)
        return out


def bare_forward_backward(model: nn.Module, images: torch.Tensor, grad_out: torch.Tensor) -> None:
    """One bare forward+backward: logits of ``images``, then their vector–Jacobian product with ``grad_out``."""
    x = images.detach().requires_grad_(True)
    torch.autograd.grad(model(x), x, grad_out)


def bare_forward(model: nn.Module, images: torch.Tensor) -> None:
    """One forward without autograd."""
    with torch.no_grad():
        model(images)
