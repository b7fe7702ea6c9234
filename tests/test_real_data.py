"""The real-data loaders (Cityscapes, Pascal VOC 2012) on small trees built in their official layouts.

Every file is a few pixels with known values: labels are made of 2x2 blocks so that a nearest-neighbour
resize by a factor of 2 has one right answer, images are two flat colours so that bilinear resizing keeps
the colour inside each half.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import default_collate

from uwl_utils.data import dataset_names, load_dataset
from uwl_utils.data.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, VOC_CLASSES, VOC_PALETTE

H, W = 8, 16  # native size of every test image

# 4x8 blocks of label values -> 8x16 label maps; 255 (ignore) included
CS_BLOCKS = np.array(
    [
        [0, 0, 1, 1, 2, 2, 10, 10],
        [0, 7, 7, 13, 13, 18, 18, 10],
        [255, 255, 0, 13, 11, 12, 255, 1],
        [8, 8, 9, 9, 5, 6, 17, 255],
    ],
    dtype=np.uint8,
)
VOC_BLOCKS = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 255, 15, 15, 15, 255, 0, 0],
        [0, 255, 15, 20, 20, 255, 1, 0],
        [0, 0, 255, 255, 255, 0, 0, 0],
    ],
    dtype=np.uint8,
)


def _labels(blocks: np.ndarray, factor: int = 2) -> np.ndarray:
    return np.kron(blocks, np.ones((factor, factor), dtype=np.uint8))


def _image(left: tuple[int, int, int], right: tuple[int, int, int]) -> np.ndarray:
    """An H x W RGB image: colour ``left`` in the left half, ``right`` in the right half."""
    image = np.empty((H, W, 3), dtype=np.uint8)
    image[:, : W // 2] = left
    image[:, W // 2 :] = right
    return image


def _colours(k: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Two colours that identify sample ``k`` (R, G and B all different)."""
    return (10 + 20 * k, 200, 60), (250, 30 + 20 * k, 120)


