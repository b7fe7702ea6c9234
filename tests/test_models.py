"""The model registry and the [0,1]-RGB wrapper: shapes, gradients, normalisation, checkpoint handling."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib

import numpy as np
import pytest
import torch

import uwl_utils  # noqa: F401  (mmcv.ops stand-in before mmseg)
from uwl_utils import models
from uwl_utils.models import (
    MODELS,
    CheckpointError,
    SegmentationModel,
    build_segmentor,
    file_sha256,
    load_model,
    published_hash,
    read_checkpoint,
    save_checkpoint,
)

TINY = [name for name, spec in MODELS.items() if spec.tiny]
ZOO = [name for name, spec in MODELS.items() if not spec.tiny]


@pytest.fixture(scope="module")
def tiny_models() -> dict[str, SegmentationModel]:
    torch.manual_seed(0)
    return {name: SegmentationModel(build_segmentor(name), MODELS[name]) for name in TINY}


def test_registry_holds_the_paper_zoo_and_the_tiny_models():
    assert ZOO == [
        "cityscapes/deeplabv3plus",
        "cityscapes/bisenetv1",
        "cityscapes/ddrnet",
        "voc/deeplabv3plus",
        "voc/pspnet",
    ]
    assert TINY == [
        "synth_city/deeplabv3plus", "synth_city/bisenetv1", "synth_city/ddrnet", "synth_voc/deeplabv3plus",
        "synth_voc/pspnet",
    ]  # fmt: skip
    for name in ZOO:
        spec = MODELS[name]
        assert spec.url.endswith(spec.checkpoint_file) and spec.url.startswith("https://download.openmmlab.com/")
        assert 70 < spec.published_miou < 80
    assert [MODELS[n].checkpoint_file for n in TINY][0] == "synth_city_deeplabv3plus.pth"


@pytest.mark.parametrize("name", TINY)
def test_tiny_models_build_with_their_classes_and_plain_bn(tiny_models, name):
    model = tiny_models[name]
    expected = 19 if name.startswith("synth_city") else 21
    assert model.num_classes == expected == model.segmentor.decode_head.num_classes
    assert len(model.class_names) == len(model.palette) == expected and model.ignore_index == 255
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    assert 0.7e6 < sum(p.numel() for p in model.parameters()) < 1.5e6


@pytest.mark.parametrize("shape", [(1, 3, 64, 96), (2, 3, 33, 47)])
@pytest.mark.parametrize("name", TINY)
def test_logits_at_input_size_and_gradients_reach_the_input(tiny_models, name, shape):
    model = tiny_models[name]
    images = torch.rand(shape, generator=torch.Generator().manual_seed(0), requires_grad=True)
    logits = model(images)
    assert logits.shape == (shape[0], model.num_classes, *shape[2:])
    logits.logsumexp(1).sum().backward()
    assert torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0


def test_normalisation_happens_inside(tiny_models):
    """[0,1] RGB into the wrapper == 0-255 BGR through mmseg's own SegDataPreProcessor + encode_decode."""
    model = tiny_models["synth_city/deeplabv3plus"]
    images = torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    bgr_255 = list((images * 255)[:, [2, 1, 0]])
    inputs = model.segmentor.data_preprocessor({"inputs": bgr_255, "data_samples": None}, False)["inputs"]
    metas = [dict(img_shape=(64, 96), ori_shape=(64, 96), pad_shape=(64, 96))] * 2
    with torch.no_grad():
        expected = model.segmentor.inference(inputs, metas)
        torch.testing.assert_close(model(images), expected, rtol=1e-4, atol=1e-4)


def test_padding_for_size_divisor_is_cropped_back(tiny_models):
    model = tiny_models["synth_city/ddrnet"]
    assert model.spec.size_divisor == 8
    images = torch.rand(1, 3, 37, 50)
    padded = torch.zeros(1, 3, 40, 56)  # black bottom/right border up to multiples of 8
    padded[..., :37, :50] = images
    with torch.no_grad():
        torch.testing.assert_close(model(images), model(padded)[..., :37, :50])


