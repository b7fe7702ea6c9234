"""Model registry and the [0,1]-RGB wrapper around mmseg 1.2.2 segmentors.

Names are ``"<dataset>/<architecture>"``: the paper's zoo (``cityscapes/*``, ``voc/*``, published mmseg
checkpoints) and the embedded default's tiny models of the same families (``synth_city/*``,
``synth_voc/*``, checkpoints committed under ``data/checkpoints/``). ``load_model`` returns a
:class:`SegmentationModel`: images [N,3,H,W] RGB in [0,1] in, logits [N,C,H,W] at the input size out,
normalisation inside, always in eval mode with frozen weights (ready for attacks). A user's own network goes
behind the same convention with :func:`wrap` (:mod:`uwl_utils.adapters`); names registered from a user's
registry file or module (:mod:`uwl_utils.user_models`) load through ``load_model`` like the package's own.

Checkpoint files are always read with ``torch.load(..., weights_only=True)``; see :func:`read_checkpoint`.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pickle
import re
import types
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn
from torch.hub import download_url_to_file

from uwl_utils.adapters import LABEL_SPACES, WrappedModel, wrap
from uwl_utils.checks import IGNORE_INDEX, resolve_device
from uwl_utils.files import atomic_write

__all__ = [
    "MODELS",
    "MEMORY_SAVING",
    "CheckpointError",
    "ModelSpec",
    "SegmentationModel",
    "WrappedModel",
    "build_config",
    "build_segmentor",
    "checkpoint_path",
    "file_sha256",
    "get_spec",
    "load_model",
    "random_model",
    "published_hash",
    "read_checkpoint",
    "save_checkpoint",
    "verify_checkpoint",
    "wrap",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
ZOO_URL = "https://download.openmmlab.com/mmsegmentation/v0.5/"

_LABEL_SPACES = LABEL_SPACES  # data set -> (class names, palette)


@dataclass(frozen=True)
class ModelSpec:
    """One entry of :data:`MODELS`.

    ``config`` is relative to mmseg's packaged ``mmseg/.mim/configs/``; ``overrides`` is merged into the
    config's ``model`` (mmengine ``merge_from_dict`` semantics: dicts merge, lists are replaced).
    Zoo models carry the published ``url`` / ``published_miou`` (mmseg metafile) / ``paper_miou``; tiny
    models have ``url=None`` and a committed checkpoint ``data/checkpoints/<checkpoint_file>``.
    ``size_divisor``: the network needs H and W divisible by it (DDRNet: 8); the wrapper pads and crops.
    """

    name: str
    dataset: str
    architecture: str
    config: str
    num_classes: int
    checkpoint_file: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    url: str | None = None
    published_miou: float | None = None
    paper_miou: float | None = None
    size_divisor: int = 1

    @property
    def tiny(self) -> bool:
        """True for the embedded default's models (committed checkpoints, no URL)."""
        return self.url is None


def _zoo(
    name: str,
    config: str,
    num_classes: int,
    url_path: str,
    published: float,
    paper: float,
    size_divisor: int = 1,
) -> ModelSpec:
    dataset, arch = name.split("/")
    return ModelSpec(
        name=name,
        dataset=dataset,
        architecture=arch,
        config=config,
        num_classes=num_classes,
        checkpoint_file=url_path.rsplit("/", 1)[1],
        url=ZOO_URL + url_path,
        published_miou=published,
        paper_miou=paper,
        size_divisor=size_divisor,
    )


_BN = dict(type="BN", requires_grad=True)
# Tiny variants (docs/data_and_models.md §Tiny models): narrow, shallow, BN instead of SyncBN. The losses are
# the training recipe's "decode CE + 0.4 x auxiliary CE"; losses do not change inference. BiSeNet's two aux
# heads get weight 0.4 (config: 1.0). DDRNet's class-weighted OHEM losses become plain CE: DDRHead does not
# pass ignore_index to CrossEntropyLoss, so it stays an OhemCrossEntropy (ignore 255) whose threshold 2
# keeps every valid pixel (softmax probabilities are <= 1).
_AUX_CE = dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=0.4)
_DDR_CE = dict(type="OhemCrossEntropy", thres=2.0, min_kept=1, loss_weight=1.0)


