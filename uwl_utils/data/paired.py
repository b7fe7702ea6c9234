"""Shared base of the real-data loaders: a list of (image file, label file) pairs -> resized tensors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from uwl_utils.data.classes import IGNORE_INDEX

__all__ = ["DATA_DIR", "PairedFilesDataset", "Sample", "layout_error"]

# Default parent folder of the real data sets: <repo>/data (data/README.md).
DATA_DIR = Path(__file__).resolve().parents[2] / "data"

# (image file, label file, id)
Sample = tuple[Path, Path, str]


def layout_error(problem: str, layout: str, source: str) -> FileNotFoundError:
    """A FileNotFoundError that states ``problem``, shows the expected tree and where to get the data."""
    return FileNotFoundError(f"{problem}\nExpected layout:\n{layout}\n{source}\nSee data/README.md.")


class PairedFilesDataset(Dataset):
    """Images and label maps read from files with PIL and resized to ``size`` (H, W).

    Images: RGB, bilinear resize (PIL, antialiased when shrinking, as the paper's seed code), float32
    [3,H,W] in [0,1]. Labels: single-channel index PNGs (mode ``L`` or palette ``P``), nearest-neighbour
    resize, int64 [H,W], 255 = ignore. Subclasses find the pairs and may map raw label values
    (:meth:`map_label`).
    """

    def __init__(
        self,
        name: str,
        split: str,
        samples: Sequence[Sample],
        size: tuple[int, int],
        class_names: Sequence[str],
        palette: Sequence[tuple[int, int, int]],
    ) -> None:
        self.name = name
        self.split = split
        self.samples = list(samples)
        self.size = size
        self.class_names = tuple(class_names)
        self.palette = tuple(palette)
        self.num_classes = len(self.class_names)
        self.ignore_index = IGNORE_INDEX

    def __len__(self) -> int:
        return len(self.samples)

    def map_label(self, label: np.ndarray, path: Path) -> np.ndarray:
        """Raw label values of ``path`` -> class indices (identity here)."""
        return label

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        image_path, label_path, sample_id = self.samples[index]
        h, w = self.size
        with Image.open(image_path) as img:
            image = np.asarray(img.convert("RGB").resize((w, h), Image.Resampling.BILINEAR))
        with Image.open(label_path) as lab:
            if lab.mode not in ("L", "P"):
                raise ValueError(
                    f"label file {label_path} has PIL mode {lab.mode!r}; expected a single-channel index PNG "
                    "(mode 'L' or palette 'P') whose pixel values are class ids (255 = ignore)"
                )
            label = np.asarray(lab.resize((w, h), Image.Resampling.NEAREST))
        label = self.map_label(label, label_path)
        return {
            "image": torch.from_numpy(image.copy()).permute(2, 0, 1).float().div_(255.0),
            "label": torch.from_numpy(label.astype(np.int64)),
            "id": sample_id,
        }

    def __repr__(self) -> str:
        h, w = self.size
        return f"{type(self).__name__}(split={self.split!r}, {len(self)} images, size={h}x{w})"
