"""wrap(): a user's module behind the [0, 1]-RGB -> logits-at-input-size convention, checked by hand."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from uwl_utils.adapters import WrappedModel, state_digest, wrap
from uwl_utils.experiment import model_identity
from uwl_utils.models import wrap as wrap_from_models

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class Net(nn.Module):
    """Conv-BN-conv with 5 classes; ``stride`` > 1 gives logits at 1/stride of the input size."""

    def __init__(self, stride: int = 1, classes: int = 5) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 6, 3, stride=stride, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.head = nn.Conv2d(6, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.bn(self.conv(x))))


class DictNet(Net):
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = super().forward(x)
        return {"out": logits, "aux": logits[:, :2]}


@dataclass
class Prediction:
    logits: torch.Tensor
    features: torch.Tensor


class DataclassNet(Net):
    def forward(self, x: torch.Tensor) -> Prediction:
        return Prediction(super().forward(x), x)


class NeedsMultipleOf8(Net):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-2] % 8 == 0 and x.shape[-1] % 8 == 0, "H and W must divide 8"
        return super().forward(x)


def _images(h: int = 20, w: int = 28) -> torch.Tensor:
    return torch.rand(2, 3, h, w, generator=torch.Generator().manual_seed(3))


def _normalised(x: torch.Tensor) -> torch.Tensor:
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def test_wrap_normalises_inside_and_is_the_models_wrap():
    net = Net().eval()
    model = wrap_from_models(net, mean=MEAN, std=STD, name="mine")
    x = _images()
    torch.testing.assert_close(model(x), net(_normalised(x)), rtol=0, atol=0)
    assert isinstance(model, WrappedModel) and model.num_classes == 5 and model.name == "mine"
    assert model.class_names == tuple(f"class {k}" for k in range(5)) and len(set(model.palette)) == 5
    assert wrap_from_models is wrap


@pytest.mark.parametrize(("net", "output"), [(DictNet(), "out"), (DataclassNet(), "logits"), (DictNet(), None)])
def test_dict_and_dataclass_outputs_are_selected_by_key_or_attribute(net, output):
    x = _images()
    if output is None:  # a dict without output= is refused at wrap time, naming its keys
        with pytest.raises(TypeError, match=r"keys \['out', 'aux'\].*output="):
            wrap(net)
        return
    model = wrap(net, output=output)
    torch.testing.assert_close(model(x), Net().eval()(x), rtol=0, atol=0)


def test_a_tuple_output_by_index_and_a_function():
    class TupleNet(Net):
        def forward(self, x):
            return x, super().forward(x)

    x = _images()
    expected = Net().eval()(x)
    torch.testing.assert_close(wrap(TupleNet(), output=1)(x), expected)
    torch.testing.assert_close(wrap(TupleNet(), output=lambda out: out[1])(x), expected)
    with pytest.raises(TypeError, match="no output='logits'"):
        wrap(TupleNet(), output="logits")


def test_quarter_resolution_logits_are_resized_bilinearly_to_the_input_size():
    net = Net(stride=4).eval()
    x = _images(20, 28)
    low = net(x)
    assert low.shape[-2:] == (5, 7)
    expected = F.interpolate(low, size=(20, 28), mode="bilinear", align_corners=False)
    torch.testing.assert_close(wrap(net)(x), expected, rtol=0, atol=0)


def test_a_size_divisor_pads_black_at_the_bottom_right_and_crops_back():
    net = NeedsMultipleOf8().eval()
    x = _images(20, 28)
    with pytest.raises(AssertionError, match="divide 8"):
        wrap(net)(x)
    padded = torch.zeros(2, 3, 24, 32)
    padded[..., :20, :28] = x
    expected = net(padded)[..., :20, :28]
    torch.testing.assert_close(wrap(net, size_divisor=8)(x), expected, rtol=0, atol=0)


def test_the_wrapped_module_runs_in_eval_mode_and_keeps_its_own_mode_and_statistics():
    net = Net().train()
    before = copy.deepcopy(net.state_dict())
    model = wrap(net)
    out = model(_images())
    torch.testing.assert_close(out, copy.deepcopy(net).eval()(_images()), rtol=0, atol=0)
    assert net.training and net.bn.training  # the user's flags, as they were
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())  # running stats untouched
    assert model.train() is model and not model.training


def test_bad_settings_fail_at_wrap_time_with_what_to_change():
    with pytest.raises(ValueError, match="0-255 units"):
        wrap(Net(), mean=(123.7, 116.3, 103.5))
    with pytest.raises(ValueError, match="outputs 5 channels but num_classes/classes say 19"):
        wrap(Net(), classes="cityscapes")
    with pytest.raises(ValueError, match="num_classes=4 but classes"):
        wrap(Net(), num_classes=4, classes=["a", "b", "c", "d", "e"])
    with pytest.raises(ValueError, match="size_divisor"):
        wrap(Net(), size_divisor=0)
    with pytest.raises(TypeError, match="nn.Module"):
        wrap(lambda x: x)


def test_a_label_space_gives_names_and_palette():
    model = wrap(Net(classes=19), classes="cityscapes")
    assert model.class_names[:2] == ("road", "sidewalk") and model.palette[0] == (128, 64, 128)


def test_the_state_digest_is_the_models_identity_and_changes_with_any_weight():
    a, b = wrap(Net(), name="mine"), wrap(Net(), name="mine")
    assert a.state_digest() == b.state_digest() and len(a.state_digest()) == 16
    assert model_identity(a, "mine") == {"model": "mine", "checkpoint": a.state_digest()}
    with torch.no_grad():
        b.module.head.bias[0] += 1e-3
    assert a.state_digest() != b.state_digest()
    assert wrap(Net(), mean=MEAN, std=STD).state_digest() != a.state_digest()  # normalisation is part of it
    assert state_digest(Net()) == state_digest(Net()) != state_digest(Net(classes=4))