def _tiny_resnet18_head(decode_head: dict[str, Any], num_classes: int, **extra: Any) -> dict[str, Any]:
    """Overrides for a ResNet-18 (base/stem 16) backbone + ``decode_head`` + FCN aux head."""
    return dict(
        extra,
        backbone=dict(depth=18, base_channels=16, stem_channels=16, norm_cfg=_BN),
        decode_head=dict(decode_head, num_classes=num_classes, norm_cfg=_BN),
        auxiliary_head=dict(in_channels=64, channels=16, num_classes=num_classes, norm_cfg=_BN),
    )


def _tiny_bisenetv1(num_classes: int) -> dict[str, Any]:
    aux = dict(
        type="FCNHead", in_channels=32, channels=16, num_convs=1, num_classes=num_classes,
        norm_cfg=_BN, concat_input=False, align_corners=False, loss_decode=_AUX_CE,
    )  # fmt: skip
    return dict(
        backbone=dict(
            context_channels=(32, 64, 128),
            spatial_channels=(16, 16, 16, 32),
            out_channels=64,
            norm_cfg=_BN,
            backbone_cfg=dict(base_channels=16, stem_channels=16, norm_cfg=_BN),
        ),
        decode_head=dict(in_channels=64, channels=64, num_classes=num_classes, norm_cfg=_BN),
        auxiliary_head=[dict(aux, in_index=1), dict(aux, in_index=2)],
    )


def _tiny_ddrnet(num_classes: int) -> dict[str, Any]:
    return dict(
        backbone=dict(channels=16, ppm_channels=64, norm_cfg=_BN, init_cfg=None),
        decode_head=dict(
            in_channels=4 * 16,
            channels=32,
            num_classes=num_classes,
            norm_cfg=_BN,
            loss_decode=[_DDR_CE, dict(_DDR_CE, loss_weight=0.4)],
        ),
    )


def _tiny(name: str, config: str, num_classes: int, overrides: dict[str, Any], size_divisor: int = 1) -> ModelSpec:
    dataset, arch = name.split("/")
    return ModelSpec(
        name=name,
        dataset=dataset,
        architecture=arch,
        config=config,
        num_classes=num_classes,
        checkpoint_file=f"{dataset}_{arch}.pth",
        overrides=overrides,
        size_divisor=size_divisor,
    )


_DLV3P_TINY_HEAD = dict(in_channels=128, channels=32, c1_in_channels=16, c1_channels=8)
_PSP_TINY_HEAD = dict(in_channels=128, channels=32)

