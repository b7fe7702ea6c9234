"""Train a tiny embedded model on its synthetic data set: ``python -m uwl_utils.tools.train NAME``.

Recipe (docs/data_and_models.md §Training): AdamW (lr 2e-3, weight decay 0.01), 50-step linear
warm-up then poly decay (power 0.9), batch 8, the segmentor's own ``loss()`` (decode CE + 0.4 x auxiliary
CE), augmentation by random flip, scale 1-1.5 and crop back, brightness/contrast jitter. The train images
are generated once and cached in memory as uint8. Everything random derives from (seed, step), so a run
killed after a periodic save and restarted with ``--resume`` ends with the same weights as an
uninterrupted one. At the end the model is scored on the first 64 val images and saved with
:func:`uwl_utils.models.save_checkpoint` plus a JSON of the same metrics next to it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mmseg
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import nn
from tqdm.auto import tqdm

from uwl_utils.data import load_dataset
from uwl_utils.files import atomic_write
from uwl_utils.metrics import ConfusionMatrix
from uwl_utils.models import SegmentationModel, build_segmentor, checkpoint_path, get_spec, save_checkpoint

__all__ = ["TrainConfig", "evaluate", "train", "main"]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run; all but ``out`` and ``save_every`` must match to resume."""

    name: str
    steps: int = 3000
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: int = 50
    seed: int = 0
    train_images: int = 2000
    noise: float = 0.0  # amplitude of uniform pixel noise added to half the training images (0 = off)
    val_images: int = 64
    save_every: int = 250
    out: str | None = None  # default: uwl_utils.models.checkpoint_path(name)

    def output_path(self) -> Path:
        return Path(self.out) if self.out else checkpoint_path(self.name)

    def resume_fields(self) -> dict[str, Any]:
        fields = asdict(self)
        del fields["out"], fields["save_every"]
        return fields


def _lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to 1 over ``cfg.warmup`` steps, then poly decay (power 0.9) to 0 at ``cfg.steps``."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    return (1.0 - (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)) ** 0.9


