"""Training of the tiny embedded models (uwl_utils.tools.train): checkpoint + JSON, resume, settings checks.

The runs are 6 steps of tiny BiSeNetV1 on 4 synthetic train images of 32x64 (rendered once, kept in a list),
scored on 2 val images, so a run takes a few seconds on CPU.
"""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

import uwl_utils.tools.train as train_module
from uwl_utils.data import load_dataset
from uwl_utils.data.classes import CITYSCAPES_CLASSES
from uwl_utils.models import load_model, read_checkpoint
from uwl_utils.tools.train import TrainConfig, _augment, _lr_factor, evaluate, main, train

NAME = "synth_city/bisenetv1"
SIZE = (32, 64)


def _config(out, **changes) -> TrainConfig:
    settings = dict(
        name=NAME, steps=6, batch_size=2, lr=5e-3, warmup=2, train_images=4, val_images=2, save_every=3, out=str(out)
    )
    return TrainConfig(**{**settings, **changes})


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    """(train items, val items): lists of dataset items, which ``train`` accepts as data sets."""
    train_set = load_dataset("synth_city", "train", size=SIZE)
    val_set = load_dataset("synth_city", "val", size=SIZE)
    return [train_set[i] for i in range(4)], [val_set[i] for i in range(2)]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, data):
    """An uninterrupted run: (checkpoint path, train()'s result)."""
    out = tmp_path_factory.mktemp("full") / "m.pth"
    return out, train(_config(out), train_set=data[0], val_set=data[1])


def test_run_saves_a_loadable_checkpoint(full_run, data):
    out, result = full_run
    assert out.is_file()
    assert not out.with_name("m.pth.resume").exists()  # written at step 3, removed at the end
    model = load_model(NAME, checkpoint=out)
    state, meta = read_checkpoint(out)
    own = model.segmentor.state_dict()
    assert own.keys() == state.keys() and all(torch.equal(own[k], state[k]) for k in state)
    images = torch.stack([item["image"] for item in data[1]])
    logits = model(images)
    assert logits.shape == (2, 19, *SIZE) and torch.isfinite(logits).all()
    # the saved weights are the ones that were scored
    assert evaluate(model, data[1], 2)["val_miou"] == pytest.approx(result["val_miou"], abs=1e-9)
    assert meta["val_miou"] == result["val_miou"]


def test_run_writes_the_metrics_json(full_run):
    out, result = full_run
    written = json.loads(out.with_suffix(".json").read_text())
    _, meta = read_checkpoint(out)
    assert written == meta == {k: v for k, v in result.items() if k != "losses"}
    assert written["model"] == NAME
    assert (written["steps"], written["batch_size"], written["lr"], written["warmup"]) == (6, 2, 5e-3, 2)
    assert (written["train_images"], written["val_images"], written["seed"]) == (4, 2, 0)
    assert 0 <= written["val_miou"] <= 1 and 0 <= written["val_pixel_accuracy"] <= 1
    assert list(written["val_iou"]) == list(CITYSCAPES_CLASSES) and written["num_parameters"] > 100_000
    assert {"train_seconds", "mmseg_version", "torch_version", "weight_decay"} <= set(written)
    assert written["final_loss"] == pytest.approx(sum(result["losses"]) / 6)


def test_losses_are_finite_and_fall(full_run):
    losses = full_run[1]["losses"]
    assert len(losses) == 6 and all(math.isfinite(v) and v > 0 for v in losses)
    assert sum(losses[-2:]) < sum(losses[:2])  # 6 steps at lr 5e-3 on 4 images already lower the loss


class Interrupted(Exception):
    """Stands for the process being killed right after a periodic save."""


def test_resume_after_interruption_gives_the_same_weights(tmp_path, data, full_run, monkeypatch):
    full_out, full = full_run
    out = tmp_path / "new" / "folder" / "m.pth"  # the folder does not exist yet
    resume_file = out.with_name("m.pth.resume")
    save_state = train_module._save_state

    def save_then_die(*args, **kwargs):
        save_state(*args, **kwargs)
        raise Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(train_module, "_save_state", save_then_die)
        with pytest.raises(Interrupted):
            train(_config(out), train_set=data[0], val_set=data[1])
    assert resume_file.is_file() and not out.exists()
    state = torch.load(resume_file, map_location="cpu", weights_only=True)
    assert state["step"] == 3 and state["losses"] == full["losses"][:3]
    assert state["config"] == _config(out).resume_fields()

    # other settings: refused, naming the saved and the new value; the resume file is kept
    with pytest.raises(ValueError, match="different settings") as err:
        train(_config(out, lr=1e-2), resume=True, train_set=data[0], val_set=data[1])
    saved = re.search(r"saved: +(\{.*\})", str(err.value)).group(1)
    now = re.search(r"now: +(\{.*\})", str(err.value)).group(1)
    assert "'lr': 0.005" in saved and "'lr': 0.01" in now
    assert str(resume_file) in str(err.value) and resume_file.is_file()

    # out and save_every may change; the rest must match
    result = train(_config(out, save_every=100), resume=True, train_set=data[0], val_set=data[1])
    assert result["losses"] == full["losses"]
    assert not resume_file.exists()
    resumed, _ = read_checkpoint(out)
    uninterrupted, _ = read_checkpoint(full_out)
    assert resumed.keys() == uninterrupted.keys()
    different = [k for k in resumed if not torch.equal(resumed[k], uninterrupted[k])]
    assert not different, f"weights differ after resuming: {different[:5]}"
    assert result["val_miou"] == full["val_miou"]