_SPECS = (
    _zoo(
        "cityscapes/deeplabv3plus",
        "deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py",
        19,
        "deeplabv3plus/deeplabv3plus_r50-d8_512x1024_40k_cityscapes/"
        "deeplabv3plus_r50-d8_512x1024_40k_cityscapes_20200605_094610-d222ffcd.pth",
        79.61,
        79.61,
    ),
    _zoo(
        "cityscapes/bisenetv1",
        "bisenetv1/bisenetv1_r18-d32-in1k-pre_4xb4-160k_cityscapes-1024x1024.py",
        19,
        "bisenetv1/bisenetv1_r18-d32_in1k-pre_4x4_1024x1024_160k_cityscapes/"
        "bisenetv1_r18-d32_in1k-pre_4x4_1024x1024_160k_cityscapes_20210905_220251-8ba80eff.pth",
        74.37,
        74.37,
    ),
    _zoo(
        "cityscapes/ddrnet",
        "ddrnet/ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024.py",
        19,
        "ddrnet/ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024/"
        "ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024_20230426_145312-6a5e5174.pth",
        77.84,
        77.80,  # the paper's DDRNet may come from another zoo; mmseg's 23-slim is the closest
        size_divisor=8,
    ),
    _zoo(
        "voc/deeplabv3plus",
        "deeplabv3plus/deeplabv3plus_r50-d8_4xb4-40k_voc12aug-512x512.py",
        21,
        "deeplabv3plus/deeplabv3plus_r50-d8_512x512_40k_voc12aug/"
        "deeplabv3plus_r50-d8_512x512_40k_voc12aug_20200613_161759-e1b43aa9.pth",
        76.81,
        76.81,
    ),
    _zoo(
        "voc/pspnet",
        "pspnet/pspnet_r50-d8_4xb4-20k_voc12aug-512x512.py",
        21,
        "pspnet/pspnet_r50-d8_512x512_20k_voc12aug/pspnet_r50-d8_512x512_20k_voc12aug_20200617_101958-ed5dfbd9.pth",
        76.78,
        76.78,
    ),
    _tiny(
        "synth_city/deeplabv3plus",
        "deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py",
        19,
        _tiny_resnet18_head(_DLV3P_TINY_HEAD, 19),
    ),
    _tiny(
        "synth_city/bisenetv1",
        "bisenetv1/bisenetv1_r18-d32_4xb4-160k_cityscapes-1024x1024.py",
        19,
        _tiny_bisenetv1(19),
    ),
    _tiny(
        "synth_city/ddrnet",
        "ddrnet/ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024.py",
        19,
        _tiny_ddrnet(19),
        size_divisor=8,
    ),
    _tiny(
        "synth_voc/deeplabv3plus",
        "deeplabv3plus/deeplabv3plus_r50-d8_4xb4-40k_voc12aug-512x512.py",
        21,
        _tiny_resnet18_head(_DLV3P_TINY_HEAD, 21, pretrained=None),
    ),
    _tiny(
        "synth_voc/pspnet",
        "pspnet/pspnet_r50-d8_4xb4-20k_voc12aug-512x512.py",
        21,
        _tiny_resnet18_head(_PSP_TINY_HEAD, 21, pretrained=None),
    ),
)

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read or does not fit its model."""


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; ValueError listing the known names otherwise."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    return MODELS[name]


def _configs_dir() -> Path:
    import mmseg

    return Path(mmseg.__file__).resolve().parent / ".mim" / "configs"


def build_config(name: str, overrides: Mapping[str, Any] | None = None):
    """The mmengine ``Config`` of ``name``: the packaged mmseg config with the spec's overrides merged, then
    ``overrides`` (same semantics, e.g. ``{"backbone": {"depth": 101}}``)."""
    from mmengine.config import Config

    spec = get_spec(name)
    cfg = Config.fromfile(_configs_dir() / spec.config)
    for extra in (spec.overrides, overrides):
        if extra:
            cfg.merge_from_dict(dict(model=dict(extra)))
    return cfg


def build_segmentor(
    name: str, device: str | torch.device = "cpu", overrides: Mapping[str, Any] | None = None
) -> nn.Module:
    """The mmseg segmentor of ``name`` (with ``overrides``, see :func:`build_config`) with random weights,
    SyncBN reverted to BN, in eval mode."""
    from mmengine.model import revert_sync_batchnorm
    from mmseg.apis import init_model

    cfg = build_config(name, overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        segmentor = revert_sync_batchnorm(init_model(cfg, None, device="cpu"))
    classes, palette = _LABEL_SPACES[get_spec(name).dataset]
    segmentor.dataset_meta = {"classes": list(classes), "palette": [list(c) for c in palette]}
    return segmentor.to(device).eval()


MEMORY_SAVING = ("none", "checkpoint", "bf16", "checkpoint+bf16")


def _residual_blocks(segmentor: nn.Module) -> list[nn.Module]:
    """The backbone's residual blocks (mmseg's ResNet / BiSeNetV1 context path / DDRNet blocks)."""
    from mmseg.models.backbones.resnet import BasicBlock, Bottleneck
    from mmseg.models.utils import BasicBlock as DDRBasicBlock
    from mmseg.models.utils import Bottleneck as DDRBottleneck

    kinds = (BasicBlock, Bottleneck, DDRBasicBlock, DDRBottleneck)
    return [m for m in segmentor.backbone.modules() if isinstance(m, kinds)]


def _checkpointing_forward(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The block's own forward, its activations recomputed in the backward when a gradient is being taken."""
    if torch.is_grad_enabled() and x.requires_grad:
        return torch.utils.checkpoint.checkpoint(type(block).forward, block, x, use_reentrant=False)
    return type(block).forward(block, x)