def _cache(dataset, n: int, desc: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` items as uint8 images [n,3,H,W] and uint8 labels [n,H,W] (255 = ignore)."""
    images, labels = [], []
    for i in tqdm(range(n), desc=desc, leave=False):
        item = dataset[i]
        images.append((item["image"] * 255.0).round().clamp(0, 255).to(torch.uint8))
        labels.append(item["label"].to(torch.uint8))
    return torch.stack(images), torch.stack(labels)


def _batch_indices(step: int, batch_size: int, n: int, seed: int) -> torch.Tensor:
    """Indices of ``step``'s batch: every epoch visits the ``n`` images once, in a seeded random order."""
    positions = torch.arange(step * batch_size, (step + 1) * batch_size)
    epochs, offsets = positions // n, positions % n
    perms = {
        int(e): torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + int(e))) for e in epochs
    }
    return torch.stack([perms[int(e)][o] for e, o in zip(epochs, offsets, strict=True)])


def _augment(
    images: torch.Tensor, labels: torch.Tensor, g: torch.Generator, noise: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random flip, scale 1-1.5 and crop back, brightness/contrast jitter, and with ``noise`` > 0 uniform
    noise in [-noise, noise] on half the images (so that random noise of that size barely moves the model).

    uint8 images/labels in; float images in [0,1] and long labels out. With ``noise`` = 0 no extra random
    numbers are drawn, so the batches do not depend on whether the noise option exists.
    """
    h, w = images.shape[-2:]
    out_x, out_y = [], []
    for x, y in zip(images.float().div(255.0), labels.long(), strict=True):
        if torch.rand((), generator=g) < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        scale = 1.0 + 0.5 * float(torch.rand((), generator=g))
        sh, sw = round(h * scale), round(w * scale)
        x = F.interpolate(x[None], size=(sh, sw), mode="bilinear", align_corners=False)[0]
        y = F.interpolate(y[None, None].float(), size=(sh, sw), mode="nearest")[0, 0].long()
        top = int(torch.randint(sh - h + 1, (), generator=g))
        left = int(torch.randint(sw - w + 1, (), generator=g))
        x, y = x[:, top : top + h, left : left + w], y[top : top + h, left : left + w]
        contrast = 0.8 + 0.4 * float(torch.rand((), generator=g))
        brightness = 0.2 * float(torch.rand((), generator=g)) - 0.1
        x = ((x - x.mean()) * contrast + x.mean() + brightness).clamp(0.0, 1.0)
        if noise > 0 and torch.rand((), generator=g) < 0.5:
            x = (x + noise * (2.0 * torch.rand(x.shape, generator=g) - 1.0)).clamp(0.0, 1.0)
        out_x.append(x)
        out_y.append(y)
    return torch.stack(out_x), torch.stack(out_y)


def _data_samples(labels: torch.Tensor) -> list[SegDataSample]:
    shape = tuple(labels.shape[-2:])
    meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape)
    return [SegDataSample(gt_sem_seg=PixelData(data=y[None]), metainfo=meta) for y in labels]


def _init_weights(segmentor: nn.Module) -> None:
    """mmseg's own initialisation (Kaiming convs, N(0, 0.01) classifier), without its per-parameter log."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        segmentor.init_weights()
    finally:
        logger.setLevel(level)


@torch.no_grad()
def evaluate(model: SegmentationModel, dataset, n_images: int, batch_size: int = 8) -> dict[str, Any]:
    """Clean mIoU, pixel accuracy and IoU per class of ``model`` on the first ``n_images`` of ``dataset``.

    Fractions in [0, 1]; a class absent from both labels and predictions has IoU None.
    """
    cm = ConfusionMatrix(model.num_classes, ignore_index=model.ignore_index)
    device = model.mean.device
    n = min(n_images, len(dataset))
    for start in range(0, n, batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, n))]
        images = torch.stack([it["image"] for it in items]).to(device)
        labels = torch.stack([it["label"] for it in items])
        cm.update(model(images).argmax(1).cpu(), labels)
    per_class = [None if math.isnan(v) else round(v, 6) for v in cm.iou().tolist()]
    return {
        "val_images": n,
        "val_miou": cm.miou(),
        "val_pixel_accuracy": cm.pixel_accuracy(),
        "val_iou": dict(zip(model.class_names, per_class, strict=True)),
    }


def _resume_path(out: Path) -> Path:
    return out.with_name(out.name + ".resume")


def _save_state(path: Path, cfg: TrainConfig, step: int, elapsed: float, losses: list[float], segmentor, opt) -> None:
    state = {
        "config": cfg.resume_fields(),
        "step": step,
        "elapsed": elapsed,
        "losses": losses,
        "model": segmentor.state_dict(),
        "optimizer": opt.state_dict(),
    }
    with atomic_write(path) as tmp:
        torch.save(state, tmp)


def _load_state(path: Path, cfg: TrainConfig) -> dict[str, Any]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["config"] != cfg.resume_fields():
        raise ValueError(
            f"{path} was written by a run with different settings:\n  saved:   {state['config']}\n  "
            f"now:     {cfg.resume_fields()}\n"
            "Rerun with the saved settings, or without --resume to start over."
        )
    return state


def train(cfg: TrainConfig, resume: bool = False, train_set=None, val_set=None) -> dict[str, Any]:
    """Train ``cfg.name`` and save its checkpoint; returns the checkpoint's meta plus ``losses`` per step.

    ``train_set`` / ``val_set`` default to the model's synthetic train / val splits.
    """
    spec = get_spec(cfg.name)
    if not spec.tiny:
        raise ValueError(
            f"{cfg.name} is a zoo model; train.py trains only the tiny synth_city/* and synth_voc/* models"
        )
    out = cfg.output_path()
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    train_set = train_set if train_set is not None else load_dataset(spec.dataset, split="train")
    val_set = val_set if val_set is not None else load_dataset(spec.dataset, split="val")
    n_train = min(cfg.train_images, len(train_set))
    images, labels = _cache(train_set, n_train, f"caching {n_train} train images")

    segmentor = build_segmentor(cfg.name)
    _init_weights(segmentor)
    model = SegmentationModel(segmentor, spec)  # for normalisation and evaluation; stays in eval mode
    opt = torch.optim.AdamW(segmentor.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, elapsed, losses = 0, 0.0, []
    resume_file = _resume_path(out)
    if resume and resume_file.is_file():
        state = _load_state(resume_file, cfg)
        segmentor.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, elapsed, losses = state["step"], state["elapsed"], list(state["losses"])
        print(f"resuming {cfg.name} from step {start} ({resume_file})")
    elif resume:
        print(f"no {resume_file} to resume from; starting at step 0")

    segmentor.train()
    t0 = time.perf_counter() - elapsed
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=cfg.name)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = cfg.lr * _lr_factor(step, cfg)
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        torch.manual_seed(cfg.seed * 1_000_003 + step)  # dropout
        idx = _batch_indices(step, cfg.batch_size, n_train, cfg.seed)
        x, y = _augment(images[idx], labels[idx], g, cfg.noise)
        loss, _ = segmentor.parse_losses(segmentor.loss(model.normalize(x), _data_samples(y)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(round(loss.item(), 5))
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", lr=f"{opt.param_groups[0]['lr']:.2e}")
        if (step + 1) % cfg.save_every == 0 and step + 1 < cfg.steps:
            _save_state(resume_file, cfg, step + 1, time.perf_counter() - t0, losses, segmentor, opt)
    train_seconds = time.perf_counter() - t0

    segmentor.eval()
    meta = {
        "model": cfg.name,
        **{k: v for k, v in cfg.resume_fields().items() if k not in ("name", "val_images")},
        "train_images": n_train,
        "train_seconds": round(train_seconds, 1),
        "final_loss": float(np.mean(losses[-20:])) if losses else None,
        **evaluate(model, val_set, cfg.val_images),
        "num_parameters": sum(p.numel() for p in segmentor.parameters()),
        "mmseg_version": mmseg.__version__,
        "torch_version": str(torch.__version__),  # not TorchVersion: weights_only loads refuse it
    }
    save_checkpoint(segmentor, out, meta)
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    resume_file.unlink(missing_ok=True)
    return {**meta, "losses": losses}


def main(argv: Sequence[str] | None = None) -> None:
    defaults = TrainConfig(name="")
    parser = argparse.ArgumentParser(prog="python -m uwl_utils.tools.train", description=__doc__.split("\n")[0])
    parser.add_argument(
        "name",
        help="a tiny model: synth_city/{deeplabv3plus,bisenetv1,ddrnet}, synth_voc/{deeplabv3plus,pspnet}",
    )
    for field in (
        "steps",
        "batch_size",
        "lr",
        "weight_decay",
        "warmup",
        "seed",
        "train_images",
        "noise",
        "val_images",
        "save_every",
    ):
        value = getattr(defaults, field)
        parser.add_argument(f"--{field.replace('_', '-')}", type=type(value), default=value, help=f"default {value}")
    parser.add_argument("--out", default=None, help="checkpoint path (default data/checkpoints/<dataset>_<arch>.pth)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>.resume if it exists")
    args = vars(parser.parse_args(argv))
    resume = args.pop("resume")
    result = train(TrainConfig(**args), resume=resume)
    print(
        f"{result['model']}: {result['steps']} steps in {result['train_seconds']:.0f} s, final loss "
        f"{result['final_loss']:.3f}; val ({result['val_images']} images) "
        f"mIoU {100 * result['val_miou']:.1f} %, "
        f"pixel accuracy {100 * result['val_pixel_accuracy']:.1f} %\nper-class IoU: {result['val_iou']}\n"
        f"saved {TrainConfig(**args).output_path()}"
    )


if __name__ == "__main__":
    main()
