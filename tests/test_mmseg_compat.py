"""The pure-PyTorch mmcv.ops stand-in: numerics against hand-computed values, errors, and mmseg on top of it."""

from __future__ import annotations

import math

import pytest
import torch

import uwl_utils  # noqa: F401  (installs the stand-in before mmseg is imported)
from uwl_utils import mmseg_compat
from uwl_utils.models import MODELS, build_segmentor


def test_stand_in_is_active_and_idempotent():
    import mmcv.ops

    assert isinstance(mmcv.ops, mmseg_compat._OpsStandIn)
    assert mmseg_compat.install() is True
    assert mmcv.ops.point_sample is mmseg_compat.point_sample


def test_mmseg_imports_and_init_model_works():
    from mmseg.apis import init_model

    from uwl_utils.models import build_config

    model = init_model(build_config("synth_city/bisenetv1"), checkpoint=None, device="cpu")
    assert model.decode_head.num_classes == 19


def test_point_sample_interpolates_bilinearly():
    # 2x2 image with pixel centres at normalised (0.25, 0.25), (0.75, 0.25), ...; align_corners=False.
    image = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    points = torch.tensor([[[0.25, 0.25], [0.75, 0.75], [0.5, 0.5], [0.5, 0.25]]])  # (x, y)
    out = mmseg_compat.point_sample(image, points)
    assert out.shape == (1, 1, 4)
    torch.testing.assert_close(out[0, 0], torch.tensor([0.0, 3.0, 1.5, 0.5]))
    grid = points.view(1, 2, 2, 2)
    assert mmseg_compat.point_sample(image, grid).shape == (1, 1, 2, 2)


def _focal_by_hand(pred: torch.Tensor, target: torch.Tensor, gamma: float, alpha: float) -> torch.Tensor:
    total = 0.0
    for i in range(pred.shape[0]):
        for c in range(pred.shape[1]):
            p = 1.0 / (1.0 + math.exp(-pred[i, c].item()))
            if target[i].item() == c:
                total += -alpha * (1 - p) ** gamma * math.log(p)
            else:
                total += -(1 - alpha) * p**gamma * math.log(1 - p)
    return torch.tensor(total / pred.shape[0])


def test_sigmoid_focal_loss_matches_the_formula():
    pred = torch.tensor([[0.3, -1.2, 2.0], [-0.5, 0.8, 0.1], [1.5, 0.0, -2.0]])
    target = torch.tensor([0, 2, 3])  # 3 = background: no positive class
    expected = _focal_by_hand(pred, target, gamma=2.0, alpha=0.25)
    torch.testing.assert_close(mmseg_compat.sigmoid_focal_loss(pred, target), expected, rtol=1e-5, atol=1e-6)
    per_elem = mmseg_compat.sigmoid_focal_loss(pred, target, reduction="none")
    weighted = mmseg_compat.sigmoid_focal_loss(pred, target, weight=torch.tensor([2.0, 1.0, 1.0]), reduction="sum")
    torch.testing.assert_close(weighted, per_elem.sum() + per_elem[0].sum())


def test_other_ops_name_the_op_and_the_build():
    import mmcv.ops

    with pytest.raises(ModuleNotFoundError, match=r"mmcv\.ops\.DeformConv2d.*mmcv-lite.*pip install mmcv"):
        mmcv.ops.DeformConv2d  # noqa: B018
    with pytest.raises(ImportError):  # mmseg's optional imports use `except ImportError`
        from mmcv.ops import MultiScaleDeformableAttention  # noqa: F401


@pytest.mark.parametrize("name", [n for n, spec in MODELS.items() if not spec.tiny])
def test_paper_configs_build_and_run_forward_backward(name):
    """The five paper models (full width, random weights) build from mmseg 1.2.2 configs on this CPU stack."""
    from uwl_utils.models import SegmentationModel

    torch.manual_seed(0)
    model = SegmentationModel(build_segmentor(name), MODELS[name])
    images = torch.rand(1, 3, 64, 96, requires_grad=True)
    logits = model(images)
    assert logits.shape == (1, model.num_classes, 64, 96) and torch.isfinite(logits).all()
    logits.logsumexp(1).mean().backward()
    assert images.grad.abs().sum() > 0


def test_the_mmcv_lite_warning_is_silenced_once_and_nothing_else():
    """In a fresh interpreter that shows every warning: importing mmseg's API (which imports mmcv's transformer
    bricks) prints no MultiScaleDeformableAttention warning, another warning still shows, and a second install
    adds no second filter."""
    import subprocess
    import sys

    code = (
        "import warnings; import uwl_utils; from uwl_utils import mmseg_compat; mmseg_compat.install(); "
        "warnings.warn('another warning'); from mmseg.apis import init_model; "
        "print(sum(f[1] is not None and f[1].pattern == mmseg_compat.MMCV_LITE_WARNING for f in warnings.filters))"
    )
    done = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, check=True)
    assert "mmcv/cnn/bricks/transformer.py" not in done.stderr and "MultiScaleDeformableAttention" not in done.stderr
    assert "another warning" in done.stderr and done.stdout.strip() == "1"