def test_train_keeps_eval_mode(tiny_models):
    model = tiny_models["synth_voc/pspnet"]
    model.train()
    assert not any(m.training for m in model.modules())


@pytest.mark.parametrize(
    "bad", [torch.rand(3, 32, 32), torch.rand(1, 1, 32, 32), torch.randint(0, 255, (1, 3, 32, 32), dtype=torch.uint8)]
)
def test_input_is_checked(tiny_models, bad):
    with pytest.raises(ValueError, match=r"float tensor \[N,3,H,W\]"):
        tiny_models["synth_city/bisenetv1"](bad)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ValueError) as err:
        load_model("cityscapes/segformer")
    assert all(name in str(err.value) for name in MODELS)


def test_zoo_model_loads_a_checkpoint_file(tmp_path):
    """A 0.x-style file (``module.`` prefix, CLASSES/PALETTE meta) saved from a random model loads exactly."""
    source = build_segmentor("cityscapes/ddrnet")
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    path = tmp_path / "ddrnet.pth"
    torch.save({"state_dict": state, "meta": {"CLASSES": ["road"] * 19, "PALETTE": [[0, 0, 0]] * 19}}, path)
    model = load_model("cityscapes/ddrnet", checkpoint=path)
    for key, value in source.state_dict().items():
        assert torch.equal(model.segmentor.state_dict()[key], value), key
    assert not any(p.requires_grad for p in model.parameters()) and model.checkpoint_path == path
    assert model(torch.rand(1, 3, 33, 47)).shape == (1, 19, 33, 47)


def test_zoo_checkpoint_key_problems_are_reported(tmp_path):
    state = build_segmentor("cityscapes/ddrnet").state_dict()
    backbone_key = next(k for k in state if k.startswith("backbone."))
    path = tmp_path / "broken.pth"
    torch.save({k: v for k, v in state.items() if k != backbone_key}, path)
    with pytest.raises(CheckpointError, match=rf"missing: {backbone_key}"):
        load_model("cityscapes/ddrnet", checkpoint=path)


def test_tiny_models_load_strictly(tmp_path):
    model = build_segmentor("synth_voc/pspnet")
    path = save_checkpoint(model, tmp_path / "tiny.pth", {"model": "synth_voc/pspnet"})
    assert load_model("synth_voc/pspnet", checkpoint=path).num_classes == 21
    state, meta = read_checkpoint(path)
    torch.save({"state_dict": {**state, "extra.weight": torch.zeros(1)}, "meta": meta}, path)
    with pytest.raises(CheckpointError, match=r"unexpected: extra\.weight"):
        load_model("synth_voc/pspnet", checkpoint=path)
    with pytest.raises(CheckpointError, match="shape mismatch"):  # 21-class weights into a 19-class model
        load_model(
            "synth_city/deeplabv3plus", checkpoint=save_checkpoint(build_segmentor("synth_voc/deeplabv3plus"), path, {})
        )


def test_missing_zoo_checkpoint_names_file_url_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("UWL_CACHE_DIR", str(tmp_path))

    def no_network(url, dst, progress=True):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(models, "download_url_to_file", no_network)
    spec = MODELS["voc/pspnet"]
    with pytest.raises(FileNotFoundError) as err:
        load_model("voc/pspnet")
    message = str(err.value)
    assert spec.checkpoint_file in message and spec.url in message and str(tmp_path) in message


def _published(monkeypatch, tmp_path, name: str = "cityscapes/ddrnet") -> tuple[dict, bytes]:
    """Random weights of ``name`` saved to bytes, and ``name``'s spec renamed to publish their true hash."""
    source = build_segmentor(name).state_dict()
    torch.save({"state_dict": source, "meta": {}}, tmp_path / "weights.pth")
    content = (tmp_path / "weights.pth").read_bytes()
    digest = hashlib.sha256(content).hexdigest()[:8]
    monkeypatch.setitem(MODELS, name, dataclasses.replace(MODELS[name], checkpoint_file=f"ddrnet_x_1-{digest}.pth"))
    monkeypatch.setenv("UWL_CACHE_DIR", str(tmp_path / "cache"))
    return source, content


