"""What every attack shares: input checks, the weighted loss and its input gradient, projections, randomness.

Attacks work on un-normalised RGB images in [0, 1] (the model wrapper normalises) and on ground-truth
labels [N,H,W] with 255 = ignore; ``labels=None`` attacks the clean prediction instead. Every public attack is
decorated with :func:`preserves_model`: it attacks the model in eval mode and hands it back unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import torch
from torch import nn
from tqdm.auto import tqdm

from uwl_utils.checks import check_images, check_labels, check_model_output
from uwl_utils.losses import Step, Weighting, as_weighting
from uwl_utils.metrics import apsr
from uwl_utils.model_state import frozen
from uwl_utils.prediction import predicted_class

__all__ = [
    "AttackInfo",
    "preserves_model",
    "descent_attack",
    "effective_weighting",
    "report",
    "prepare",
    "loss_and_grad",
    "project_linf",
    "project_l2",
    "l2_normalize",
    "per_image",
    "make_generator",
    "iterations",
    "success_fraction",
    "predicted_class",
]


@dataclass
class AttackInfo:
    """The extras of one attack call, filled in when the caller passes ``info=AttackInfo()``.

    Every attack returns only the adversarial images; whatever else it knows goes here, asked for the same way
    by every attack (``attack(model, images, labels, ..., info=info)``). Fields an attack has nothing to say
    about stay None.
    """

    eps_found: torch.Tensor | None = None  # [N], minimal-norm attacks: the smallest ε that succeeded, NaN if none
    labels: torch.Tensor | None = None  # [N,H,W], labels to score against (patch: its area set to ignore)
    winner: list[str] | None = None  # per image, the loss whose adversarial was kept (worst-case attacks)
    iterations: int | None = None  # forward+backward passes per image that the attack used
    params: dict[str, Any] = field(default_factory=dict)  # parameter values actually used, where they differ


AttackFn = TypeVar("AttackFn", bound=Callable[..., Any])


def preserves_model(attack: AttackFn) -> AttackFn:
    """Run ``attack(model, ...)`` on ``model`` in eval mode with its parameters frozen, then restore both.

    A model handed over in training mode is attacked as it predicts (BatchNorm with its running statistics,
    no dropout) and comes back with the same parameters, buffers, mode flags and ``requires_grad`` flags; no
    gradient is accumulated into any parameter's ``.grad``. See :func:`uwl_utils.model_state.frozen`. The
    adversarial images come back in the caller's dtype (``prepare`` attacks a float64 batch in the model's dtype).
    """

    @functools.wraps(attack)
    def attack_on_frozen_model(model: nn.Module, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(model, nn.Module):
            raise TypeError(f"{attack.__name__} expects the model as a torch.nn.Module, got {type(model).__name__}")
        with frozen(model):
            result = attack(model, *args, **kwargs)
        images = args[0] if args else kwargs.get("images")  # adversarials come back in the caller's dtype
        if isinstance(result, torch.Tensor) and isinstance(images, torch.Tensor) and result.shape == images.shape:
            result = result.to(images.dtype)
        return result

    return attack_on_frozen_model  # type: ignore[return-value]


_DESCENDS = "descends_on_weighted_objective"


def descent_attack(attack: Callable) -> Callable:
    """Mark ``attack`` as one that minimises its weighted objective: its weights default to detached."""
    setattr(attack, _DESCENDS, True)
    return attack


def effective_weighting(attack: Callable, weighting: str | Weighting) -> Weighting:
    """``weighting`` as ``attack`` runs it: ``detach_weights=None`` becomes True for a :func:`descent_attack`,
    False otherwise (see :class:`~uwl_utils.losses.Weighting`). This is the value a result row records."""
    return as_weighting(weighting).resolved(getattr(attack, _DESCENDS, False))


_INFO_FIELDS = {f.name for f in fields(AttackInfo)} - {"iterations", "params"}


def report(info: AttackInfo | None, *, iterations: int, params: Mapping[str, Any] | None = None, **extras: Any) -> None:
    """Write an attack's extras into ``info`` when the caller passed one; a no-op for ``info=None``.

    ``iterations``: forward+backward passes per image; ``params``: values resolved from defaults (e.g. the
    step count behind ``steps=None``); ``extras``: other fields of :class:`AttackInfo` (eps_found, labels, winner).
    """
    if info is None:
        return
    unknown = set(extras) - _INFO_FIELDS
    if unknown:
        raise ValueError(f"AttackInfo has no field(s) {sorted(unknown)}")
    info.iterations = iterations
    info.params.update(params or {})
    for name, value in extras.items():
        setattr(info, name, value)


def _model_dtype(model: nn.Module) -> torch.dtype | None:
    """The floating dtype of the model's first floating parameter or buffer (None: it has none)."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return None


