"""The embedded default: procedurally generated ``synth_city`` and ``synth_voc`` data sets.

Sample ``index`` of split ``split`` is drawn from ``numpy.random.default_rng([seed, split code, index])``,
so it is the same on every machine and call, train and val never share a scene, and any subset can be
generated on its own. Scenes are rendered directly at the requested size (no resampling), which keeps thin
classes such as poles at their designed minimum width.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from uwl_utils.data import register_dataset
from uwl_utils.data.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, IGNORE_INDEX, VOC_CLASSES, VOC_PALETTE

__all__ = ["SPLITS", "SYNTHETIC", "SyntheticDataset", "SyntheticSpec"]

Renderer = Callable[..., tuple[np.ndarray, np.ndarray]]

# split name -> (seed-sequence code, number of samples)
SPLITS: dict[str, tuple[int, int]] = {"train": (1, 4000), "val": (2, 500)}


@dataclass(frozen=True)
class SyntheticSpec:
    """What defines one synthetic data set: its renderer (imported lazily), size, classes and palette."""

    name: str
    module: str
    function: str
    size: tuple[int, int]
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]

    def renderer(self) -> Renderer:
        from importlib import import_module

        return getattr(import_module(self.module), self.function)


SYNTHETIC: dict[str, SyntheticSpec] = {
    "synth_city": SyntheticSpec(
        "synth_city", "uwl_utils.data.synthetic.city", "render_city", (128, 256), CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
    ),
    "synth_voc": SyntheticSpec(
        "synth_voc", "uwl_utils.data.synthetic.voc", "render_voc", (128, 128), VOC_CLASSES, VOC_PALETTE
    ),
}


class SyntheticDataset(Dataset):
    """A synthetic split; items are ``{"image": [3,H,W] float32 in [0,1], "label": [H,W] int64, "id": str}``."""

    def __init__(self, spec: SyntheticSpec, split: str = "val", size: tuple[int, int] | None = None, seed: int = 0):
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r} for {spec.name}; known splits: {', '.join(SPLITS)}")
        self.spec = spec
        self.name = spec.name
        self.split = split
        self.seed = int(seed)
        self.size = tuple(size) if size is not None else spec.size
        self.class_names = spec.class_names
        self.palette = spec.palette
        self.num_classes = len(spec.class_names)
        self.ignore_index = IGNORE_INDEX
        self._code, self._length = SPLITS[split]
        self._render = spec.renderer()

    def __len__(self) -> int:
        return self._length

    def rng(self, index: int) -> np.random.Generator:
        """The generator that draws sample ``index``: a function of (seed, split, index) only."""
        return np.random.default_rng([self.seed, self._code, index])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        if not -self._length <= index < self._length:
            raise IndexError(f"{self.name} {self.split} has {self._length} samples; index {index} is out of range")
        index %= self._length
        image, label = self._render(self.rng(index), *self.size)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)),
            "label": torch.from_numpy(label.astype(np.int64)),
            "id": f"{self.name}_{self.split}_{self.seed}_{index:05d}",
        }

    def __repr__(self) -> str:
        h, w = self.size
        return f"SyntheticDataset({self.name!r}, split={self.split!r}, seed={self.seed}, {len(self)} images, {h}x{w})"


def _factory(spec: SyntheticSpec):
    def build(split: str = "val", root=None, size: tuple[int, int] | None = None) -> SyntheticDataset:
        if root is not None:
            raise ValueError(f"{spec.name} is generated, not read from disk: pass root=None (got {root!r})")
        return SyntheticDataset(spec, split=split, size=size)

    return build


for _spec in SYNTHETIC.values():
    register_dataset(_spec.name)(_factory(_spec))
