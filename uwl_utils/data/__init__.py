"""Data sets: real Cityscapes / Pascal VOC loaders and the synthetic embedded default.

Every data set yields ``{"image": float32 [3,H,W] in [0,1] RGB, "label": int64 [H,W] (255 = ignore),
"id": str}`` and carries ``name``, ``num_classes``, ``class_names``, ``palette`` and ``ignore_index``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch.utils.data import Dataset

__all__ = ["DATASETS", "ShardedDataset", "dataset_names", "load_dataset", "register_dataset", "shard_length"]

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


class ShardedDataset(Dataset):
    """Shard ``index`` of ``count`` of a data set: its items ``index, index + count, index + 2·count, …``.

    Strided, not blocks, so the first ``k`` items of every shard are together exactly the first ``count·k``
    items of the data set. Items keep their ids; ``name``, ``num_classes``, ``class_names``, ``palette``,
    ``ignore_index`` (and any other attribute) are those of the full data set, so results of the shards pool
    as one run's.
    """

    def __init__(self, dataset: Dataset, index: int, count: int) -> None:
        self.dataset, self.index, self.count = dataset, index, count
        self.indices = range(index, len(dataset), count)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        return self.dataset[self.indices[i]]

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __repr__(self) -> str:
        return f"ShardedDataset({getattr(self.dataset, 'name', self.dataset)!r}, shard {self.index} of {self.count})"


def _check_shard(shard) -> tuple[int, int]:
    try:
        index, count = (int(v) for v in shard)
        ok = all(int(v) == v for v in shard) and 0 <= index < count
    except (TypeError, ValueError):  # not a pair of numbers
        ok = False
    if not ok:
        raise ValueError(f"shard must be (index, count) with integers 0 <= index < count, got {shard!r}")
    return index, count


def shard_length(n_images: int, shard: tuple[int, int] | None) -> int:
    """How many of the first ``n_images`` items of a data set fall into ``shard`` (all of them for None)."""
    if shard is None:
        return n_images
    index, count = _check_shard(shard)
    return len(range(index, n_images, count))


def load_dataset(
    name: str,
    split: str = "val",
    root: str | Path | None = None,
    size: tuple[int, int] | None = None,
    shard: tuple[int, int] | None = None,
) -> Dataset:
    """Load a data set by name: ``cityscapes``, ``voc``, ``synth_city`` or ``synth_voc``.

    ``size`` is (H, W): images are resized bilinearly, labels by nearest neighbour. ``root`` is the data
    set's folder (real data sets only; see data/README.md for the expected layout). ``shard=(i, n)`` keeps
    items ``i, i + n, i + 2n, …`` only (a :class:`ShardedDataset`; deterministic, the ``n`` shards partition
    the split), so a grid of jobs can split one data set and pool the results.
    """
    _register_builtin()
    if name not in DATASETS:
        known = ", ".join(sorted(DATASETS))
        raise ValueError(f"unknown data set {name!r}; known data sets: {known}")
    if size is not None:
        try:
            ok = len(size) == 2 and all(int(s) == s and int(s) > 0 for s in size)
        except (TypeError, ValueError):  # a bare number, None or text inside
            ok = False
        if not ok:
            raise ValueError(f"size must be (height, width) with positive integers, got {size!r}")
        size = (int(size[0]), int(size[1]))
    shard = None if shard is None else _check_shard(shard)
    dataset = DATASETS[name](split=split, root=root, size=size)
    return dataset if shard is None else ShardedDataset(dataset, *shard)