class SegmentationModel(nn.Module):
    """An mmseg segmentor behind the project's input convention.

    ``forward(images)``: images [N,3,H,W] float RGB in [0,1] -> logits [N,C,H,W] at (H,W). The images
    are normalised inside as ``(255 x - mean) / std`` with the config's ``data_preprocessor`` mean/std
    (RGB order), then run through the segmentor's ``encode_decode`` (its decode head and the bilinear
    resize to the input size). Where the network needs sizes divisible by ``spec.size_divisor``, the
    images are padded at the bottom/right with black (mmseg's ``pad_val=0``) and the logits cropped back.
    The value range is not checked (that would cost a device sync).
    ``train()`` keeps the model in eval mode: attacks must see inference-time batch norm and dropout.
    To train the network, train ``.segmentor`` directly (as :mod:`uwl_utils.tools.train` does).
    :meth:`set_memory_saving` trades compute for memory (full-resolution attacks).
    """

    def __init__(self, segmentor: nn.Module, spec: ModelSpec) -> None:
        super().__init__()
        self.segmentor = segmentor
        self.spec = spec
        self.name = spec.name
        self.num_classes = spec.num_classes
        classes, palette = _LABEL_SPACES[spec.dataset]
        self.class_names = classes
        self.palette = palette
        self.ignore_index = IGNORE_INDEX
        pre = segmentor.cfg.model.data_preprocessor
        self.register_buffer("mean", torch.tensor(pre.mean, dtype=torch.float32).view(1, 3, 1, 1), False)
        self.register_buffer("std", torch.tensor(pre.std, dtype=torch.float32).view(1, 3, 1, 1), False)
        self.memory_saving = "none"
        self.eval()

    def set_memory_saving(self, mode: str) -> SegmentationModel:
        """Trade compute for memory in every forward+backward, for every attack; returns the model.

        - ``"checkpoint"``: the backbone's residual blocks keep only their input and recompute their
          activations in the backward (one more forward of the backbone per gradient; the gradient is the same
          up to float rounding). mmseg's own ``with_cp`` uses the reentrant checkpoint, which refuses
          ``torch.autograd.grad`` (how the attacks take their gradient), so the blocks are wrapped here with
          the non-reentrant one.
        - ``"bf16"``: the network runs under bfloat16 autocast; the logits come back in the input's dtype, so
          the loss and the weights are computed in float32. The logits move by about 1 % of their size, so
          attacks that follow the gradient's sign (FGSM, I-FGSM, PGD ℓ∞) are barely affected; do not use it to
          reproduce float32 numbers.
        - ``"checkpoint+bf16"``: both; ``"none"``: neither.
        """
        if mode not in MEMORY_SAVING:
            raise ValueError(f"memory_saving must be one of {MEMORY_SAVING}; got {mode!r}")
        for block in _residual_blocks(self.segmentor):
            if "checkpoint" in mode:
                block.forward = types.MethodType(_checkpointing_forward, block)
            else:
                block.__dict__.pop("forward", None)
        self.memory_saving = mode
        return self

    def train(self, mode: bool = True) -> SegmentationModel:
        """Stay in eval mode whatever ``mode`` says (see the class docstring)."""
        return super().train(False)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """[0,1] RGB images -> the network's input ``(255 x - mean) / std``."""
        return (images * 255.0 - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != 3 or not images.is_floating_point():
            raise ValueError(
                "expected images as a float tensor [N,3,H,W] (RGB in [0,1]), got "
                f"{images.dtype} of shape {tuple(images.shape)}"
            )
        h, w = images.shape[-2:]
        div = self.spec.size_divisor
        pad_h, pad_w = -h % div, -w % div
        if pad_h or pad_w:
            images = F.pad(images, (0, pad_w, 0, pad_h), value=0.0)
        shape = (h + pad_h, w + pad_w)
        metas = [dict(img_shape=shape, ori_shape=shape, pad_shape=shape)] * images.shape[0]
        bf16 = self.memory_saving.endswith("bf16")
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = self.segmentor.encode_decode(self.normalize(images), metas)
        return logits[..., :h, :w].to(images.dtype)


def _cache_dir() -> Path:
    return Path(os.environ.get("UWL_CACHE_DIR") or Path.home() / ".cache" / "uwl" / "checkpoints")


def _tiny_dir() -> Path:
    return Path(os.environ.get("UWL_CHECKPOINT_DIR") or REPO_ROOT / "data" / "checkpoints")


def checkpoint_path(name: str) -> Path:
    """Where the checkpoint of ``name`` is expected: ``$UWL_CHECKPOINT_DIR`` (default
    ``<repo>/data/checkpoints``) for tiny models, ``$UWL_CACHE_DIR`` (default ``~/.cache/uwl/checkpoints``)
    for zoo models."""
    spec = get_spec(name)
    return (_tiny_dir() if spec.tiny else _cache_dir()) / spec.checkpoint_file


_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,})\.pth?$")


