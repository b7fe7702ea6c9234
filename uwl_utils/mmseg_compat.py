"""Make mmsegmentation importable on mmcv-lite (no compiled ``mmcv._ext``).

mmseg 1.2.2 imports two compiled mmcv ops at module level, on every import path:
``point_sample`` (``mmseg.utils.mask_classification``, ``mmseg.models.utils.point_sample``,
``san_head``) and ``sigmoid_focal_loss`` (``mmseg.models.losses.focal_loss``). None of the models this
project uses calls either of them in a forward pass. This module registers a small stand-in
``mmcv.ops`` module that provides both in pure PyTorch; every other name of ``mmcv.ops`` raises a
``ModuleNotFoundError`` that names the op and the build that provides it (mmseg's optional imports,
guarded by ``except ImportError``, keep working).

Where a compiled mmcv (``mmcv._ext``) is installed, nothing is replaced. :func:`install` runs once,
from ``uwl_utils/__init__.py``, before anything imports mmseg.
"""

from __future__ import annotations

import importlib.util
import sys
import types
import warnings

import torch
import torch.nn.functional as F

__all__ = ["install", "point_sample", "sigmoid_focal_loss", "PROVIDED_OPS", "MMCV_LITE_WARNING"]

PROVIDED_OPS = ("point_sample", "sigmoid_focal_loss")

# mmcv-lite's mmcv/cnn/bricks/transformer.py warns at import that the compiled MultiScaleDeformableAttention is
# missing. No model of this project uses that op (Mask2Former-style heads would, and they get the clear error of
# _OpsStandIn), so the warning says nothing a user can act on; notebooks showed it as a red stderr box.
MMCV_LITE_WARNING = r"Fail to import ``MultiScaleDeformableAttention``"


def point_sample(input: torch.Tensor, points: torch.Tensor, align_corners: bool = False, **kwargs) -> torch.Tensor:
    """Sample ``input`` [N,C,H,W] at normalised points [N,P,2] or [N,Hp,Wp,2] in [0, 1] (x, y).

    Same contract as ``mmcv.ops.point_sample``: bilinear ``grid_sample`` with the points mapped from
    [0, 1] to [-1, 1]; returns [N,C,P] (or [N,C,Hp,Wp]).
    """
    add_dim = points.dim() == 3
    if add_dim:
        points = points.unsqueeze(2)
    out = F.grid_sample(input, 2.0 * points - 1.0, align_corners=align_corners, **kwargs)
    return out.squeeze(3) if add_dim else out


def sigmoid_focal_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 2.0,
    alpha: float = 0.25,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Sigmoid focal loss (Lin et al. 2017) with integer class targets, as ``mmcv.ops.sigmoid_focal_loss``.

    ``pred`` [N,C] logits, ``target`` [N] class indices (index C means background: all-zero one-hot),
    ``weight`` [C] per-class weights applied to each sample's row by its target class; ``"mean"`` divides
    the sum by N, as the compiled op does.
    """
    num_classes = pred.size(1)
    one_hot = F.one_hot(target.clamp(max=num_classes), num_classes + 1)[:, :num_classes].to(pred.dtype)
    p = pred.sigmoid()
    pt = (1 - p) * one_hot + p * (1 - one_hot)
    focal_weight = (alpha * one_hot + (1 - alpha) * (1 - one_hot)) * pt.pow(gamma)
    loss = F.binary_cross_entropy_with_logits(pred, one_hot, reduction="none") * focal_weight
    if weight is not None:
        loss = loss * F.pad(weight, (0, 1), value=1.0)[target].view(-1, 1)
    if reduction == "mean":
        return loss.sum() / pred.size(0)
    if reduction == "sum":
        return loss.sum()
    return loss


class _OpsStandIn(types.ModuleType):
    """``mmcv.ops`` without compiled kernels: two pure-PyTorch ops, a clear error for the rest."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise ModuleNotFoundError(
            f"mmcv.ops.{name} needs mmcv's compiled extension, which mmcv-lite does not have. "
            f"uwl_utils.mmseg_compat provides only {', '.join(PROVIDED_OPS)}. Install the full build "
            "(`pip install mmcv==2.1.0 -f https://download.openmmlab.com/mmcv/dist/<cuda>/<torch>/index.html`, "
            "see https://mmcv.readthedocs.io/en/latest/get_started/installation.html) to use this op.",
            name=f"mmcv.ops.{name}",
        )


def _has_compiled_mmcv() -> bool:
    try:
        return importlib.util.find_spec("mmcv._ext") is not None
    except ModuleNotFoundError:  # mmcv itself missing
        return False


def install() -> bool:
    """Register the stand-in ``mmcv.ops`` unless a compiled mmcv is present. Idempotent.

    Returns True when the stand-in is (now) active.
    """
    current = sys.modules.get("mmcv.ops")
    if isinstance(current, _OpsStandIn):
        return True
    if current is not None or _has_compiled_mmcv():
        return False
    import mmcv  # the package itself is pure Python in mmcv-lite

    # once, with the stand-in (install returns above on every later call): only this message, only from there
    warnings.filterwarnings("ignore", MMCV_LITE_WARNING, UserWarning, r"mmcv\.cnn\.bricks\.transformer")
    ops = _OpsStandIn("mmcv.ops", __doc__)
    ops.point_sample = point_sample
    ops.sigmoid_focal_loss = sigmoid_focal_loss
    sys.modules["mmcv.ops"] = ops
    mmcv.ops = ops
    return True
