"""Data sets: real Cityscapes / Pascal VOC loaders and the synthetic embedded default.

Every data set yields ``{"image": float32 [3,H,W] in [0,1] RGB, "label": int64 [H,W] (255 = ignore),
"id": str}`` and carries ``name``, ``num_classes``, ``class_names``, ``palette`` and ``ignore_index``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch.utils.data import Dataset

__all__ = ["DATASETS", "dataset_names", "load_dataset", "register_dataset"]

# name -> factory(split, root, size) returning a Dataset with the attributes above.
DATASETS: dict[str, Callable[..., Dataset]] = {}


def register_dataset(name: str):
    """Decorator that adds a data set factory to :data:`DATASETS`."""

    def wrap(factory):
        DATASETS[name] = factory
        return factory

    return wrap


def _register_builtin() -> None:
    # Imported for their @register_dataset side effect.
    from uwl_utils.data import cityscapes, synthetic, voc  # noqa: F401


def dataset_names() -> list[str]:
    """Names accepted by :func:`load_dataset`."""
    _register_builtin()
    return sorted(DATASETS)


def load_dataset(
    name: str,
    split: str = "val",
    root: str | Path | None = None,
    size: tuple[int, int] | None = None,
) -> Dataset:
    """Load a data set by name: ``cityscapes``, ``voc``, ``synth_city`` or ``synth_voc``.

    ``size`` is (H, W): images are resized bilinearly, labels by nearest neighbour. ``root`` is the data
    set's folder (real data sets only; see data/README.md for the expected layout).
    """
    _register_builtin()
    if name not in DATASETS:
        known = ", ".join(sorted(DATASETS))
        raise ValueError(f"unknown data set {name!r}; known data sets: {known}")
    if size is not None:
        if len(size) != 2 or any(int(s) <= 0 for s in size):
            raise ValueError(f"size must be (height, width) with positive integers, got {size!r}")
        size = (int(size[0]), int(size[1]))
    return DATASETS[name](split=split, root=root, size=size)