def published_hash(filename: str) -> str | None:
    """The sha256 prefix a zoo file name publishes (``…_20200605_094610-d222ffcd.pth`` → ``"d222ffcd"``), as
    torch.hub reads it; None for a name without one."""
    match = _HASH_IN_NAME.search(filename)
    return match.group(1) if match else None


_SHA256: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> digest: a file is read once per process


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's content (hex), read in 1 MiB chunks; remembered while its size and mtime stay."""
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        _SHA256[key] = digest.hexdigest()
    return _SHA256[key]


def verify_checkpoint(path: str | Path, name: str | None = None, url: str | None = None) -> None:
    """Check ``path`` against the sha256 prefix that ``name`` (default: its own file name) publishes; a no-op for a
    name without one. Raises :class:`CheckpointError` naming the file, the expected and the found hash, and what
    to do."""
    path = Path(path)
    name = name or path.name
    expected = published_hash(name)
    if expected is None:
        return
    found = file_sha256(path)
    if not found.startswith(expected):
        source = f"download it again from {url}" if url else "download it again"
        raise CheckpointError(
            f"checkpoint {name} ({path}) does not match the hash its name publishes: expected sha256 {expected}…, "
            f"found {found[: len(expected)]}… (full {found}). It is truncated, corrupt or not the published file: "
            f"delete it and {source} (load_model downloads a missing zoo file into the cache folder)."
        )


def _find_checkpoint(spec: ModelSpec) -> Path:
    """The local checkpoint of ``spec``, verified against its published hash; zoo files are downloaded into the
    cache folder when absent (into a temporary file, verified before it takes the final name)."""
    path = checkpoint_path(spec.name)
    if path.is_file():
        verify_checkpoint(path, url=spec.url)
        return path
    if spec.tiny:
        raise FileNotFoundError(
            f"tiny checkpoint {path} not found. Train it with `python -m uwl_utils.tools.train {spec.name}` "
            "(it writes data/checkpoints/), or set UWL_CHECKPOINT_DIR to the folder holding "
            f"{spec.checkpoint_file}, or pass checkpoint=<path>."
        )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        download_url_to_file(spec.url, str(tmp), progress=True)
    except Exception as err:  # no network, HTTP error, read-only folder...
        tmp.unlink(missing_ok=True)
        raise FileNotFoundError(
            f"checkpoint {spec.checkpoint_file} for {spec.name} is not in {path.parent} and could not be "
            f"downloaded ({type(err).__name__}: {err}). Download it from\n  {spec.url}\ninto\n  "
            f"{path.parent}/\n(set UWL_CACHE_DIR to use another folder), or pass checkpoint=<path>."
        ) from err
    try:
        verify_checkpoint(tmp, spec.checkpoint_file, spec.url)
    except CheckpointError as err:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(f"{err} The download was not kept.") from None
    os.replace(tmp, path)
    return path


