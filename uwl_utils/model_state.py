"""Running a module for inference without changing it: eval mode and no parameter gradients, restored after.

Attacks and the adapter of :mod:`uwl_utils.adapters` run a user's module through these context managers, so
that a module handed over in training mode keeps its BatchNorm running statistics and its dropout plays no
part in the attack, and the module comes back with the very mode flags and ``requires_grad`` flags it had
(docs/data_and_models.md §Your own model).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

__all__ = ["eval_mode", "frozen"]


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Every submodule in eval mode inside the block; afterwards each submodule's own flag as it was."""
    modes = [(m, m.training) for m in module.modules()]
    for m, _ in modes:  # the flag itself: a module's train() may be overridden (SegmentationModel stays in eval)
        m.training = False
    try:
        yield module
    finally:
        for m, mode in modes:
            m.training = mode


@contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """:func:`eval_mode`, and no parameter requires a gradient inside the block (none is computed or
    accumulated into ``.grad``); each parameter's ``requires_grad`` is restored afterwards."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    with eval_mode(module):
        for p, _ in flags:
            p.requires_grad_(False)
        try:
            yield module
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)
