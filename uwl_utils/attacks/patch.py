"""The EOT adversarial patch of Nesti et al. (arXiv:2108.06179; docs/attacks.md §EOT patch).

A single universal patch is optimised with Adam over a set of TRAINING images, each time pasted with a random
scale, noise and translation around the image centre (expectation over transformation, EOT), and evaluated
at the fixed centre without EOT, with the ground truth under the patch ignored.

Everything lives in [0, 1] RGB space; the numbers of the reference code (retis-ai/SemSegAdvPatch) are in the
ImageNet-normalised space of its models (std ≈ 0.226) and are converted:

- Adam lr 0.5 (normalised) → ``lr=0.113`` = 0.5 · 0.226 (Adam's steps scale with lr per coordinate);
- EOT noise 0.1 · (valid normalised range ≈ 1/0.226) → ``noise=0.1``;
- patch 300×600 on 1024×2048 → ``size=(0.293, 0.293)``, fractions of H and W (``PATCH_SIZE``).

Train/evaluation separation is the caller's: pass training images to :func:`train_patch` and evaluation
images to :func:`patch_eot` / :func:`apply_patch`. (The published code optimised on 100 images drawn from
the val split it then evaluated on; don't.)
"""

from __future__ import annotations

import torch
from torch import nn

from uwl_utils.attacks.base import (
    AttackInfo,
    iterations,
    l2_normalize,
    make_generator,
    prepare,
    preserves_model,
    report,
)
from uwl_utils.checks import IGNORE_INDEX, check_images
from uwl_utils.losses import pixel_cross_entropy

__all__ = [
    "train_patch",
    "patch_eot",
    "apply_patch",
    "eot_apply",
    "patch_loss",
    "patch_shape",
    "centre_position",
    "PATCH_SIZE",
]

PATCH_SIZE = (300 / 1024, 600 / 2048)  # the reference's 300×600 patch on 1024×2048 images, as fractions of H, W

Size = tuple[float, float] | tuple[int, int]


def patch_shape(size: Size, image_hw: tuple[int, int]) -> tuple[int, int]:
    """Patch (h, w) in pixels: ints are pixels, floats in (0, 1] fractions of the image's H and W."""
    shape = []
    for s, extent in zip(size, image_hw, strict=True):
        if isinstance(s, float):
            if not 0 < s <= 1:
                raise ValueError(f"a patch size fraction must lie in (0, 1]; got {size}")
            s = max(1, round(s * extent))
        if not 0 < s <= extent:
            raise ValueError(f"patch size {size} does not fit images of size {tuple(image_hw)}")
        shape.append(int(s))
    return shape[0], shape[1]


def centre_position(image_hw: tuple[int, int], patch_hw: tuple[int, int]) -> tuple[int, int]:
    """Top-left corner (y, x) that centres the patch, ((H − h)//2, (W − w)//2) as the reference's default."""
    return (image_hw[0] - patch_hw[0]) // 2, (image_hw[1] - patch_hw[1]) // 2


def _check_patch(patch: torch.Tensor, image_hw: tuple[int, int]) -> None:
    if not isinstance(patch, torch.Tensor) or not patch.is_floating_point() or patch.dim() != 3 or patch.shape[0] != 3:
        got = f"{tuple(patch.shape)} {patch.dtype}" if isinstance(patch, torch.Tensor) else type(patch).__name__
        raise ValueError(f"patch must be a floating tensor [3,h,w] in [0,1]; got {got}")
    if not torch.isfinite(patch).all():
        raise ValueError("patch holds NaN or ±Inf values; train it again (train_patch) or load a saved one")
    lo, hi = patch.min().item(), patch.max().item()
    if lo < 0 or hi > 1:
        raise ValueError(f"patch values must lie in [0, 1] (RGB, like the images); got range [{lo:.3g}, {hi:.3g}]")
    if patch.shape[1] > image_hw[0] or patch.shape[2] > image_hw[1]:
        raise ValueError(f"patch {tuple(patch.shape[1:])} is larger than the images {tuple(image_hw)}")