# numpy globals that zoo checkpoints pickle in their meta besides tensors; allowed (still weights_only=True)
# when a file needs them. Anything else (mmengine's HistoryBuffer needs builtins.getattr) is refused.
_TRUSTED_GLOBALS = (
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
)


def _resolve_global(qualname: str) -> Any:
    module, _, attr = qualname.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _trusted_globals(path: Path) -> list[Any] | None:
    """The objects to allow for ``path`` if every global it needs is trusted (numpy dtypes included)."""
    needed = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    trusted = [g for g in needed if g in _TRUSTED_GLOBALS or g.startswith("numpy.dtypes.")]
    if len(trusted) != len(needed):
        return None
    # numpy >= 1.25 rebuilds dtypes through their DType classes, which the scan above does not list.
    dtype_classes = {type(np.dtype(t)) for t in set(np.sctypeDict.values())}
    return [_resolve_global(g) for g in trusted] + sorted(dtype_classes, key=str)


def _refuse_pickled_objects(path: Path) -> None:
    """Raise a :class:`CheckpointError` saying why, when ``path`` is a readable archive that pickles arbitrary
    Python objects (anything beyond tensors, containers and numpy arrays); return for any other failure."""
    try:
        needed = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # not a readable archive: reported as corrupt by the caller
        return
    untrusted = [g for g in needed if g not in _TRUSTED_GLOBALS and not g.startswith("numpy.dtypes.")]
    raise CheckpointError(
        f"checkpoint {path} pickles Python objects besides tensors ({', '.join(untrusted[:5])}): unpickling them "
        "could run any code, so checkpoints are read with torch.load(weights_only=True) only. If you trust the "
        "file, extract its state dict once: torch.save(torch.load(f, weights_only=False)['state_dict'], out)."
    )


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint file with ``weights_only=True``; returns (state dict, meta).

    Accepts a plain state dict or ``{"state_dict": ..., "meta": ...}`` (mmseg 0.x/1.x zoo files, the
    tiny models); a leading ``module.`` is stripped from the keys.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} does not exist")
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            allowed = _trusted_globals(path) if zipfile.is_zipfile(path) else None
            if not allowed:
                _refuse_pickled_objects(path)
                raise
            with torch.serialization.safe_globals(allowed):
                obj = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as err:  # torch.load on a damaged file: UnpicklingError, EOFError, IndexError, RuntimeError...
        raise CheckpointError(
            f"cannot read checkpoint {path} ({type(err).__name__}: {str(err).splitlines()[0]}). The file "
            "may be truncated or corrupt: delete it and download (or retrain) it again. If it holds pickled "
            "Python objects besides tensors, extract its state dict in a trusted environment: "
            "torch.save(torch.load(f, weights_only=False)['state_dict'], out)."
        ) from err
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        state, meta = obj["state_dict"], dict(obj.get("meta") or {})
    elif isinstance(obj, Mapping) and all(isinstance(v, torch.Tensor) for v in obj.values()):
        state, meta = obj, {}
    else:
        raise CheckpointError(f"checkpoint {path} holds neither a state dict nor {{'state_dict': ..., 'meta': ...}}")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return dict(state), meta


def _load_weights(segmentor: nn.Module, state: dict[str, torch.Tensor], spec: ModelSpec, path: Path) -> None:
    """Load ``state`` strictly for tiny models; for zoo files only aux-head keys may be missing."""
    own = segmentor.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [k for k in own if k in state and own[k].shape != state[k].shape]

    def show(keys: list[str]) -> str:
        return ", ".join(keys[:8]) + (f" ... ({len(keys)} in all)" if len(keys) > 8 else "")

    if spec.tiny:
        fatal_missing, extra = missing, unexpected
    else:
        fatal_missing = [k for k in missing if not k.startswith("auxiliary_head.")]
        extra = []
        if missing or unexpected:
            warnings.warn(
                f"{path.name} -> {spec.name}: ignored {len(unexpected)} unexpected key(s) "
                f"[{show(unexpected)}]; {len(missing)} auxiliary-head key(s) missing [{show(missing)}] "
                "(unused at inference)",
                stacklevel=3,
            )
    if fatal_missing or extra or mismatched:
        details = "; ".join(
            f"{label}: {show(keys)}"
            for label, keys in (
                ("missing", fatal_missing),
                ("unexpected", extra),
                ("shape mismatch", mismatched),
            )
            if keys
        )
        raise CheckpointError(
            f"checkpoint {path} does not fit model {spec.name} ({details}). Is it the file for another "
            "model or config? Tiny models: retrain with `python -m uwl_utils.tools.train "
            f"{spec.name}`; zoo models: download {spec.url}."
        )
    segmentor.load_state_dict(state, strict=False)


