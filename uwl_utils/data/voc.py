"""Pascal VOC 2012 segmentation (21 classes incl. background) in its official folder layout."""

from __future__ import annotations

from pathlib import Path

from uwl_utils.data import register_dataset
from uwl_utils.data.classes import VOC_CLASSES, VOC_PALETTE
from uwl_utils.data.paired import DATA_DIR, PairedFilesDataset, Sample, layout_error

__all__ = ["voc", "PAPER_SIZE"]

PAPER_SIZE = (473, 473)  # (H, W): the paper resizes every image to 473x473 (aspect ratio not kept)

LAYOUT = """  <root>/VOCdevkit/VOC2012/      (root may also be the VOCdevkit or the VOC2012 folder)
    JPEGImages/<id>.jpg
    SegmentationClass/<id>.png          (palette PNG: class index 0..20, 255 = boundary/void)
    ImageSets/Segmentation/<split>.txt  (one <id> a line; <split> in train, val, trainval)"""
SOURCE = (
    "Get VOCtrainval_11-May-2012.tar from http://host.robots.ox.ac.uk/pascal/VOC/voc2012/ and untar it into <root>."
)


def _voc2012_dir(root: Path) -> Path:
    for candidate in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
        if (candidate / "JPEGImages").is_dir() and (candidate / "SegmentationClass").is_dir():
            return candidate
    raise layout_error(f"no VOC2012 folder (JPEGImages/ and SegmentationClass/) under {root}.", LAYOUT, SOURCE)


def _find_samples(voc: Path, split: str) -> list[Sample]:
    split_file = voc / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not split_file.is_file():
        found = sorted(p.stem for p in (voc / "ImageSets" / "Segmentation").glob("*.txt"))
        raise layout_error(f"split file {split_file} not found (splits found: {found or 'none'}).", LAYOUT, SOURCE)
    ids = [line.strip() for line in split_file.read_text().splitlines() if line.strip()]
    samples = [(voc / "JPEGImages" / f"{i}.jpg", voc / "SegmentationClass" / f"{i}.png", i) for i in ids]
    missing = [p for s in samples for p in s[:2] if not p.is_file()]
    if missing:
        raise layout_error(
            f"{len(missing)} file(s) listed by {split_file} are missing, e.g. {missing[0]}.", LAYOUT, SOURCE
        )
    if not samples:
        raise layout_error(f"split file {split_file} lists no ids.", LAYOUT, SOURCE)
    return samples


@register_dataset("voc")
def voc(split: str = "val", root: str | Path | None = None, size: tuple[int, int] | None = None) -> PairedFilesDataset:
    """Pascal VOC 2012 ``split`` from ``root`` (default ``<repo>/data/VOCdevkit``), in split-file order.

    ``size`` is (H, W); None means the paper's (473, 473).
    """
    root = Path(root) if root is not None else DATA_DIR / "VOCdevkit"
    if not root.is_dir():
        raise layout_error(f"VOC root {root} does not exist.", LAYOUT, SOURCE)
    samples = _find_samples(_voc2012_dir(root), split)
    return PairedFilesDataset("voc", split, samples, size or PAPER_SIZE, VOC_CLASSES, VOC_PALETTE)