@pytest.mark.parametrize("name", ["cityscapes/bisenetv1", "voc/pspnet"])
def test_zoo_models_are_not_trained(name, tmp_path):
    with pytest.raises(ValueError, match=rf"{name} is a zoo model; train.py trains only the tiny"):
        train(TrainConfig(name=name, out=str(tmp_path / "x.pth")))
    assert not list(tmp_path.iterdir())


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match=r"unknown model 'synth_city/unet'; known models: .*synth_city/bisenetv1"):
        train(TrainConfig(name="synth_city/unet"))


def test_lr_factor_warmup_then_poly():
    cfg = TrainConfig(name=NAME, steps=14, warmup=4)
    assert [_lr_factor(s, cfg) for s in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert _lr_factor(4, cfg) == pytest.approx(1.0)
    assert _lr_factor(9, cfg) == pytest.approx(0.5**0.9)  # 5 of 10 decay steps done
    assert _lr_factor(13, cfg) == pytest.approx(0.1**0.9)  # the last step
    assert _lr_factor(14, cfg) == pytest.approx(0.0)
    no_warmup = TrainConfig(name=NAME, steps=10, warmup=0)
    assert _lr_factor(0, no_warmup) == 1.0 and _lr_factor(5, no_warmup) == pytest.approx(0.5**0.9)
    defaults = TrainConfig(name=NAME)  # 3000 steps, 50 warm-up
    assert _lr_factor(0, defaults) == pytest.approx(1 / 50) and _lr_factor(49, defaults) == 1.0
    assert _lr_factor(1525, defaults) == pytest.approx(0.5**0.9)


def test_noise_augmentation_is_bounded_and_off_by_default():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (16, 3, 8, 8), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 19, (16, 8, 8), generator=g, dtype=torch.uint8)
    plain_x, plain_y = _augment(images, labels, torch.Generator().manual_seed(5))
    off_x, off_y = _augment(images, labels, torch.Generator().manual_seed(5), noise=0.0)
    assert torch.equal(plain_x, off_x) and torch.equal(plain_y, off_y)  # same generator stream without noise

    # With noise the geometric and photometric draws of each image come first, so comparing image i with
    # noise against the same draws without it isolates the noise: replay one image at a time.
    eps = 8 / 255
    changed = 0
    for i in range(16):
        g_plain, g_noisy = torch.Generator().manual_seed(100 + i), torch.Generator().manual_seed(100 + i)
        x0, y0 = _augment(images[i : i + 1], labels[i : i + 1], g_plain)
        x1, y1 = _augment(images[i : i + 1], labels[i : i + 1], g_noisy, noise=eps)
        assert torch.equal(y0, y1) and x1.min() >= 0 and x1.max() <= 1
        diff = (x1 - x0).abs().max().item()
        assert diff <= eps + 1e-6
        changed += diff > eps / 2
    assert 3 <= changed <= 13  # about half the images get noise


def test_config_resume_fields_and_default_output(tmp_path, monkeypatch):
    cfg = TrainConfig(name=NAME)
    assert set(cfg.resume_fields()) == {
        "name", "steps", "batch_size", "lr", "weight_decay", "warmup", "seed", "train_images", "noise", "val_images"
    }  # fmt: skip
    monkeypatch.setenv("UWL_CHECKPOINT_DIR", str(tmp_path))
    assert cfg.output_path() == tmp_path / "synth_city_bisenetv1.pth"
    assert TrainConfig(name=NAME, out="x/y.pth").output_path().as_posix() == "x/y.pth"


def test_command_line(monkeypatch, capsys):
    calls = []

    def fake_train(cfg, resume=False):
        calls.append((cfg, resume))
        return {
            "model": cfg.name, "steps": cfg.steps, "train_seconds": 1.0, "final_loss": 0.5, "val_images": 2,
            "val_miou": 0.6, "val_pixel_accuracy": 0.9, "val_iou": {},
        }  # fmt: skip

    monkeypatch.setattr(train_module, "train", fake_train)
    main(["synth_voc/pspnet", "--steps", "10", "--batch-size", "4", "--lr", "0.01", "--noise", "0.03", "--out", "x.pth",
          "--resume"])  # fmt: skip
    cfg, resume = calls[0]
    assert resume is True
    assert cfg == TrainConfig(name="synth_voc/pspnet", steps=10, batch_size=4, lr=0.01, noise=0.03, out="x.pth")
    printed = capsys.readouterr().out
    assert "mIoU 60.0 %" in printed and "saved x.pth" in printed
