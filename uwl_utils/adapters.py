"""One adapter for a user's own segmentation network: :func:`wrap`.

The package's attacks, metrics and notebooks expect a model that takes RGB images [N,3,H,W] in [0, 1] and
returns logits [N,C,H,W] at the input size (docs/data_and_models.md §Your own model). :func:`wrap` puts any
``nn.Module`` behind that convention: normalisation inside, the logits picked out of a dict / dataclass /
``ModelOutput`` / tuple, low-resolution logits resized bilinearly to the input size (as the paper's mmseg
models do), and bottom/right padding to a size divisor. The wrapped module always runs in eval mode and is
handed back in the mode it had; its identity in result rows is a hash of its state (:meth:`state_digest`).
"""

from __future__ import annotations

import colorsys
import hashlib
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from uwl_utils.data.classes import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_PALETTE,
    IGNORE_INDEX,
    VOC_CLASSES,
    VOC_PALETTE,
)
from uwl_utils.model_state import eval_mode

__all__ = ["WrappedModel", "wrap", "select_logits", "state_digest", "LABEL_SPACES", "PROBE_SIZE"]

# The label spaces a user's model can name with ``classes="<name>"``: class names and palette.
LABEL_SPACES: dict[str, tuple[tuple[str, ...], tuple[tuple[int, int, int], ...]]] = {
    "cityscapes": (CITYSCAPES_CLASSES, CITYSCAPES_PALETTE),
    "synth_city": (CITYSCAPES_CLASSES, CITYSCAPES_PALETTE),
    "voc": (VOC_CLASSES, VOC_PALETTE),
    "synth_voc": (VOC_CLASSES, VOC_PALETTE),
}
PROBE_SIZE = 64  # side of the black probe image wrap() runs once to check the output (rounded up to size_divisor)

Output = str | int | Callable[[Any], torch.Tensor] | None


def state_digest(module: nn.Module) -> str:
    """sha256 (first 16 hex digits) of a module's state dict: every key, dtype, shape and value byte."""
    digest = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _distinct_palette(n: int) -> tuple[tuple[int, int, int], ...]:
    """``n`` colours spread evenly over the hue circle (a palette for classes that come without one)."""
    return tuple(tuple(round(255 * c) for c in colorsys.hsv_to_rgb(k / n, 0.75, 0.9)) for k in range(n))  # type: ignore[misc]


def _describe(out: Any) -> str:
    """What a forward returned, for error messages: a tensor's shape, a mapping's keys, an object's fields."""
    if isinstance(out, torch.Tensor):
        return f"a tensor of shape {tuple(out.shape)}"
    if isinstance(out, Mapping):
        return f"a {type(out).__name__} with keys {list(out)}"
    if isinstance(out, tuple | list):
        return f"a {type(out).__name__} of {len(out)} items"
    fields = [k for k in vars(out) if not k.startswith("_")] if hasattr(out, "__dict__") else []
    return f"a {type(out).__name__} with attributes {fields}"


def select_logits(out: Any, output: Output, name: str) -> torch.Tensor:
    """The logits tensor inside a forward's return value ``out``, as ``output`` says (see :func:`wrap`)."""
    if output is None:
        if isinstance(out, torch.Tensor):
            return out
        raise TypeError(f"{name} returned {_describe(out)}; pass output=<key, attribute or index> to wrap()")
    if callable(output):
        logits = output(out)
    elif isinstance(output, int) and isinstance(out, tuple | list) and -len(out) <= output < len(out):
        logits = out[output]
    elif isinstance(output, str) and isinstance(out, Mapping) and output in out:
        logits = out[output]
    elif isinstance(output, str) and not isinstance(out, Mapping) and hasattr(out, output):
        logits = getattr(out, output)
    else:
        raise TypeError(f"{name} returned {_describe(out)}, which has no output={output!r}")
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"output={output!r} of {name} is a {type(logits).__name__}, not a logits tensor")
    return logits


