"""Confusion matrices, APSR (Eq. 11), mIoU as mmseg's IoUMetric computes it, and perturbation norms.

Definitions and conventions: docs/metrics.md.

Conventions: rows of a confusion matrix are ground truth, columns predictions; only pixels with a
label in [0, C) count (255 is ignored). APSR is the share of valid pixels whose prediction differs from
the label, so the clean APSR is 1 − pixel accuracy. It is reported pooled over the pixels of a data
set and as the mean of per-image values, the two conventions in the literature.
"""

from __future__ import annotations

import torch

from uwl_utils.checks import IGNORE_INDEX, check_labels

__all__ = [
    "ConfusionMatrix",
    "confusion_matrices",
    "pixel_counts",
    "apsr",
    "miou",
    "iou",
    "delta_miou",
    "perturbation_norms",
]


def confusion_matrices(
    pred: torch.Tensor, labels: torch.Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Per-image confusion matrices [N,C,C] (int64) of predictions [N,H,W] against labels [N,H,W]."""
    check_labels(labels, num_classes, pred.shape, ignore_index)
    if pred.is_floating_point() or ((pred < 0) | (pred >= num_classes)).any():
        raise ValueError(f"pred must hold integer class indices in [0, {num_classes}); take logits.argmax(1)")
    n = pred.shape[0]
    valid = labels != ignore_index
    img = torch.arange(n, device=pred.device).view(n, 1, 1).expand_as(pred)
    index = (img * num_classes + labels) * num_classes + pred
    counts = torch.bincount(index[valid], minlength=n * num_classes * num_classes)
    return counts.view(n, num_classes, num_classes)


def iou(matrix: torch.Tensor) -> torch.Tensor:
    """Per-class IoU = M_cc / (row_c + col_c − M_cc) of a [C,C] matrix; NaN where the union is 0."""
    m = matrix.double()
    inter = m.diagonal()
    union = m.sum(0) + m.sum(1) - inter
    return inter / union  # 0/0 -> NaN, as mmseg


def miou(matrix: torch.Tensor) -> float:
    """Mean IoU over classes with a non-empty union (nanmean), in [0, 1], as mmseg's IoUMetric; NaN when no
    class has one (a matrix without valid pixels)."""
    return float(iou(matrix).nanmean())


def pixel_counts(
    pred: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, (misclassified valid pixels, valid pixels) [N] int64: the numerator and denominator of Eq. 11."""
    if pred.shape != labels.shape:
        raise ValueError(f"pred and labels must have the same shape; got {tuple(pred.shape)} and {tuple(labels.shape)}")
    valid = labels != ignore_index
    return ((pred != labels) & valid).flatten(1).sum(1), valid.flatten(1).sum(1)


def apsr(
    pred: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX, reduction: str = "none"
) -> torch.Tensor:
    """Attack pixel success rate (Eq. 11): |{z ∈ Ω : pred_z ≠ y_z}| / |Ω|, Ω the valid pixels.

    ``reduction``: ``"none"`` per image [N] (NaN for an image without valid pixels), ``"mean"`` the mean
    of per-image values (NaN if no image has valid pixels), ``"pooled"`` over all valid pixels of the batch
    (NaN if there are none).
    """
    wrong, n_valid = (count.double() for count in pixel_counts(pred, labels, ignore_index))
    if reduction == "none":
        return wrong / n_valid
    if reduction == "mean":
        return (wrong / n_valid).nanmean()
    if reduction == "pooled":
        return wrong.sum() / n_valid.sum()
    raise ValueError(f"reduction must be 'none', 'mean' or 'pooled'; got {reduction!r}")


def delta_miou(clean_miou: float, adv_miou: float) -> float:
    """ΔmIoU = clean mIoU − adversarial mIoU (positive when the attack lowers the mIoU)."""
    return clean_miou - adv_miou


def perturbation_norms(adv: torch.Tensor, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image ℓ∞, ℓ2 and ℓ1 norms of ``adv − images`` over all 3·H·W entries, in [0,1] units."""
    if adv.shape != images.shape:
        raise ValueError(f"adv and images must have the same shape; got {tuple(adv.shape)} and {tuple(images.shape)}")
    delta = (adv - images).flatten(1).double()
    return {"linf": delta.abs().amax(1), "l2": delta.norm(dim=1), "l1": delta.abs().sum(1)}


class ConfusionMatrix:
    """A [C,C] confusion matrix accumulated over batches (ignore label skipped)."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2; got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Add predictions [N,H,W] against labels [N,H,W]; returns the per-image matrices [N,C,C]."""
        per_image = confusion_matrices(pred, labels, self.num_classes, self.ignore_index).cpu()
        self.matrix += per_image.sum(0)
        return per_image

    def add(self, matrix: torch.Tensor) -> None:
        """Add a precomputed [C,C] or [N,C,C] matrix (e.g. per-image counts read back from results)."""
        matrix = torch.as_tensor(matrix, dtype=torch.int64)
        self.matrix += matrix.reshape(-1, self.num_classes, self.num_classes).sum(0)

    def iou(self) -> torch.Tensor:
        return iou(self.matrix)

    def miou(self) -> float:
        return miou(self.matrix)

    def pixel_accuracy(self) -> float:
        return float(self.matrix.diagonal().sum() / self.matrix.sum())

    def apsr(self) -> float:
        """Pooled APSR = 1 − pixel accuracy."""
        return 1.0 - self.pixel_accuracy()
