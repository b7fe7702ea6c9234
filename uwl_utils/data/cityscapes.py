"""Cityscapes (fine annotations, 19 train-id classes) in its official folder layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from uwl_utils.data import register_dataset
from uwl_utils.data.classes import CITYSCAPES_CLASSES, CITYSCAPES_LABEL_IDS, CITYSCAPES_PALETTE, IGNORE_INDEX
from uwl_utils.data.paired import DATA_DIR, PairedFilesDataset, Sample, layout_error

__all__ = ["CityscapesDataset", "cityscapes", "PAPER_SIZE"]

PAPER_SIZE = (512, 1024)  # (H, W): the paper evaluates at half resolution
IMAGE_SUFFIX = "_leftImg8bit.png"
TRAIN_IDS_SUFFIX = "_gtFine_labelTrainIds.png"
LABEL_IDS_SUFFIX = "_gtFine_labelIds.png"

LAYOUT = """  <root>/
    leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png   (or *_gtFine_labelIds.png)
  with <split> in train, val, test."""
SOURCE = (
    "Get leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from "
    "https://www.cityscapes-dataset.com/downloads/ (free registration) and unzip both into <root>."
)

# labelId -> trainId look-up table (labelIds are 0..33, -1 for license plates stored as 255).
_LABEL_TO_TRAIN = np.full(256, IGNORE_INDEX, dtype=np.uint8)
_LABEL_TO_TRAIN[list(CITYSCAPES_LABEL_IDS)] = np.arange(len(CITYSCAPES_LABEL_IDS), dtype=np.uint8)


class CityscapesDataset(PairedFilesDataset):
    """Cityscapes images with train-id labels; ``*_labelIds.png`` files are mapped to train ids."""

    def map_label(self, label: np.ndarray, path: Path) -> np.ndarray:
        return _LABEL_TO_TRAIN[label] if path.name.endswith(LABEL_IDS_SUFFIX) else label


def _find_samples(root: Path, split: str) -> list[Sample]:
    image_dir, label_dir = root / "leftImg8bit" / split, root / "gtFine" / split
    for folder in (image_dir, label_dir):
        if not folder.is_dir():
            splits = sorted(p.name for p in (root / "leftImg8bit").glob("*") if p.is_dir())
            raise layout_error(
                f"Cityscapes folder {folder} not found (root {root}; splits found: {splits or 'none'}).",
                LAYOUT,
                SOURCE,
            )
    samples = []
    for image in sorted(image_dir.glob(f"*/*{IMAGE_SUFFIX}")):
        stem = image.name[: -len(IMAGE_SUFFIX)]
        labels = [label_dir / image.parent.name / f"{stem}{s}" for s in (TRAIN_IDS_SUFFIX, LABEL_IDS_SUFFIX)]
        label = next((p for p in labels if p.is_file()), None)
        if label is None:
            raise layout_error(f"no label for {image}: neither {labels[0]} nor {labels[1]} exists.", LAYOUT, SOURCE)
        samples.append((image, label, stem))
    if not samples:
        raise layout_error(f"no *{IMAGE_SUFFIX} files in {image_dir}/<city>/.", LAYOUT, SOURCE)
    return samples


@register_dataset("cityscapes")
def cityscapes(
    split: str = "val", root: str | Path | None = None, size: tuple[int, int] | None = None
) -> CityscapesDataset:
    """Cityscapes ``split`` from ``root`` (default ``<repo>/data/cityscapes``), sorted by file path.

    ``size`` is (H, W); None means the paper's (512, 1024).
    """
    root = Path(root) if root is not None else DATA_DIR / "cityscapes"
    if not root.is_dir():
        raise layout_error(f"Cityscapes root {root} does not exist.", LAYOUT, SOURCE)
    samples = _find_samples(root, split)
    return CityscapesDataset("cityscapes", split, samples, size or PAPER_SIZE, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE)