class WrappedModel(nn.Module):
    """A user's module behind the package's convention; build it with :func:`wrap`.

    ``forward(images)``: images [N,3,H,W] float RGB in [0, 1] -> logits [N,C,H,W] at (H, W). Images are padded
    with black at the bottom/right to multiples of ``size_divisor``, normalised as ``(x - mean) / std``, run
    through ``module`` in eval mode (its own mode flags are restored after each call), the logits selected by
    ``output``, resized bilinearly to the padded size when smaller or larger, and cropped back to (H, W).
    ``train()`` keeps the wrapper in eval mode, as :class:`uwl_utils.models.SegmentationModel` does.
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        mean: torch.Tensor,
        std: torch.Tensor,
        output: Output,
        num_classes: int,
        ignore_index: int,
        name: str,
        size_divisor: int,
        class_names: Sequence[str],
        palette: Sequence[tuple[int, int, int]],
    ) -> None:
        super().__init__()
        self.module = module
        self.register_buffer("mean", mean.view(1, 3, 1, 1))
        self.register_buffer("std", std.view(1, 3, 1, 1))
        self.output = output
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.name = name
        self.size_divisor = size_divisor
        self.class_names = tuple(class_names)
        self.palette = tuple(tuple(c) for c in palette)
        self.training = False

    def train(self, mode: bool = True) -> WrappedModel:
        """Stay in eval mode whatever ``mode`` says; train the wrapped ``.module`` itself instead."""
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != 3 or not images.is_floating_point():
            raise ValueError(
                f"expected images as a float tensor [N,3,H,W] (RGB in [0,1]), got {images.dtype} of shape "
                f"{tuple(images.shape)}"
            )
        h, w = images.shape[-2:]
        pad_h, pad_w = -h % self.size_divisor, -w % self.size_divisor
        if pad_h or pad_w:
            images = F.pad(images, (0, pad_w, 0, pad_h), value=0.0)
        with eval_mode(self.module):
            logits = select_logits(self.module((images - self.mean) / self.std), self.output, self.name)
        if logits.dim() != 4 or logits.shape[0] != images.shape[0] or logits.shape[1] != self.num_classes:
            raise ValueError(
                f"{self.name}: expected logits [{images.shape[0]},{self.num_classes},h,w], got {tuple(logits.shape)}"
            )
        if logits.shape[-2:] != images.shape[-2:]:
            logits = F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)
        return logits[..., :h, :w]

    def state_digest(self) -> str:
        """The model's identity in result rows: a hash of the module's state and of the adapter's settings."""
        output = self.output if isinstance(self.output, str | int | None) else self.output.__qualname__
        settings = json.dumps([state_digest(self), output, self.size_divisor, self.num_classes])
        return hashlib.sha256(settings.encode()).hexdigest()[:16]


def _channel_stats(value: Sequence[float] | None, default: float, what: str) -> torch.Tensor:
    if value is None:
        return torch.full((3,), default)
    stats = torch.as_tensor(value, dtype=torch.float32).flatten()
    if stats.numel() == 1:
        stats = stats.expand(3).clone()
    if stats.numel() != 3 or not torch.isfinite(stats).all():
        raise ValueError(f"{what} must be one number or three (R, G, B), got {value!r}")
    if what == "std" and (stats <= 0).any():
        raise ValueError(f"std must be positive, got {value!r}")
    if (stats.abs() > 1).any():
        raise ValueError(
            f"{what}={value!r} looks like 0-255 units; give {what} on the [0, 1] scale the wrapper works on "
            "(divide by 255: ImageNet's mean is (0.485, 0.456, 0.406))"
        )
    return stats


