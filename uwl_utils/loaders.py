"""Loaders for the models researchers already have, each returning a :class:`uwl_utils.adapters.WrappedModel`.

``smp_model`` (segmentation-models-pytorch; extra ``uwl[smp]``), ``segformer_model`` (Hugging Face
transformers' SegFormer built from a config, no hub access; extra ``uwl[segformer]``) and ``mmseg_model`` (an
mmseg config file of the user's own and its checkpoint; mmseg is a core dependency). Weights are random unless
``checkpoint`` names a local file, read with ``weights_only=True`` (:func:`uwl_utils.models.read_checkpoint`)
and loaded strictly; the file's content hash is then the model's identity in result rows.
"""

from __future__ import annotations

import importlib
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from uwl_utils.adapters import LABEL_SPACES, WrappedModel, wrap

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "smp_model", "segformer_model", "mmseg_model"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Classes = str | Sequence[str] | None


def _require(module: str, extra: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"this loader needs {module}: pip install 'uwl[{extra}]' ({err})") from err


def _num_outputs(classes: Classes, num_classes: int | None) -> int:
    """The number of output channels to build: ``num_classes``, else the size of ``classes``."""
    if num_classes is not None:
        return int(num_classes)
    if classes is None:
        raise ValueError("give num_classes or classes (a label space such as 'cityscapes', or a list of names)")
    return len(LABEL_SPACES[classes][0]) if isinstance(classes, str) and classes in LABEL_SPACES else len(classes)


def _load_checkpoint(module: nn.Module, checkpoint: str | Path | None) -> Path | None:
    """Load a local checkpoint into ``module`` strictly; a clear error names the keys that do not fit."""
    if checkpoint is None:
        return None
    from uwl_utils.models import CheckpointError, read_checkpoint

    path = Path(checkpoint)
    state, _ = read_checkpoint(path)
    own = module.state_dict()
    problems = {
        "missing": sorted(set(own) - set(state)),
        "unexpected": sorted(set(state) - set(own)),
        "shape mismatch": [k for k in own if k in state and own[k].shape != state[k].shape],
    }
    if any(problems.values()):
        details = "; ".join(f"{what}: {keys[:8]}" for what, keys in problems.items() if keys)
        raise CheckpointError(f"checkpoint {path} does not fit {type(module).__name__} ({details})")
    module.load_state_dict(state)
    return path


def _finish(wrapped: WrappedModel, path: Path | None) -> WrappedModel:
    if path is not None:
        wrapped.checkpoint_path = path  # model_identity hashes the file, as for the registered models
    return wrapped


def smp_model(
    arch: str = "Unet",
    encoder_name: str = "resnet18",
    *,
    classes: Classes = None,
    num_classes: int | None = None,
    checkpoint: str | Path | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> WrappedModel:
    """A segmentation-models-pytorch network (``smp.create_model``, ``encoder_weights=None``: nothing is
    downloaded) with ImageNet normalisation and the input padded to multiples of 2^encoder_depth."""
    smp = _require("segmentation_models_pytorch", "smp")
    n = _num_outputs(classes, num_classes)
    net = smp.create_model(arch, encoder_name=encoder_name, encoder_weights=None, classes=n, **kwargs)
    path = _load_checkpoint(net, checkpoint)
    divisor = 2 ** int(kwargs.get("encoder_depth", 5))
    wrapped = wrap(net, mean=IMAGENET_MEAN, std=IMAGENET_STD, num_classes=n, classes=classes,
                   name=name or f"smp/{arch}-{encoder_name}", size_divisor=divisor)  # fmt: skip
    return _finish(wrapped, path)


def segformer_model(
    config: Mapping[str, Any] | str | Path,
    *,
    classes: Classes = None,
    num_classes: int | None = None,
    checkpoint: str | Path | None = None,
    name: str | None = None,
) -> WrappedModel:
    """A Hugging Face SegFormer built from a config (a mapping of ``SegformerConfig`` fields or a
    ``config.json`` path; no hub access) with ImageNet normalisation; its 1/4-resolution logits are resized
    bilinearly to the input size. ``classes`` / ``num_classes`` override the config's ``num_labels``."""
    transformers = _require("transformers", "segformer")
    fields = dict(config) if isinstance(config, Mapping) else json.loads(Path(config).read_text())
    if classes is not None or num_classes is not None:  # the label maps would contradict the new count
        fields = {k: v for k, v in fields.items() if k not in ("id2label", "label2id")}
        fields["num_labels"] = _num_outputs(classes, num_classes)
    cfg = transformers.SegformerConfig(**fields)
    net = transformers.SegformerForSemanticSegmentation(cfg)
    path = _load_checkpoint(net, checkpoint)
    wrapped = wrap(net, mean=IMAGENET_MEAN, std=IMAGENET_STD, output="logits", num_classes=cfg.num_labels,
                   classes=classes, name=name or "segformer")  # fmt: skip
    return _finish(wrapped, path)


class _MMSegLogits(nn.Module):
    """An mmseg segmentor's ``encode_decode`` as a module: normalised images -> logits at the input size."""

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        shape = tuple(images.shape[-2:])
        metas = [dict(img_shape=shape, ori_shape=shape, pad_shape=shape)] * images.shape[0]
        return self.segmentor.encode_decode(images, metas)


def mmseg_model(
    config: str | Path,
    checkpoint: str | Path | None = None,
    *,
    classes: Classes = None,
    name: str | None = None,
    size_divisor: int = 1,
) -> WrappedModel:
    """An mmseg 1.x model from the user's own config file (and checkpoint), SyncBN reverted to BN; the config's
    ``data_preprocessor`` mean/std (0-255, RGB order) normalise its input and its ``size_divisor`` pads it."""
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmseg.apis import init_model

    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"mmseg config {path} does not exist")
    cfg = Config.fromfile(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        segmentor = revert_sync_batchnorm(init_model(cfg, None, device="cpu"))
    ckpt = _load_checkpoint(segmentor, checkpoint)
    pre = cfg.model.get("data_preprocessor") or {}
    mean = [m / 255 for m in pre.get("mean", (0.0, 0.0, 0.0))]
    std = [s / 255 for s in pre.get("std", (255.0, 255.0, 255.0))]
    divisor = max(size_divisor, int(pre.get("size_divisor") or 1))
    wrapped = wrap(_MMSegLogits(segmentor), mean=mean, std=std, classes=classes, name=name or path.stem,
                   size_divisor=divisor)  # fmt: skip
    return _finish(wrapped, ckpt)