def _save(path: Path, array: np.ndarray, palette: list[int] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    if palette is not None:
        image.putpalette(palette)  # "L" -> "P": pixel values stay the class indices
    image.save(path)


def _voc_palette() -> list[int]:
    flat = [0] * 768
    for i, colour in enumerate(VOC_PALETTE):
        flat[3 * i : 3 * i + 3] = colour
    flat[765:768] = (224, 224, 192)  # VOC's void/boundary colour at index 255
    return flat


# ---------------------------------------------------------------------------------------------- Cityscapes


def _cs_sample(root: Path, split: str, city: str, frame: int, k: int, label: str = "trainIds") -> str:
    stem = f"{city}_000000_{frame:06d}"
    _save(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", _image(*_colours(k)))
    if label == "trainIds":
        _save(root / "gtFine" / split / city / f"{stem}_gtFine_labelTrainIds.png", _labels(CS_BLOCKS))
    elif label == "labelIds":
        _save(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", _labels(CS_LABEL_ID_BLOCKS))
    return stem


# label ids -> train ids: 7->0 (road), 26->13 (car), 33->18 (bicycle), 21->8 (vegetation); 0, 1, 4 -> 255
CS_LABEL_ID_BLOCKS = np.array(
    [[7, 7, 26, 26, 33, 33, 21, 0], [1, 4, 7, 7, 26, 33, 21, 7], [7] * 8, [21] * 8], dtype=np.uint8
)
CS_LABEL_ID_AS_TRAIN = np.array(
    [[0, 0, 13, 13, 18, 18, 8, 255], [255, 255, 0, 0, 13, 18, 8, 0], [0] * 8, [8] * 8], dtype=np.int64
)


@pytest.fixture
def cityscapes_root(tmp_path: Path) -> Path:
    """val: zurich (2 images) and aachen (1), written out of order; train: bremen (1 image)."""
    root = tmp_path / "cityscapes"
    _cs_sample(root, "val", "zurich", 19, 0)
    _cs_sample(root, "val", "zurich", 7, 1)
    _cs_sample(root, "val", "aachen", 42, 2)
    _cs_sample(root, "train", "bremen", 3, 3)
    return root


def test_cityscapes_item_format_and_values(cityscapes_root):
    ds = load_dataset("cityscapes", "val", root=cityscapes_root, size=(H, W))
    assert len(ds) == 3
    assert (ds.name, ds.split, ds.num_classes, ds.ignore_index) == ("cityscapes", "val", 19, 255)
    assert tuple(ds.class_names) == CITYSCAPES_CLASSES and tuple(ds.palette) == CITYSCAPES_PALETTE
    item = ds[0]
    assert set(item) == {"image", "label", "id"}
    image, label = item["image"], item["label"]
    assert image.dtype == torch.float32 and image.shape == (3, H, W)
    assert label.dtype == torch.int64 and label.shape == (H, W)
    assert isinstance(item["id"], str)
    # native size: exact pixel values, RGB order, [0, 1]
    left, right = _colours(2)  # sorted by path: aachen first
    expected = torch.from_numpy(_image(left, right)).permute(2, 0, 1).float() / 255
    assert torch.equal(image, expected)
    assert torch.equal(label, torch.from_numpy(_labels(CS_BLOCKS)).long())


def test_cityscapes_ids_and_order(cityscapes_root):
    ds = load_dataset("cityscapes", "val", root=cityscapes_root, size=(H, W))
    ids = [ds[i]["id"] for i in range(len(ds))]
    assert ids == ["aachen_000000_000042", "zurich_000000_000007", "zurich_000000_000019"]
    # each id carries its own image (colours identify the sample)
    for item, k in zip((ds[i] for i in range(3)), (2, 1, 0), strict=True):
        assert item["image"][:, 0, 0].mul(255).round().tolist() == list(_colours(k)[0])
    assert ds[-1]["id"] == ids[-1]
    with pytest.raises(IndexError):
        ds[3]


def test_cityscapes_split_selection(cityscapes_root):
    train = load_dataset("cityscapes", "train", root=cityscapes_root, size=(H, W))
    assert train.split == "train" and len(train) == 1 and train[0]["id"] == "bremen_000000_000003"
    with pytest.raises(FileNotFoundError, match=r"splits found: \['train', 'val'\]"):
        load_dataset("cityscapes", "test", root=cityscapes_root)


@pytest.mark.parametrize("size", [(4, 8), (16, 32), (5, 7)])
def test_cityscapes_resize(cityscapes_root, size):
    item = load_dataset("cityscapes", "val", root=cityscapes_root, size=size)[0]
    image, label = item["image"], item["label"]
    assert image.shape == (3, *size) and label.shape == size
    assert image.dtype == torch.float32 and label.dtype == torch.int64
    # bilinear: values between the two colours, each half's outer column keeps its colour
    left, right = (torch.tensor(c, dtype=torch.float32) / 255 for c in _colours(2))
    low, high = torch.minimum(left, right), torch.maximum(left, right)
    assert ((image >= low[:, None, None] - 1e-6) & (image <= high[:, None, None] + 1e-6)).all()
    assert torch.allclose(image[:, :, 0], left[:, None].expand(3, size[0]), atol=1 / 255)
    assert torch.allclose(image[:, :, -1], right[:, None].expand(3, size[0]), atol=1 / 255)
    # nearest: no new values; 255 kept
    assert set(label.unique().tolist()) <= set(np.unique(CS_BLOCKS).tolist())
    assert (label == 255).any()
    if size == (4, 8):  # 2x shrink of 2x2 blocks: exactly the blocks
        assert torch.equal(label, torch.from_numpy(CS_BLOCKS).long())
    if size == (16, 32):  # 2x enlargement: each pixel repeated
        assert torch.equal(label, torch.from_numpy(_labels(CS_BLOCKS, 4)).long())


def test_cityscapes_default_size_is_the_papers(cityscapes_root):
    ds = load_dataset("cityscapes", "val", root=cityscapes_root)
    item = ds[0]
    assert ds.size == (512, 1024)
    assert item["image"].shape == (3, 512, 1024) and item["label"].shape == (512, 1024)
    assert set(item["label"].unique().tolist()) == set(np.unique(CS_BLOCKS).tolist())


def test_cityscapes_label_ids_are_mapped_to_train_ids(tmp_path):
    root = tmp_path / "cs"
    _cs_sample(root, "val", "lindau", 1, 0, label="labelIds")
    both = _cs_sample(root, "val", "munster", 2, 1)  # trainIds present: used as they are...
    _save(root / "gtFine" / "val" / "munster" / f"{both}_gtFine_labelIds.png", _labels(CS_LABEL_ID_BLOCKS))
    ds = load_dataset("cityscapes", "val", root=root, size=(4, 8))
    assert [ds[i]["id"] for i in range(2)] == ["lindau_000000_000001", "munster_000000_000002"]
    assert torch.equal(ds[0]["label"], torch.from_numpy(CS_LABEL_ID_AS_TRAIN))
    assert torch.equal(ds[1]["label"], torch.from_numpy(CS_BLOCKS).long())  # ...and preferred


def test_cityscapes_batches_with_default_collate(cityscapes_root):
    ds = load_dataset("cityscapes", "val", root=cityscapes_root, size=(4, 8))
    batch = default_collate([ds[0], ds[1]])
    assert batch["image"].shape == (2, 3, 4, 8) and batch["label"].shape == (2, 4, 8)
    assert batch["id"] == [ds[0]["id"], ds[1]["id"]]


CS_LAYOUT_LINES = (
    "Expected layout:",
    "leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png",
    "gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png",
    "cityscapes-dataset.com",
    "data/README.md",
)


def _assert_shows(message: str, lines: tuple[str, ...]) -> None:
    for line in lines:
        assert line in message, f"{line!r} not in error message:\n{message}"


def test_cityscapes_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("cityscapes", root=tmp_path / "nowhere")
    assert f"Cityscapes root {tmp_path / 'nowhere'} does not exist" in str(err.value)
    _assert_shows(str(err.value), CS_LAYOUT_LINES)


def test_cityscapes_wrong_layout(tmp_path):
    # a flat folder of images, as some mirrors ship it
    _save(tmp_path / "images" / "a_leftImg8bit.png", _image(*_colours(0)))
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("cityscapes", root=tmp_path)
    message = str(err.value)
    assert str(tmp_path / "leftImg8bit" / "val") in message and "splits found: none" in message
    _assert_shows(message, CS_LAYOUT_LINES)


def test_cityscapes_without_gtfine(tmp_path):
    _save(tmp_path / "leftImg8bit" / "val" / "bonn" / "bonn_000000_000001_leftImg8bit.png", _image(*_colours(0)))
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("cityscapes", root=tmp_path)
    assert str(tmp_path / "gtFine" / "val") in str(err.value)
    _assert_shows(str(err.value), CS_LAYOUT_LINES)


def test_cityscapes_image_without_label(cityscapes_root):
    stem = _cs_sample(cityscapes_root, "val", "aachen", 99, 4, label="none")
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("cityscapes", "val", root=cityscapes_root)
    message = str(err.value)
    assert f"no label for {cityscapes_root / 'leftImg8bit' / 'val' / 'aachen' / stem}_leftImg8bit.png" in message
    assert f"{stem}_gtFine_labelTrainIds.png" in message and f"{stem}_gtFine_labelIds.png" in message
    _assert_shows(message, CS_LAYOUT_LINES)


def test_cityscapes_split_without_images(tmp_path):
    (tmp_path / "leftImg8bit" / "val" / "bonn").mkdir(parents=True)
    (tmp_path / "gtFine" / "val" / "bonn").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"no \*_leftImg8bit.png files in .*val/<city>/"):
        load_dataset("cityscapes", root=tmp_path)


def test_colour_label_png_is_refused(tmp_path):
    stem = _cs_sample(tmp_path, "val", "bonn", 1, 0, label="none")
    colour = np.array(CITYSCAPES_PALETTE, dtype=np.uint8)[_labels(CS_BLOCKS) % 19]  # a *_color.png by mistake
    _save(tmp_path / "gtFine" / "val" / "bonn" / f"{stem}_gtFine_labelTrainIds.png", colour)
    ds = load_dataset("cityscapes", root=tmp_path, size=(H, W))
    with pytest.raises(ValueError, match=r"PIL mode 'RGB'.*single-channel index PNG"):
        ds[0]


# -------------------------------------------------------------------------------------------------- VOC

VOC_VAL = ["2007_000129", "2007_000033", "2008_000002"]  # split-file order, not sorted


def _voc_tree(base: Path, ids_by_split: dict[str, list[str]]) -> Path:
    """<base>/VOCdevkit/VOC2012 with a JPEG and a palette PNG per id; returns the VOC2012 folder."""
    voc = base / "VOCdevkit" / "VOC2012"
    all_ids = sorted({i for ids in ids_by_split.values() for i in ids})
    for k, image_id in enumerate(all_ids):
        path = voc / "JPEGImages" / f"{image_id}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_image(*_colours(k))).save(path, quality=100, subsampling=0)
        _save(voc / "SegmentationClass" / f"{image_id}.png", _labels(VOC_BLOCKS), palette=_voc_palette())
    split_dir = voc / "ImageSets" / "Segmentation"
    split_dir.mkdir(parents=True, exist_ok=True)
    for split, ids in ids_by_split.items():
        # blank lines and stray whitespace, as hand-edited split files have
        (split_dir / f"{split}.txt").write_text("".join(f"{i}  \n" for i in ids) + "\n\n")
    return voc


@pytest.fixture
def voc_base(tmp_path: Path) -> Path:
    _voc_tree(tmp_path, {"val": VOC_VAL, "train": ["2009_000001"]})
    return tmp_path


@pytest.mark.parametrize("relative_root", ["", "VOCdevkit", "VOCdevkit/VOC2012"])
def test_voc_roots(voc_base, relative_root):
    ds = load_dataset("voc", "val", root=voc_base / relative_root, size=(H, W))
    assert [ds[i]["id"] for i in range(len(ds))] == VOC_VAL


def test_voc_item_format_and_values(voc_base):
    ds = load_dataset("voc", "val", root=voc_base / "VOCdevkit", size=(H, W))
    assert len(ds) == 3
    assert (ds.name, ds.split, ds.num_classes, ds.ignore_index) == ("voc", "val", 21, 255)
    assert tuple(ds.class_names) == VOC_CLASSES and tuple(ds.palette) == VOC_PALETTE
    item = ds[1]
    assert set(item) == {"image", "label", "id"} and item["id"] == "2007_000033"
    image, label = item["image"], item["label"]
    assert image.dtype == torch.float32 and image.shape == (3, H, W)
    assert label.dtype == torch.int64 and label.shape == (H, W)
    assert image.min() >= 0 and image.max() <= 1
    # JPEG is lossy: colours within a few grey levels, away from the edge between the halves
    k = sorted(VOC_VAL).index("2007_000033")
    left, right = (torch.tensor(c, dtype=torch.float32) / 255 for c in _colours(k))
    assert torch.allclose(image[:, :, :4], left[:, None, None].expand(3, H, 4), atol=4 / 255)
    assert torch.allclose(image[:, :, -4:], right[:, None, None].expand(3, H, 4), atol=4 / 255)
    # palette PNG: pixel values are the class indices (not the palette colours), 255 border kept
    assert torch.equal(label, torch.from_numpy(_labels(VOC_BLOCKS)).long())


def test_voc_resize_and_default_size(voc_base):
    ds = load_dataset("voc", "val", root=voc_base, size=(4, 8))
    item = ds[0]
    assert item["image"].shape == (3, 4, 8) and item["label"].shape == (4, 8)
    assert torch.equal(item["label"], torch.from_numpy(VOC_BLOCKS).long())
    odd = load_dataset("voc", "val", root=voc_base, size=(3, 11))[0]["label"]
    assert set(odd.unique().tolist()) <= {0, 1, 15, 20, 255}
    paper = load_dataset("voc", "val", root=voc_base)
    assert paper.size == (473, 473)
    item = paper[0]
    assert item["image"].shape == (3, 473, 473) and item["label"].shape == (473, 473)
    assert set(item["label"].unique().tolist()) == {0, 1, 15, 20, 255}


def test_voc_grey_label_png_is_read_as_indices(voc_base):
    # SegmentationClassAug-style labels are plain 8-bit grey PNGs holding the indices
    voc = voc_base / "VOCdevkit" / "VOC2012"
    _save(voc / "SegmentationClass" / "2007_000129.png", _labels(VOC_BLOCKS))
    assert torch.equal(
        load_dataset("voc", root=voc_base, size=(H, W))[0]["label"], torch.from_numpy(_labels(VOC_BLOCKS)).long()
    )


def test_voc_split_selection(voc_base):
    train = load_dataset("voc", "train", root=voc_base, size=(H, W))
    assert train.split == "train" and len(train) == 1 and train[0]["id"] == "2009_000001"
    with pytest.raises(FileNotFoundError, match=r"splits found: \['train', 'val'\]"):
        load_dataset("voc", "trainval", root=voc_base)


VOC_LAYOUT_LINES = (
    "Expected layout:",
    "VOCdevkit/VOC2012/",
    "JPEGImages/<id>.jpg",
    "SegmentationClass/<id>.png",
    "ImageSets/Segmentation/<split>.txt",
    "VOCtrainval_11-May-2012.tar",
    "data/README.md",
)


def test_voc_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("voc", root=tmp_path / "nowhere")
    assert f"VOC root {tmp_path / 'nowhere'} does not exist" in str(err.value)
    _assert_shows(str(err.value), VOC_LAYOUT_LINES)


def test_voc_wrong_layout(tmp_path):
    # the tar's content one level too deep, e.g. untarred into a folder of its own
    _voc_tree(tmp_path / "VOCtrainval_11-May-2012", {"val": VOC_VAL})
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("voc", root=tmp_path)
    assert f"no VOC2012 folder (JPEGImages/ and SegmentationClass/) under {tmp_path}" in str(err.value)
    _assert_shows(str(err.value), VOC_LAYOUT_LINES)


def test_voc_image_without_label(voc_base):
    voc = voc_base / "VOCdevkit" / "VOC2012"
    (voc / "SegmentationClass" / "2007_000033.png").unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("voc", root=voc_base)
    message = str(err.value)
    assert "1 file(s) listed by" in message and str(voc / "SegmentationClass" / "2007_000033.png") in message
    _assert_shows(message, VOC_LAYOUT_LINES)


def test_voc_label_without_image(voc_base):
    voc = voc_base / "VOCdevkit" / "VOC2012"
    (voc / "JPEGImages" / "2008_000002.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"2008_000002\.jpg"):
        load_dataset("voc", root=voc_base)


def test_voc_empty_split_file(voc_base):
    (voc_base / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation" / "val.txt").write_text("\n")
    with pytest.raises(FileNotFoundError, match="lists no ids"):
        load_dataset("voc", root=voc_base)


# ---------------------------------------------------------------------------------------------- load_dataset


def test_unknown_data_set_lists_known_names():
    assert dataset_names() == ["cityscapes", "synth_city", "synth_voc", "voc"]
    with pytest.raises(ValueError, match=r"unknown data set 'kitti'.*cityscapes, synth_city, synth_voc, voc"):
        load_dataset("kitti")


@pytest.mark.parametrize("size", [(0, 16), (8, -1), (8,), (8, 16, 3), 8, (8.5, 16), ("8", 16), (None, 16), "88"])
def test_bad_size(cityscapes_root, size):
    with pytest.raises(ValueError, match=r"size must be \(height, width\) with positive integers"):
        load_dataset("cityscapes", root=cityscapes_root, size=size)


@pytest.mark.parametrize("size", [[4, 8], (4.0, 8), np.array([4, 8]), torch.Size([4, 8])])
def test_size_accepts_integer_sequences(cityscapes_root, size):
    ds = load_dataset("cityscapes", root=cityscapes_root, size=size)
    assert ds.size == (4, 8) and ds[0]["label"].shape == (4, 8)