def _label_space(classes: str | Sequence[str] | None) -> tuple[tuple[str, ...] | None, tuple | None]:
    """(class names, palette) of ``classes``: a label space's name, a list of names (no palette) or nothing."""
    if classes is None:
        return None, None
    if isinstance(classes, str):
        if classes not in LABEL_SPACES:
            raise ValueError(
                f"classes={classes!r} is no known label space; use one of {sorted(LABEL_SPACES)} or a list"
            )
        return LABEL_SPACES[classes]
    return tuple(str(c) for c in classes), None


def _module_device(module: nn.Module) -> torch.device:
    tensor = next(itertools.chain(module.parameters(), module.buffers()), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def wrap(
    model: nn.Module,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    output: Output = None,
    num_classes: int | None = None,
    ignore_index: int = IGNORE_INDEX,
    name: str | None = None,
    size_divisor: int = 1,
    classes: str | Sequence[str] | None = None,
    palette: Sequence[Sequence[int]] | None = None,
) -> WrappedModel:
    """Put ``model`` behind the package's [0, 1]-RGB -> logits-at-input-size convention (see :class:`WrappedModel`).

    ``mean``/``std``: the model's input normalisation on the [0, 1] scale (ImageNet: ``(0.485, 0.456, 0.406)``
    / ``(0.229, 0.224, 0.225)``; default none). ``output``: where the logits are in what the model returns — a
    key (dict, Hugging Face ``ModelOutput``: ``"logits"``, torchvision: ``"out"``), an attribute (dataclass), an
    index (tuple) or a function; None for a plain tensor. ``classes``: a label space (``"cityscapes"``,
    ``"voc"``) or a list of class names; ``num_classes`` defaults to their number, else to the output channels.
    ``size_divisor``: H and W the model needs to divide (e.g. 32 for a U-Net). One forward of a black
    ``PROBE_SIZE`` image checks all this before the model is returned, so a mistake shows here, not mid-attack.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"wrap() takes a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(size_divisor, int) or size_divisor < 1:
        raise ValueError(f"size_divisor must be a positive integer, got {size_divisor!r}")
    if not (isinstance(output, str | int) or output is None or callable(output)):
        raise TypeError(f"output must be a key, an attribute name, an index or a function, got {output!r}")
    names, space_palette = _label_space(classes)
    if names is not None and num_classes is not None and num_classes != len(names):
        raise ValueError(f"num_classes={num_classes} but classes={classes!r} names {len(names)} classes")
    expected = num_classes if num_classes is not None else (len(names) if names is not None else None)
    label = name or type(model).__name__
    device = _module_device(model)
    mean_t, std_t = _channel_stats(mean, 0.0, "mean").to(device), _channel_stats(std, 1.0, "std").to(device)
    side = -(-PROBE_SIZE // size_divisor) * size_divisor
    probe = torch.zeros(1, 3, side, side, device=device)
    with torch.no_grad(), eval_mode(model):
        logits = select_logits(model((probe - mean_t.view(1, 3, 1, 1)) / std_t.view(1, 3, 1, 1)), output, label)
    if logits.dim() != 4 or logits.shape[0] != 1:
        raise ValueError(f"{label} gives logits of shape {tuple(logits.shape)} for a [1,3,{side},{side}] image; "
                         "expected [1,C,h,w] (pick the logits with output=)")  # fmt: skip
    channels = int(logits.shape[1])
    if expected is not None and channels != expected:
        raise ValueError(f"{label} outputs {channels} channels but num_classes/classes say {expected}")
    if palette is not None and len(palette) != channels:
        raise ValueError(f"palette has {len(palette)} colours for {channels} classes")
    chosen = palette if palette is not None else space_palette or _distinct_palette(channels)
    return WrappedModel(
        model,
        mean=mean_t,
        std=std_t,
        output=output,
        num_classes=channels,
        ignore_index=ignore_index,
        name=label,
        size_divisor=size_divisor,
        class_names=names or tuple(f"class {k}" for k in range(channels)),
        palette=[tuple(int(v) for v in c) for c in chosen],
    )