def test_zoo_checkpoint_is_taken_from_the_cache_folder(tmp_path, monkeypatch):
    source, content = _published(monkeypatch, tmp_path)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / MODELS["cityscapes/ddrnet"].checkpoint_file).write_bytes(content)
    model = load_model("cityscapes/ddrnet")
    key = "backbone.stem.0.conv.weight"
    assert torch.equal(model.segmentor.state_dict()[key], source[key])


def test_published_hashes_are_read_off_the_zoo_file_names():
    assert published_hash("deeplabv3plus_r50-d8_512x1024_40k_cityscapes_20200605_094610-d222ffcd.pth") == "d222ffcd"
    assert all(len(published_hash(MODELS[name].checkpoint_file)) == 8 for name in ZOO)
    assert all(published_hash(MODELS[name].checkpoint_file) is None for name in TINY)
    assert file_sha256(__file__) == hashlib.sha256(open(__file__, "rb").read()).hexdigest()


def test_a_cached_zoo_checkpoint_of_another_hash_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("UWL_CACHE_DIR", str(tmp_path))
    spec = MODELS["voc/pspnet"]
    (tmp_path / spec.checkpoint_file).write_bytes(b"a truncated download")
    found = hashlib.sha256(b"a truncated download").hexdigest()
    with pytest.raises(CheckpointError) as err:
        load_model("voc/pspnet")
    message = str(err.value)
    assert spec.checkpoint_file in message and "expected sha256 ed5dfbd9" in message and found[:8] in message
    assert "delete it" in message and spec.url in message


def test_downloads_are_verified_and_a_bad_one_is_not_kept(tmp_path, monkeypatch):
    source, content = _published(monkeypatch, tmp_path)
    payload = [b"<html>rate limited</html>"]

    def fake_download(url, dst, progress=True):
        with open(dst, "wb") as f:
            f.write(payload[0])

    monkeypatch.setattr(models, "download_url_to_file", fake_download)
    with pytest.raises(CheckpointError, match=r"expected sha256 [0-9a-f]{8}…, found .*not kept"):
        load_model("cityscapes/ddrnet")
    assert list((tmp_path / "cache").iterdir()) == []  # neither the bad file nor a partial one stays
    payload[0] = content
    model = load_model("cityscapes/ddrnet")
    assert (tmp_path / "cache" / MODELS["cityscapes/ddrnet"].checkpoint_file).read_bytes() == content
    key = "backbone.stem.0.conv.weight"
    assert torch.equal(model.segmentor.state_dict()[key], source[key])
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [MODELS["cityscapes/ddrnet"].checkpoint_file]


def test_a_checkpoint_that_pickles_objects_is_refused_saying_why(tmp_path):
    torch.save({"state_dict": {"w": torch.ones(1)}, "meta": {"args": argparse.Namespace(a=1)}}, tmp_path / "o.pth")
    with pytest.raises(CheckpointError, match=r"o\.pth pickles Python objects besides tensors \(argparse\.Namespace\)"):
        read_checkpoint(tmp_path / "o.pth")