def prepare(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor | None, weighting: str | Weighting = "none"
) -> tuple[torch.Tensor, torch.Tensor, Weighting]:
    """Check an attack's inputs once, before any work; returns (images detached, labels, Weighting).

    Refuses empty batches, images with NaN/±Inf or outside [0, 1] (beyond rounding, which is clipped away),
    labels out of range or of another size, and a model whose logits are not [N, num_classes, H, W] at the
    images' size (one forward pass of the first image). Images are cast to the model's floating dtype (a
    float64 batch into a float32 model is attacked, and returned, in float32). With ``labels=None`` the
    clean prediction of ``model`` is attacked. An unresolved ``detach_weights``
    becomes False (an ascent); a descent attack passes ``effective_weighting(attack, weighting)`` instead.
    """
    check_images(images)
    dtype = _model_dtype(model)
    images = images.detach().to(dtype or images.dtype).clamp(0, 1)
    probe = images if labels is None else images[:1]
    with torch.no_grad():
        logits = model(probe)
    check_model_output(logits, probe, getattr(model, "num_classes", None))
    if labels is None:
        labels = logits.argmax(1)
    check_labels(labels, logits.shape[1], (images.shape[0], *images.shape[2:]))
    return images, labels.to(images.device), as_weighting(weighting).resolved(False)


def loss_and_grad(
    model: nn.Module, x: torch.Tensor, labels: torch.Tensor, weighting: Weighting, step: Step | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One forward and backward: (per-image loss [N], ∇_x of the summed loss, logits detached).

    Summing per-image losses keeps each image's gradient independent of the rest of the batch.
    """
    x = x.detach().requires_grad_(True)
    logits = model(x)
    loss = weighting.loss(logits, labels, step=step, validate=False)
    (grad,) = torch.autograd.grad(loss.sum(), x)
    return loss.detach(), grad, logits.detach()


def per_image(value: float | torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """A scalar or per-image value as a tensor [N,1,1,1] broadcastable against images."""
    v = torch.as_tensor(value, dtype=images.dtype, device=images.device)
    return v.reshape(-1, 1, 1, 1).expand(images.shape[0], 1, 1, 1)


def project_linf(x: torch.Tensor, images: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Clip ``x`` into the ℓ∞ ball of radius ``eps`` [N,1,1,1] around ``images`` and into [0, 1]."""
    return torch.minimum(torch.maximum(x, images - eps), images + eps).clamp(0, 1)


def l2_normalize(g: torch.Tensor, floor: float = 1e-12) -> torch.Tensor:
    """g / ‖g‖₂ per image (over all 3·H·W entries); zero stays zero."""
    norm = g.flatten(1).norm(dim=1).clamp_min(floor)
    return g / norm.view(-1, 1, 1, 1)


def project_l2(x: torch.Tensor, images: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Rescale ``x − images`` to ℓ2 norm ≤ ``eps`` [N,1,1,1] per image, then clip into [0, 1]."""
    delta = x - images
    norm = delta.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    factor = torch.where(norm > eps, eps / norm.clamp_min(1e-12), torch.ones_like(norm))
    return (images + delta * factor).clamp(0, 1)


def make_generator(generator: torch.Generator | int | None) -> torch.Generator:
    """A CPU generator from a seed, an existing generator, or nothing (seeded from torch's global RNG).

    Random tensors are drawn on the CPU and then moved, so a seed gives the same numbers on every device.
    """
    if isinstance(generator, torch.Generator):
        return generator
    if generator is None:
        generator = int(torch.randint(0, 2**62, (1,)).item())
    return torch.Generator().manual_seed(int(generator))


def iterations(n: int, progress: bool, desc: str) -> Iterable[int]:
    """range(n), with a tqdm bar when ``progress``."""
    return tqdm(range(n), desc=desc, leave=False) if progress else range(n)


def success_fraction(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per image, the APSR of the prediction (:func:`uwl_utils.metrics.apsr`) in the logits' dtype, [N].

    An image without valid pixels counts as 0 (nothing to fool), so that comparisons stay defined.
    """
    return apsr(predicted_class(logits), labels).nan_to_num(0.0).to(logits.dtype)