def load_model(
    name: str,
    device: str | torch.device = "cpu",
    checkpoint: str | Path | None = None,
    memory_saving: str = "none",
) -> SegmentationModel | WrappedModel:
    """Build ``name`` with its trained weights; returns a frozen :class:`SegmentationModel` in eval mode.

    ``checkpoint`` is a local file; without it, tiny models read their committed file and zoo models the
    cache folder (downloading the published file there when absent). ``device="auto"`` picks CUDA when
    available. A user's registered name (:mod:`uwl_utils.user_models`) is built by its own entry.
    ``memory_saving``: one of :data:`MEMORY_SAVING` (:meth:`SegmentationModel.set_memory_saving`), e.g.
    ``"checkpoint"`` to attack at full resolution on a smaller GPU; registry (mmseg) models only.
    """
    from uwl_utils.user_models import USER_MODELS, build_user_model

    if memory_saving not in MEMORY_SAVING:
        raise ValueError(f"memory_saving must be one of {MEMORY_SAVING}; got {memory_saving!r}")
    if name in USER_MODELS:
        if checkpoint is not None:
            raise ValueError(f"{name!r} is a user model: give its checkpoint in its registry entry")
        if memory_saving != "none":
            raise ValueError(f"memory_saving applies to the registry's mmseg models, not the user model {name!r}")
        return build_user_model(name, resolve_device(device))
    spec = get_spec(name)
    path = Path(checkpoint) if checkpoint is not None else _find_checkpoint(spec)
    if checkpoint is not None and path.is_file():
        verify_checkpoint(path)  # a zoo file given by path: its name publishes its hash
    state, _ = read_checkpoint(path)
    segmentor = build_segmentor(name)
    _load_weights(segmentor, state, spec, path)
    model = SegmentationModel(segmentor, spec).to(resolve_device(device))
    model.requires_grad_(False)
    model.checkpoint_path = path  # the experiment runner keys results by this file's content hash
    return model.set_memory_saving(memory_saving)


def random_model(
    name: str,
    device: str | torch.device = "cpu",
    *,
    overrides: Mapping[str, Any] | None = None,
    memory_saving: str = "none",
) -> SegmentationModel:
    """``name``'s architecture (with ``overrides``, e.g. ``{"backbone": {"depth": 101}}``) with random weights,
    frozen, behind the wrapper: for speed and memory measurements, which do not depend on the weights."""
    model = SegmentationModel(build_segmentor(name, "cpu", overrides), get_spec(name)).to(resolve_device(device))
    return model.requires_grad_(False).set_memory_saving(memory_saving)


def save_checkpoint(model: nn.Module, path: str | Path, meta: Mapping[str, Any]) -> Path:
    """Save ``{"state_dict": plain tensors, "meta": meta}`` (readable with ``weights_only=True``).

    ``model`` is a :class:`SegmentationModel` or a bare segmentor; ``meta`` should hold only str, int,
    float, bool, None, lists and dicts of those. Written atomically (temporary file, then rename).
    """
    segmentor = getattr(model, "segmentor", model)
    state = {k: v.detach().cpu().clone() for k, v in segmentor.state_dict().items()}
    path = Path(path)
    with atomic_write(path) as tmp:
        torch.save({"state_dict": state, "meta": dict(meta)}, tmp)
    return path