def test_missing_tiny_checkpoint_says_how_to_train(tmp_path, monkeypatch):
    monkeypatch.setenv("UWL_CHECKPOINT_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"python -m uwl_utils\.tools\.train synth_city/ddrnet"):
        load_model("synth_city/ddrnet")


@pytest.mark.parametrize("content", [b"not a checkpoint", b"PK\x03\x04truncated zip"])
def test_corrupt_checkpoint_gives_a_clear_error(tmp_path, content):
    path = tmp_path / "corrupt.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"corrupt\.pth.*download"):
        load_model("synth_city/bisenetv1", checkpoint=path)


def test_truncated_checkpoint_gives_a_clear_error(tmp_path):
    path = save_checkpoint(build_segmentor("synth_city/bisenetv1"), tmp_path / "cut.pth", {})
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pth"):
        read_checkpoint(path)


def test_numpy_meta_loads_with_weights_only(tmp_path):
    """numpy scalars/arrays in the meta are allowed; any other pickled object is refused with advice."""
    from mmengine.logging import HistoryBuffer

    state = {"w": torch.ones(2)}
    meta = {"epoch": np.int64(3), "mean": np.float32(0.5), "hist": np.arange(3.0)}
    torch.save({"state_dict": state, "meta": meta}, tmp_path / "numpy.pth")
    loaded, loaded_meta = read_checkpoint(tmp_path / "numpy.pth")
    assert torch.equal(loaded["w"], state["w"]) and loaded_meta["epoch"] == 3
    for name, obj in {"args": argparse.Namespace(a=1), "hub": HistoryBuffer([1.0], [1])}.items():
        torch.save({"state_dict": state, "meta": {name: obj}}, tmp_path / f"{name}.pth")
        with pytest.raises(CheckpointError, match="weights_only=False"):
            read_checkpoint(tmp_path / f"{name}.pth")


# --- memory saving: activation checkpointing and bf16 autocast ---------------------------------------------------


def _input_grad(model: SegmentationModel, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    x = images.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model(x), labels, ignore_index=255)
    return torch.autograd.grad(loss, x)[0]


@pytest.mark.parametrize("name", TINY)
def test_checkpointing_gives_the_same_gradient_and_can_be_switched_off(name):
    torch.manual_seed(0)
    model = SegmentationModel(build_segmentor(name), MODELS[name]).requires_grad_(False)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 48, 64, generator=gen)
    labels = torch.randint(0, model.num_classes, (2, 48, 64), generator=gen)
    plain = _input_grad(model, images, labels)
    blocks = models._residual_blocks(model.segmentor)
    assert blocks and all("forward" not in vars(b) for b in blocks)
    model.set_memory_saving("checkpoint")
    assert all("forward" in vars(b) for b in blocks)  # every residual block of the backbone recomputes
    saved = _input_grad(model, images, labels)
    assert (saved - plain).norm() <= 1e-5 * plain.norm()
    with torch.no_grad():  # no gradient taken: the plain forward, the same logits
        torch.testing.assert_close(model(images), model.set_memory_saving("none")(images), rtol=0, atol=0)
    assert all("forward" not in vars(b) for b in blocks) and model.memory_saving == "none"
    assert set(model.state_dict()) == set(SegmentationModel(build_segmentor(name), MODELS[name]).state_dict())


def test_bf16_autocast_keeps_the_gradient_direction_and_float32_logits():
    torch.manual_seed(0)
    name = "synth_city/deeplabv3plus"
    model = SegmentationModel(build_segmentor(name), MODELS[name]).requires_grad_(False)
    gen = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, 48, 64, generator=gen)
    labels = torch.randint(0, 19, (2, 48, 64), generator=gen)
    plain = _input_grad(model, images, labels)
    model.set_memory_saving("checkpoint+bf16")
    assert model(images).dtype == torch.float32
    low = _input_grad(model, images, labels)
    cosine = (low * plain).sum() / (low.norm() * plain.norm())
    assert 0.9 < cosine < 1 - 1e-6  # close, but not the float32 gradient
    with pytest.raises(ValueError, match="memory_saving"):
        model.set_memory_saving("fp8")
    with pytest.raises(ValueError, match="memory_saving"):
        load_model(name, memory_saving="half")


def test_random_model_with_backbone_overrides():
    model = models.random_model("synth_city/deeplabv3plus", overrides={"backbone": {"depth": 34}})
    assert model.segmentor.backbone.depth == 34 and not any(p.requires_grad for p in model.parameters())
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 19, 32, 32)
