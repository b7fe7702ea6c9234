"""Input checks shared by measures, losses, metrics and attacks: one clear ``ValueError`` per mistake.

Also the project's ignore label and its device setting ("auto", "cpu", "cuda"), defined here once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch

IGNORE_INDEX = 255  # the label of pixels that no loss or metric counts


def check_logits(logits: torch.Tensor, name: str = "logits") -> None:
    """Logits (or probabilities) must be a floating tensor [N,C,H,W] with C ≥ 2."""
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.dim() != 4:
        got = f"{tuple(logits.shape)} {logits.dtype}" if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"{name} must be a floating tensor of shape [N,C,H,W]; got {got}")
    if logits.shape[1] < 2:
        raise ValueError(f"{name} must have at least 2 classes along dim 1; got shape {tuple(logits.shape)}")


def check_probs(probs: torch.Tensor, atol: float = 1e-3) -> None:
    """Probabilities: [N,C,H,W], non-negative, summing to 1 over dim 1 (apply softmax to logits first)."""
    check_logits(probs, "probs")
    if (probs < 0).any() or not torch.allclose(
        probs.sum(1), torch.ones((), dtype=probs.dtype, device=probs.device), atol=atol
    ):
        raise ValueError(
            "probs must be non-negative and sum to 1 over the class dimension (dim 1); "
            "pass softmax(logits, dim=1), not raw logits"
        )


def check_labels(
    labels: torch.Tensor,
    num_classes: int,
    shape: torch.Size | tuple[int, ...],
    ignore_index: int = IGNORE_INDEX,
    names: Sequence[str] | None = None,
) -> None:
    """Labels: integer tensor [N,H,W] matching ``shape``, values in [0, num_classes) or ``ignore_index``.

    ``names`` (e.g. data set ids) name the offending images in the message instead of their batch index.
    """
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.dtype == torch.bool:
        got = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be an integer tensor [N,H,W] of class indices (255 = ignore); got {got}")
    if tuple(labels.shape) != tuple(shape):
        raise ValueError(
            f"labels must have shape [N,H,W] = {tuple(shape)} to match the images; got {tuple(labels.shape)} "
            "(resize the label maps with nearest-neighbour interpolation, as the images)"
        )
    bad = (labels < 0) | ((labels >= num_classes) & (labels != ignore_index))
    if bad.any():
        images = _indices(bad.flatten(1).any(1), names)
        raise ValueError(
            f"labels of images {images} hold values outside 0..{num_classes - 1} and the ignore label "
            f"{ignore_index} (found {labels[bad].unique()[:10].tolist()}): map the data set's ids to its "
            f"{num_classes} train ids (Cityscapes: *_labelTrainIds.png) and everything else to {ignore_index}"
        )


def _indices(mask: torch.Tensor, names: Sequence[str] | None = None, limit: int = 10) -> str:
    """The indices (or ``names``) where a per-image mask [N] is True, as text (at most ``limit``, then a count)."""
    idx = mask.nonzero().flatten().tolist()
    shown = ", ".join(str(names[i]) if names is not None else str(i) for i in idx[:limit])
    return f"[{shown}{f', ... ({len(idx)} in all)' if len(idx) > limit else ''}]"


ROUNDING = 1e-6  # how far outside [0, 1] an image may stray from rounding before it is refused


def check_images(images: torch.Tensor, names: Sequence[str] | None = None) -> None:
    """Images: a non-empty floating tensor [N,3,H,W], finite, in [0, 1] up to ``ROUNDING`` (RGB, not normalised).

    The messages name the offending images by their index in the batch, or by ``names`` (e.g. data set ids).
    """
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.dim() != 4:
        got = f"{tuple(images.shape)} {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a floating tensor [N,3,H,W] with values in [0,1]; got {got}")
    if images.shape[1] != 3:
        raise ValueError(f"images must have 3 RGB channels in dim 1; got shape {tuple(images.shape)}")
    if images.numel() == 0:
        raise ValueError(
            f"images is an empty batch (shape {tuple(images.shape)}); pass at least one image of 1×1 or more"
        )
    flat = images.detach().flatten(1)
    finite = torch.isfinite(flat)
    if not finite.all():
        raise ValueError(
            f"images {_indices(~finite.all(1), names)} contain NaN or ±Inf values: check how they were loaded or "
            "preprocessed (a division by zero?), or leave them out"
        )
    lo, hi = flat.amin(1), flat.amax(1)
    outside = (lo < -ROUNDING) | (hi > 1 + ROUNDING)
    if outside.any():
        raise ValueError(
            f"images {_indices(outside, names)} lie outside [0, 1] "
            f"(range [{lo.min().item():.3g}, {hi.max().item():.3g}]): "
            "pass un-normalised RGB in [0, 1] (divide 8-bit images by 255; undo any mean/std normalisation, the "
            "model wrapper normalises)"
        )


def check_model_output(logits: torch.Tensor, images: torch.Tensor, num_classes: int | None = None) -> None:
    """A model's output for ``images`` must be logits [N,C,H,W] at the images' size, C = ``num_classes`` if given."""
    check_logits(logits, "the model's output")
    want = (images.shape[0], logits.shape[1], *images.shape[2:])
    if tuple(logits.shape) != want:
        raise ValueError(
            f"the model returned logits of shape {tuple(logits.shape)} for images {tuple(images.shape)}; "
            f"expected {want}: the model must upsample its logits to the input size (SegmentationModel does)"
        )
    if num_classes is not None and logits.shape[1] != num_classes:
        raise ValueError(
            f"the model returns {logits.shape[1]} classes but the data has {num_classes}: "
            "use a model trained on this data set's label space"
        )


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; asking for CUDA without a GPU is an error that says so."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError('DEVICE="cuda" but torch sees no CUDA GPU here; use DEVICE="cpu" or "auto"')
    return device


def check_eps(eps: float, name: str = "eps", upper: float = 1.0) -> float:
    """A budget in [0,1] pixel units: 0 < eps ≤ upper (1 for ℓ∞: write 8/255, not 8)."""
    eps = float(eps)
    if not 0 < eps <= upper:
        hint = f" (did you mean {eps:g}/255?)" if upper == 1.0 and eps > 1 else ""
        raise ValueError(f"{name} must satisfy 0 < {name} <= {upper:g} in [0,1] pixel units; got {eps:g}{hint}")
    return eps


def check_items(batches: Iterable[dict], num_classes: int) -> None:
    """Every batch ``{"image", "label", "id"}`` of a data set checked as an attack checks its inputs, before any
    attack runs; the messages name the offending items by their ids."""
    for batch in batches:
        ids = [str(i) for i in batch["id"]]
        images = batch["image"]
        check_images(images, ids)
        check_labels(batch["label"], num_classes, (images.shape[0], *images.shape[2:]), names=ids)


def check_class_counts(model_classes: Mapping[str, int | None], data_classes: int | None, data_name: str) -> int:
    """Every model must predict the data set's number of classes; returns that number (the models' own when
    the data set declares none)."""
    missing = sorted(name for name, c in model_classes.items() if c is None)
    if missing:
        raise ValueError(f"models {missing} have no num_classes attribute; set model.num_classes = C")
    counts = {name: int(c) for name, c in model_classes.items() if c is not None}
    want = data_classes if data_classes is not None else next(iter(counts.values()), None)
    wrong = {name: c for name, c in counts.items() if c != want}
    if wrong:
        raise ValueError(
            f"the data set {data_name!r} has {want} classes but models {wrong} predict another number "
            "of classes: use models trained on this data set's label space"
        )
    return int(want)
