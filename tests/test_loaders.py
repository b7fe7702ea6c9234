"""Each loader's model, attacked by I-FGSM, PGD and ALMA prox with `none` and `L0`: the module comes back as it
was, and the adversarials equal those of the same module wrapped by hand (random weights, nothing downloaded)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from uwl_utils.adapters import wrap
from uwl_utils.attacks import alma_prox, ifgsm, pgd
from uwl_utils.loaders import IMAGENET_MEAN, IMAGENET_STD, mmseg_model, segformer_model, smp_model

ATTACKS = [(ifgsm, {"eps": 4 / 255, "steps": 2}), (pgd, {"eps": 4 / 255, "steps": 2}), (alma_prox, {"steps": 3})]
WEIGHTINGS = ["none", "L0"]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "own_model"
TINY_SEGFORMER = json.loads((EXAMPLES / "segformer_tiny.json").read_text())
MMSEG_CONFIG = EXAMPLES / "my_fcn.py"  # a config of the user's own (a tiny FCN), not one of mmseg's packaged files


class ByHand(nn.Module):
    """The convention written out for one module: pad, normalise, forward, pick the logits, resize, crop."""

    def __init__(self, module: nn.Module, mean, std, pick: Callable, divisor: int = 1) -> None:
        super().__init__()
        self.module, self.pick, self.divisor = module, pick, divisor
        self.mean, self.std = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = -(-h // self.divisor) * self.divisor, -(-w // self.divisor) * self.divisor
        padded = x.new_zeros(x.shape[0], 3, ph, pw)
        padded[..., :h, :w] = x
        logits = self.pick(self.module((padded - self.mean) / self.std))
        return F.interpolate(logits, size=(ph, pw), mode="bilinear", align_corners=False)[..., :h, :w]


class DictNet(nn.Module):
    """torchvision-style: ``{"out": logits, "aux": ...}``, with BatchNorm and Dropout."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.3))
        self.head = nn.Conv2d(8, 19, 1)

    def forward(self, x):
        features = self.body(x)
        return {"out": self.head(features), "aux": features}


class QuarterNet(nn.Module):
    """Logits at 1/4 of the input size, as SegFormer's and many heads' are."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 4, stride=4), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 19, 1))

    def forward(self, x):
        return self.body(x)


def _smp():
    if importlib.util.find_spec("segmentation_models_pytorch") is None:
        pytest.skip("segmentation-models-pytorch is not installed (extra uwl[smp]; it needs torchvision)")
    model = smp_model("Unet", "resnet18", classes="cityscapes", encoder_depth=3, decoder_channels=(16, 8, 4))
    return model, ByHand(model.module, IMAGENET_MEAN, IMAGENET_STD, lambda out: out, divisor=8)


def _segformer():
    if importlib.util.find_spec("transformers") is None:
        pytest.skip("transformers is not installed (extra uwl[segformer])")
    model = segformer_model(TINY_SEGFORMER, classes="cityscapes")
    return model, ByHand(model.module, IMAGENET_MEAN, IMAGENET_STD, lambda out: out.logits)


def _dict_output():
    model = wrap(DictNet(), output="out", mean=IMAGENET_MEAN, std=IMAGENET_STD, classes="cityscapes")
    return model, ByHand(model.module, IMAGENET_MEAN, IMAGENET_STD, lambda out: out["out"])


def _quarter_resolution():
    model = wrap(QuarterNet(), size_divisor=4)
    return model, ByHand(model.module, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), lambda out: out, divisor=4)


def _mmseg(tmp_path):
    config = MMSEG_CONFIG
    first = mmseg_model(config, classes="cityscapes")
    checkpoint = tmp_path / "my_fcn.pth"
    torch.save({"state_dict": first.module.segmentor.state_dict()}, checkpoint)
    model = mmseg_model(config, checkpoint, classes="cityscapes")  # the user's weights, read back
    assert model.checkpoint_path == checkpoint and model.size_divisor == 8
    # by hand: the segmentor's own forward (mode "tensor": the decode head's 1/8-resolution logits), resized
    mean, std = [m / 255 for m in (123.675, 116.28, 103.53)], [s / 255 for s in (58.395, 57.12, 57.375)]
    return model, ByHand(model.module.segmentor, mean, std, lambda out: out, divisor=8)


LOADERS = {"smp_unet": _smp, "segformer": _segformer, "dict_output": _dict_output,
           "quarter_resolution": _quarter_resolution, "mmseg_config": _mmseg}  # fmt: skip


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_loaded_model_is_attacked_unchanged_and_like_the_module_wrapped_by_hand(loader, tmp_path):
    build = LOADERS[loader]
    model, by_hand = build(tmp_path) if loader == "mmseg_config" else build()
    module = model.module.eval()
    images = torch.rand(2, 3, 32, 40, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        labels = model(images).argmax(1)
        torch.testing.assert_close(model(images), by_hand(images), rtol=0, atol=0)
    module.train()  # as a user may hand it over: the attacks run it in eval mode all the same
    state = {k: v.clone() for k, v in module.state_dict().items()}
    modes = [m.training for m in module.modules()]
    for attack, params in ATTACKS:
        for weighting in WEIGHTINGS:
            adv = attack(model, images, labels, weighting=weighting, **params)
            expected = attack(by_hand, images, labels, weighting=weighting, **params)
            torch.testing.assert_close(adv, expected, rtol=0, atol=0, msg=f"{attack.__name__} {weighting}")
            assert adv.shape == images.shape and not torch.equal(adv, images)
    assert [m.training for m in module.modules()] == modes and all(modes[:1])
    after = module.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in state.items())
    assert all(p.grad is None for p in module.parameters())


def test_a_missing_extra_says_which_to_install(monkeypatch):
    import uwl_utils.loaders as loaders

    def missing(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(loaders.importlib, "import_module", missing)
    with pytest.raises(ImportError, match=r"pip install 'uwl\[smp\]'"):
        smp_model(classes="cityscapes")
    with pytest.raises(ImportError, match=r"pip install 'uwl\[segformer\]'"):
        segformer_model(TINY_SEGFORMER)


def test_a_checkpoint_that_does_not_fit_is_refused_with_its_keys(tmp_path):
    from uwl_utils.models import CheckpointError

    config = MMSEG_CONFIG
    torch.save({"state_dict": {"decode_head.conv_seg.weight": torch.zeros(1)}}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="missing"):
        mmseg_model(config, tmp_path / "bad.pth")
