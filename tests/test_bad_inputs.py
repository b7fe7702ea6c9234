"""docs/bad_inputs.md, line by line: each listed bad input, reproduced here by its id, is refused with the message
the list gives; every id of the list has a case here and every case a line there."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from torch.utils.data import Dataset

import uwl_utils  # noqa: F401  (mmcv.ops stand-in before mmseg)
from uwl_utils import attacks, checks, metrics, models, notebook
from uwl_utils.data import load_dataset
from uwl_utils.experiment import AttackConfig, resolve_device, run
from uwl_utils.testing import ToySegmenter
from uwl_utils.tools import grid

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad_inputs.md"
ROW = re.compile(r"^\|\s*`(?P<id>[a-z0-9-]+)`\s*\|.*\|\s*`(?P<message>[^`]+)`\s*\|\s*$")


def _listed() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match:
            assert match["id"] not in entries, f"id {match['id']} is listed twice"
            entries[match["id"]] = match["message"]
    return entries


LISTED = _listed()
MODEL = ToySegmenter()  # 5 classes
G = torch.Generator().manual_seed(0)
IMAGES = torch.rand(2, 3, 6, 8, generator=G)
LABELS = torch.randint(0, 5, (2, 6, 8), generator=G)


def _with(index: tuple, value: float) -> torch.Tensor:
    images = IMAGES.clone()
    images[index] = value
    return images


class Half(torch.nn.Module):
    """Logits at half the input size."""

    num_classes = 5

    def forward(self, x):
        return MODEL(x)[..., ::2, ::2]


class FourClasses(torch.nn.Module):
    """Declares 5 classes, returns 4."""

    num_classes = 5

    def forward(self, x):
        return MODEL(x)[:, :4]


class Toy(Dataset):
    """Three items of 6×8 for the runner, optionally with one bad image or label."""

    name = "toy"

    def __init__(self, nan_at: int | None = None, label_at: int | None = None, num_classes: int | None = None):
        self.images, self.labels = torch.rand(3, 3, 6, 8, generator=G), torch.randint(0, 5, (3, 6, 8), generator=G)
        if nan_at is not None:
            self.images[nan_at, 0, 0, 0] = float("nan")
        if label_at is not None:
            self.labels[label_at, 0, 0] = 30
        if num_classes is not None:
            self.num_classes = num_classes

    def __len__(self) -> int:
        return 3

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "label": self.labels[i], "id": f"toy/{i}"}


def _run(tmp_path: Path, data: Dataset | None = None, model: torch.nn.Module = MODEL, **kw) -> None:
    args = dict(n_images=3, batch_size=2, device="cpu", out=tmp_path / "out", progress=False)
    run({"toy": model}, kw.pop("attacks", [AttackConfig("fgsm", 4)]), kw.pop("weightings", ["none"]),
        data if data is not None else Toy(), **{**args, **kw})  # fmt: skip


class Bare(torch.nn.Module):
    def forward(self, x):
        return MODEL(x)


PROFILES = {"quick": {"n_images": 2, "batch_size": 1, "attack": "fgsm"}}


def _setup(tmp_path: Path, **params) -> None:
    notebook.setup(PROFILES, **{"PROFILE": "quick", "DATASET": "synth_city", "OUT_DIR": str(tmp_path), **params})


def _grid(tmp_path: Path, **spec) -> None:
    nb = tmp_path / "job.ipynb"
    nb.write_text("{}")
    grid.load_grid({"notebooks": [str(nb)], "run_dir": str(tmp_path / "run"), **spec})


def _grid_file(tmp_path: Path, content) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(content))
    grid.load_grid(path)


def _two_checkpoints(tmp_path: Path) -> None:
    """A run folder with two jobs' rows of one model from two checkpoints."""
    for job, digest in (("a", "1" * 16), ("b", "2" * 16)):
        model = ToySegmenter()
        _run(tmp_path, out=tmp_path / "run" / job / "results", n_images=1, model=model)
        rows = grid._folder_rows(tmp_path / "run" / job, job)
        part = next((tmp_path / "run" / job / "results").glob("part-*.parquet"))
        rows.drop(columns="job").assign(checkpoint=digest, config=f"c{job}").to_parquet(part)
    grid.collect(tmp_path / "run")