def _place(patch: torch.Tensor, y: int, x: int, image_hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The patch [3,h,w] zero-padded onto an image canvas at top-left (y, x), and its mask [1,H,W] (bool)."""
    h, w = patch.shape[1:]
    pad = (x, image_hw[1] - x - w, y, image_hw[0] - y - h)
    placed = torch.nn.functional.pad(patch, pad)
    mask = torch.nn.functional.pad(torch.ones((1, h, w), dtype=torch.bool, device=patch.device), pad)
    return placed, mask


def _paste(
    images: torch.Tensor, patch: torch.Tensor, position: tuple[int, int] | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``patch`` pasted into every image at top-left ``position`` (default the centre); (patched, mask [1,H,W])."""
    image_hw = (images.shape[-2], images.shape[-1])
    _check_patch(patch, image_hw)
    y, x = centre_position(image_hw, tuple(patch.shape[1:])) if position is None else position
    if not (0 <= y <= image_hw[0] - patch.shape[1] and 0 <= x <= image_hw[1] - patch.shape[2]):
        raise ValueError(f"patch {tuple(patch.shape[1:])} at {(y, x)} does not fit images {image_hw}")
    placed, mask = _place(patch.to(images), y, x, image_hw)
    return torch.where(mask, placed, images), mask


def apply_patch(
    images: torch.Tensor,
    patch: torch.Tensor,
    position: tuple[int, int] | None = None,
    labels: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Paste ``patch`` [3,h,w] into every image at top-left ``position`` (y, x; default the centre), no EOT.

    Returns (patched images, labels with 255 under the patch, or None without ``labels``): the reference's
    evaluation excludes the patch area from the metrics (docs/attacks.md §EOT patch evaluation). Pixels outside
    the patch are untouched. Differentiable with respect to the patch.
    """
    check_images(images)
    if labels is not None and (
        not isinstance(labels, torch.Tensor)
        or labels.is_floating_point()
        or tuple(labels.shape) != (images.shape[0], *images.shape[2:])
    ):
        got = f"{tuple(labels.shape)} {labels.dtype}" if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be an integer tensor [N,H,W] matching the images; got {got}")
    patched, mask = _paste(images, patch, position)
    return patched, None if labels is None else labels.masked_fill(mask, IGNORE_INDEX)


def eot_apply(
    images: torch.Tensor,
    patch: torch.Tensor,
    generator: torch.Generator | int | None = None,
    *,
    scale: tuple[float, float] = (0.8, 1.2),
    noise: float = 0.1,
    position: tuple[int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste a randomly transformed copy of ``patch`` into every image, independently per image (EOT,
    docs/attacks.md §EOT patch training).

    Per image: scale s ~ U(``scale``), bilinear resize to (⌊s·h⌋, ⌊s·w⌋); add N(0, ``noise``²) and clip to
    [0, 1]; top-left corner uniform on the integers within ± half the unscaled patch size of ``position``
    (default the centre), moved inside the image where the scaled patch would cross its border (at the
    reference's sizes it never does). Returns (patched images, patch mask [N,H,W] bool); differentiable
    with respect to the patch.
    """
    gen = make_generator(generator)
    image_hw = (images.shape[-2], images.shape[-1])
    _check_patch(patch, image_hw)
    h, w = patch.shape[1:]
    y0, x0 = centre_position(image_hw, (h, w)) if position is None else position
    patched, masks = [], []
    for image in images:
        s = scale[0] + (scale[1] - scale[0]) * torch.rand((), generator=gen).item()
        hs, ws = min(max(1, int(s * h)), image_hw[0]), min(max(1, int(s * w)), image_hw[1])
        p = torch.nn.functional.interpolate(patch[None], size=(hs, ws), mode="bilinear", align_corners=True)[0]
        p = (p + noise * torch.randn(p.shape, generator=gen).to(p)).clamp(0, 1)
        y = int(torch.randint(y0 - h // 2, y0 + max(h // 2, 1), (), generator=gen))
        x = int(torch.randint(x0 - w // 2, x0 + max(w // 2, 1), (), generator=gen))
        y, x = min(max(y, 0), image_hw[0] - hs), min(max(x, 0), image_hw[1] - ws)
        placed, mask = _place(p.to(images), y, x, image_hw)
        patched.append(torch.where(mask, placed, image))
        masks.append(mask[0])
    return torch.stack(patched), torch.stack(masks)


def patch_loss(
    logits: torch.Tensor, labels: torch.Tensor, patch_mask: torch.Tensor, gamma: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The two cross-entropy sums of the patch loss and the γ that mixes their gradients (docs/attacks.md
    §EOT patch training).

    Over Ω = the valid pixels (label ≠ 255) outside the patch, split by the current prediction:
    L_nm = Σ_{Ω_c} CE (not yet misclassified, argmax = label) and L_m = Σ_{Ω_m} CE (misclassified), summed
    over the batch. ``gamma`` in [0, 1] is returned as is; −1 is the dynamic γ = |Ω_c| / (#pixels − #patch
    pixels) over the batch, ignore pixels counted in the denominator as the reference does.
    """
    if not (0 <= gamma <= 1 or gamma == -1):
        raise ValueError(f"gamma must lie in [0, 1], or be -1 for the dynamic γ; got {gamma}")
    ce = pixel_cross_entropy(logits, labels)
    omega = (labels != IGNORE_INDEX) & ~patch_mask
    correct = logits.detach().argmax(1) == labels
    not_fooled, fooled = omega & correct, omega & ~correct
    loss_nm, loss_m = (ce * not_fooled).sum(), (ce * fooled).sum()
    if gamma == -1:
        g = not_fooled.sum() / (patch_mask.numel() - patch_mask.sum()).clamp_min(1)
    else:
        g = torch.tensor(float(gamma), device=logits.device)
    return loss_nm, loss_m, g.to(logits.dtype)


def _ascent_direction(
    loss_nm: torch.Tensor, loss_m: torch.Tensor, gamma: torch.Tensor, fixed_gamma: float, patch: torch.Tensor
) -> torch.Tensor:
    """normalize(γ·ĝ_nm + (1 − γ)·ĝ_m), ĝ = ∇_patch L / ‖∇_patch L‖₂ (0 stays 0); a term with a fixed weight
    of 0 is not differentiated."""
    direction = torch.zeros_like(patch)
    for coef, loss, skip in ((gamma, loss_nm, fixed_gamma == 0), (1 - gamma, loss_m, fixed_gamma == 1)):
        if not skip:
            (g,) = torch.autograd.grad(loss, patch, retain_graph=True)
            direction = direction + coef * l2_normalize(g[None])[0]
    return l2_normalize(direction[None])[0]


@preserves_model
def train_patch(
    model: nn.Module,
    train_images: torch.Tensor,
    train_labels: torch.Tensor | None,
    *,
    size: Size = PATCH_SIZE,
    epochs: int = 201,
    batch_size: int = 10,
    lr: float = 0.113,
    gamma: float = 0.0,
    eot: bool = True,
    scale: tuple[float, float] = (0.8, 1.2),
    noise: float = 0.1,
    device: torch.device | str | None = None,
    generator: torch.Generator | int | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Optimise a universal patch [3,h,w] in [0, 1] on TRAINING images (docs/attacks.md §EOT patch training).

    Start from U[0, 1]; per epoch, shuffle the images into batches of ``batch_size`` (the last may be
    smaller); per batch, paste the patch with :func:`eot_apply` (``eot=True``) or at the centre, compute
    :func:`patch_loss` against ``train_labels`` (None: the clean prediction), and give Adam (``lr``, default
    betas) the ascent direction normalize(γ·ĝ_nm + (1 − γ)·ĝ_m); clip the patch to [0, 1] after each step.

    Defaults are the reference's Cityscapes templates: 201 epochs (its loop runs 0…200 inclusive) of 10
    batches of 10 images, i.e. 2010 Adam steps on 100 images, γ = 0 (only the already-misclassified pixels
    push the patch; −1 is the dynamic γ), ``size`` 300×600 on 1024×2048, lr 0.5 in normalised units. ``epochs=0``
    returns the random initial patch, a control. ``device`` (default: that of the images) is where the batches
    run, so the training set may stay on the CPU. Evaluate on other images, with :func:`patch_eot`.
    """
    if epochs < 0 or batch_size < 1 or not lr > 0:
        raise ValueError(f"need epochs >= 0, batch_size >= 1, lr > 0; got {epochs}, {batch_size}, {lr}")
    if noise < 0 or not 0 < scale[0] <= scale[1]:
        raise ValueError(f"need noise >= 0 and 0 < scale[0] <= scale[1]; got noise={noise}, scale={scale}")
    if not (0 <= gamma <= 1 or gamma == -1):
        raise ValueError(f"gamma must lie in [0, 1], or be -1 for the dynamic γ; got {gamma}")
    train_images, train_labels, _ = prepare(model, train_images, train_labels)
    device = train_images.device if device is None else torch.device(device)
    gen = make_generator(generator)
    image_hw = (train_images.shape[-2], train_images.shape[-1])
    h, w = patch_shape(size, image_hw)
    patch = torch.rand((3, h, w), generator=gen).to(device=device, dtype=train_images.dtype).requires_grad_(True)
    optimizer = torch.optim.Adam([patch], lr=lr)
    for _ in iterations(epochs, progress, "EOT patch"):
        for idx in torch.randperm(train_images.shape[0], generator=gen).split(batch_size):
            images, labels = train_images[idx].to(device), train_labels[idx].to(device)
            if eot:
                patched, mask = eot_apply(images, patch, gen, scale=scale, noise=noise)
            else:
                patched, mask = _paste(images, patch, None)
                mask = mask.expand(images.shape[0], -1, -1)
            loss_nm, loss_m, g = patch_loss(model(patched), labels, mask, gamma)
            direction = _ascent_direction(loss_nm, loss_m, g, gamma, patch)
            optimizer.zero_grad(set_to_none=True)
            patch.grad = -direction  # Adam descends: ascend the weighted cross-entropy
            optimizer.step()
            with torch.no_grad():
                patch.clamp_(0, 1)
    return patch.detach()


@preserves_model
def patch_eot(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    patch: torch.Tensor,
    position: tuple[int, int] | None = None,
    quantize: bool = True,
    info: AttackInfo | None = None,
) -> torch.Tensor:
    """The EOT patch attack at evaluation: ``patch`` (from :func:`train_patch`) pasted at ``position`` (default
    the centre) without EOT, quantised to 8 bits when ``quantize`` (docs/attacks.md §EOT patch evaluation).

    The attack contract without a weighting: the patch is trained with its own loss. Unbounded in value
    inside the patch, the result has no ε-ball. Metrics must ignore the patch area: ``info.labels`` gets the
    labels (None: the clean prediction) with the ignore label under the patch.
    """
    images, labels, _ = prepare(model, images, labels)
    if quantize:
        patch = (patch.clamp(0, 1) * 255).round() / 255
    patched, labels = apply_patch(images, patch, position, labels)
    report(info, iterations=0, labels=labels)
    return patched
