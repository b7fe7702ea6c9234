"""Input checks shared by measures, losses, metrics and attacks: one clear ``ValueError`` per mistake.

Also the project's ignore label and its device setting ("auto", "cpu", "cuda"), defined here once.
"""

from __future__ import annotations

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
    labels: torch.Tensor, num_classes: int, shape: torch.Size | tuple[int, ...], ignore_index: int = IGNORE_INDEX
) -> None:
    """Labels: integer tensor [N,H,W] matching ``shape``, values in [0, num_classes) or ``ignore_index``."""
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.dtype == torch.bool:
        got = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be an integer tensor [N,H,W] of class indices (255 = ignore); got {got}")
    if tuple(labels.shape) != tuple(shape):
        raise ValueError(
            f"labels must have shape [N,H,W] = {tuple(shape)} to match the images; got {tuple(labels.shape)}"
        )
    bad = (labels < 0) | ((labels >= num_classes) & (labels != ignore_index))
    if bad.any():
        raise ValueError(
            f"labels must lie in [0, {num_classes}) or equal the ignore label {ignore_index}; "
            f"found {labels[bad].unique()[:10].tolist()}"
        )


def check_images(images: torch.Tensor) -> None:
    """Images: floating tensor [N,3,H,W] with values in [0, 1] (RGB, not normalised)."""
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.dim() != 4:
        got = f"{tuple(images.shape)} {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a floating tensor [N,3,H,W] with values in [0,1]; got {got}")
    if images.shape[1] != 3:
        raise ValueError(f"images must have 3 RGB channels in dim 1; got shape {tuple(images.shape)}")
    lo, hi = images.min().item(), images.max().item()
    if lo < 0 or hi > 1:
        raise ValueError(
            "images must lie in [0, 1] (un-normalised RGB; the model wrapper normalises); "
            f"got range [{lo:.3g}, {hi:.3g}]"
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