def _no_network(monkeypatch, tmp_path: Path) -> None:
    def fail(url, dst, progress=True):
        raise OSError("no network")

    monkeypatch.setenv("UWL_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(models, "download_url_to_file", fail)
    models.load_model("voc/pspnet")


def _no_tiny_checkpoint(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("UWL_CHECKPOINT_DIR", str(tmp_path))
    models.load_model("synth_voc/pspnet")


def _bad_hash(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("UWL_CACHE_DIR", str(tmp_path))
    (tmp_path / models.MODELS["voc/pspnet"].checkpoint_file).write_bytes(b"cut")
    models.load_model("voc/pspnet")


def _pickled(tmp_path: Path) -> None:
    torch.save({"state_dict": {"w": torch.ones(1)}, "meta": {"args": argparse.Namespace(a=1)}}, tmp_path / "o.pth")
    models.read_checkpoint(tmp_path / "o.pth")


def _other_model(tmp_path: Path) -> None:
    path = models.save_checkpoint(models.build_segmentor("synth_voc/pspnet"), tmp_path / "voc.pth", {})
    models.load_model("synth_city/deeplabv3plus", checkpoint=path)


def _cityscapes_without_label(tmp_path: Path) -> None:
    (tmp_path / "leftImg8bit" / "val" / "city").mkdir(parents=True)
    (tmp_path / "gtFine" / "val" / "city").mkdir(parents=True)
    (tmp_path / "leftImg8bit" / "val" / "city" / "a_leftImg8bit.png").write_bytes(b"")
    load_dataset("cityscapes", root=tmp_path)


def _voc_without_split(tmp_path: Path) -> None:
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (tmp_path / folder).mkdir(parents=True)
    load_dataset("voc", root=tmp_path)


def _no_cuda(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    resolve_device("cuda")


# id -> a function of (tmp_path, monkeypatch) that makes the mistake
CASES: dict[str, Callable[[Path, pytest.MonkeyPatch], object]] = {
    "images-nan": lambda t, m: attacks.fgsm(MODEL, _with((1, 0, 0, 0), float("nan")), LABELS),
    "images-inf": lambda t, m: attacks.ifgsm(MODEL, _with((0, 2, 3, 3), float("inf")), LABELS),
    "images-range": lambda t, m: attacks.pgd(MODEL, _with((1, 1, 1, 1), 1.01), LABELS),
    "images-255": lambda t, m: attacks.fgsm(MODEL, IMAGES * 255, LABELS),
    "images-normalised": lambda t, m: attacks.fgsm(MODEL, (IMAGES - 0.45) / 0.22, LABELS),
    "images-uint8": lambda t, m: attacks.fgsm(MODEL, (IMAGES * 255).to(torch.uint8), LABELS),
    "images-no-batch": lambda t, m: attacks.fgsm(MODEL, IMAGES[0], LABELS[0]),
    "images-channels": lambda t, m: attacks.fgsm(MODEL, IMAGES[:, :1], LABELS),
    "images-empty": lambda t, m: attacks.fgsm(MODEL, IMAGES[:0], LABELS[:0]),
    "noise-nan": lambda t, m: attacks.uniform_noise(MODEL, _with((0, 0, 0, 0), float("nan"))),
    "labels-range": lambda t, m: attacks.fgsm(MODEL, IMAGES, LABELS.masked_fill(LABELS == 1, 26)),
    "labels-negative": lambda t, m: attacks.fgsm(MODEL, IMAGES, LABELS.masked_fill(LABELS == 1, -1)),
    "labels-float": lambda t, m: attacks.fgsm(MODEL, IMAGES, LABELS.float()),
    "labels-size": lambda t, m: attacks.fgsm(MODEL, IMAGES, LABELS[:, :4]),
    "model-size": lambda t, m: attacks.fgsm(Half(), IMAGES, LABELS),
    "model-classes": lambda t, m: attacks.fgsm(FourClasses(), IMAGES, LABELS),
    "eps-255": lambda t, m: attacks.fgsm(MODEL, IMAGES, LABELS, eps=8),
    "eps-zero": lambda t, m: attacks.ifgsm(MODEL, IMAGES, LABELS, eps=0),
    "steps-zero": lambda t, m: attacks.ifgsm(MODEL, IMAGES, LABELS, steps=0),
    "norm-unknown": lambda t, m: attacks.pgd(MODEL, IMAGES, LABELS, norm="l1"),
    "weighting-unknown": lambda t, m: attacks.fgsm(MODEL, IMAGES, LABELS, weighting="entropy"),
    "weighting-cr": lambda t, m: attacks.ifgsm(MODEL, IMAGES, LABELS, weighting="CR", steps=1),
    "sparse-budget": lambda t, m: attacks.sparse_ifgsm(MODEL, IMAGES, LABELS, n_pixels=3, fraction=0.1),
    "patch-nan": lambda t, m: attacks.patch_eot(MODEL, IMAGES, LABELS, patch=torch.full((3, 2, 2), float("nan"))),
    "patch-too-large": lambda t, m: attacks.apply_patch(IMAGES, torch.rand(3, 7, 8)),
    "patch-weighting": lambda t, m: attacks.ATTACKS["patch_eot"](
        MODEL, IMAGES, LABELS, patch=torch.rand(3, 2, 2), weighting="E"
    ),
    "pred-logits": lambda t, m: metrics.confusion_matrices(MODEL(IMAGES)[:, 0], LABELS, 5),
    "apsr-reduction": lambda t, m: metrics.apsr(LABELS, LABELS, reduction="sum"),
    "probs-logits": lambda t, m: checks.check_probs(MODEL(IMAGES)),
    "run-unknown-attack": lambda t, m: AttackConfig("ifgsn", 4),
    "run-bad-parameter": lambda t, m: _run(t, attacks=[AttackConfig("ifgsm", 4, {"stpes": 3})]),
    "run-cr-mixed": lambda t, m: _run(t, weightings=["CR"]),
    "run-too-many-images": lambda t, m: _run(t, n_images=4),
    "run-zero-images": lambda t, m: _run(t, n_images=0),
    "run-nan-item": lambda t, m: _run(t, Toy(nan_at=1)),
    "run-label-item": lambda t, m: _run(t, Toy(label_at=2)),
    "run-class-count": lambda t, m: _run(t, Toy(num_classes=19)),
    "run-no-num-classes": lambda t, m: _run(t, model=Bare()),
    "device-cuda": lambda t, m: _no_cuda(m),
    "model-unknown": lambda t, m: models.load_model("cityscapes/segformer"),
    "checkpoint-tiny-missing": lambda t, m: _no_tiny_checkpoint(m, t),
    "checkpoint-no-download": lambda t, m: _no_network(m, t),
    "checkpoint-hash": lambda t, m: _bad_hash(m, t),
    "checkpoint-pickle": lambda t, m: _pickled(t),
    "checkpoint-corrupt": lambda t, m: ((t / "x.pth").write_bytes(b"text"), models.read_checkpoint(t / "x.pth")),
    "checkpoint-other-model": lambda t, m: _other_model(t),
    "nb-profile": lambda t, m: _setup(t, PROFILE="fast"),
    "nb-dataset": lambda t, m: _setup(t, DATASET="kitti"),
    "nb-data-root-unset": lambda t, m: _setup(t, DATASET="cityscapes"),
    "nb-data-root-absent": lambda t, m: _setup(t, DATASET="cityscapes", DATA_ROOT=str(t / "nope")),
    "nb-model-unknown": lambda t, m: _setup(t, MODELS=["synth_city/segformer"]),
    "nb-model-dataset": lambda t, m: _setup(t, MODELS=["synth_voc/pspnet"]),
    "nb-n-images": lambda t, m: _setup(t, N_IMAGES=0),
    "nb-unknown-knob": lambda t, m: _setup(t, EPSILON=4),
    "nb-models-not-list": lambda t, m: _setup(t, MODELS="synth_city/ddrnet"),
    "nb-list-yaml": lambda t, m: _setup(t, IMAGE_SIZE="[128, "),
    "nb-threads": lambda t, m: _setup(t, THREADS=0),
    "grid-file-missing": lambda t, m: grid.load_grid(t / "nope.yaml"),
    "grid-not-mapping": lambda t, m: _grid_file(t, ["02_attack_evaluation"]),
    "grid-unknown-key": lambda t, m: _grid_file(t, {"notebook": ["02_attack_evaluation"]}),
    "grid-no-notebooks": lambda t, m: _grid_file(t, {"run_dir": str(t)}),
    "grid-notebook-missing": lambda t, m: _grid_file(t, {"notebooks": ["no_such_notebook"], "run_dir": str(t)}),
    "grid-no-run-dir": lambda t, m: _grid_file(t, {"notebooks": ["02_attack_evaluation"]}),
    "grid-scalar-sweep": lambda t, m: _grid(t, grid={"EPS": 4}),
    "grid-output-clash": lambda t, m: _grid(t, parameters={"RESULTS_DIR": "x"}),
    "grid-shards": lambda t, m: _grid(t, shards=0),
    "grid-retries": lambda t, m: _grid(t, retries=-1),
    "grid-slurm-option": lambda t, m: _grid(t, slurm={"gpus": 2}),
    "collect-empty": lambda t, m: grid.collect(t),
    "collect-mixed": lambda t, m: _two_checkpoints(t),
    "data-unknown": lambda t, m: load_dataset("kitti"),
    "data-size": lambda t, m: load_dataset("synth_city", size=(0, 64)),
    "data-shard": lambda t, m: load_dataset("synth_city", shard=(2, 2)),
    "data-synthetic-root": lambda t, m: load_dataset("synth_city", root=t),
    "cityscapes-root-absent": lambda t, m: load_dataset("cityscapes", root=t / "nope"),
    "cityscapes-layout": lambda t, m: load_dataset("cityscapes", root=t),
    "cityscapes-no-label": lambda t, m: _cityscapes_without_label(t),
    "voc-root-absent": lambda t, m: load_dataset("voc", root=t / "nope"),
    "voc-layout": lambda t, m: load_dataset("voc", root=t),
    "voc-no-split": lambda t, m: _voc_without_split(t),
}


def test_the_list_and_the_cases_name_the_same_ids_and_there_are_at_least_40():
    assert len(LISTED) >= 40
    assert sorted(set(LISTED) - set(CASES)) == [], "listed in docs/bad_inputs.md without a case here"
    assert sorted(set(CASES) - set(LISTED)) == [], "a case here without its line in docs/bad_inputs.md"


@pytest.mark.parametrize("entry", sorted(LISTED))
def test_each_listed_bad_input_gets_its_message(entry, tmp_path, monkeypatch):
    with pytest.raises((ValueError, FileNotFoundError, models.CheckpointError)) as err:
        CASES[entry](tmp_path, monkeypatch)
    assert LISTED[entry] in str(err.value)
