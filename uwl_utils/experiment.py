"""Run a grid of models × attacks × weighting schemes over a data set into tidy, resumable results.

One row per (image, model, attack configuration, weighting): the attack's full keyword set (defaults
included) and the weighting's options go into ``options`` and into a ``config`` hash, so a changed
option makes new rows instead of mixing with old ones; values an attack resolves from a None default
(e.g. I-FGSM's step count) are recorded in ``options`` too, without changing the hash. Per-image confusion
counts of the clean and the adversarial prediction are kept in the row (flattened C×C lists), so mIoU
pools over the data set.

The run is three steps: the pending work (configurations × images not yet in the store), scoring one
batch of one configuration, and its rows, appended to the store (:mod:`uwl_utils.results`) at once, so a
killed run loses at most the batch in flight.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from uwl_utils.attacks import ATTACKS, AttackInfo
from uwl_utils.attacks.base import effective_weighting
from uwl_utils.checks import check_class_counts, check_items, resolve_device
from uwl_utils.losses import Weighting, as_weighting
from uwl_utils.metrics import confusion_matrices, perturbation_norms, pixel_counts
from uwl_utils.results import load_results, select_rows, stored_keys, summarize, write_part

__all__ = [
    "AttackConfig",
    "attack_grid",
    "run",
    "summarize",
    "load_results",
    "model_identity",
    "resolve_device",
    "RunResult",
    "show_progress",
    "ENV_PROGRESS",
    "ATTACKS",
]

# Keyword arguments that are no configuration: they stay out of the options and the config hash.
_NOT_RECORDED = {"weighting", "progress", "info"}


@dataclass(frozen=True)
class AttackConfig:
    """One attack with fixed parameters. ``eps_255`` (0–255 units) becomes the attack's ε parameter
    (``eps``, or ``max_eps`` for minimal PGD: :attr:`~uwl_utils.attacks.AttackSpec.eps_param`)."""

    name: str
    eps_255: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in ATTACKS:
            raise ValueError(f"unknown attack {self.name!r}; known attacks: {', '.join(ATTACKS)}")

    def kwargs(self) -> dict[str, Any]:
        """The attack's keyword arguments, with every default filled in (for recording and hashing)."""
        spec = ATTACKS[self.name]
        params = dict(self.params)
        if self.eps_255 is not None:
            if spec.eps_param is None:
                raise ValueError(f"{self.name} takes no budget; give eps_255=None")
            params[spec.eps_param] = self.eps_255 / 255
        known = spec.parameters()
        unknown = set(params) - set(known)
        if unknown:
            raise ValueError(f"{self.name} has no parameter(s) {sorted(unknown)}; it takes {list(known)}")
        used = {name: p.default for name, p in known.items()} | params
        return {k: v for k, v in used.items() if k not in _NOT_RECORDED}


def attack_grid(name: str, eps_255: Iterable[float] | float | None = None, **params: Any) -> list[AttackConfig]:
    """AttackConfigs of one attack over several ε (0–255 units); e.g. ``attack_grid("ifgsm", [2, 4, 8])``."""
    eps_values = [None] if eps_255 is None else ([eps_255] if np.isscalar(eps_255) else list(eps_255))
    return [AttackConfig(name, None if e is None else float(e), params) for e in eps_values]


class RunResult(NamedTuple):
    rows: pd.DataFrame  # one row per image × configuration
    summary: pd.DataFrame  # pooled metrics per configuration


def _to_json(value: Any) -> Any:
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    if isinstance(value, torch.Tensor):  # e.g. a trained patch: recorded by shape and content hash
        digest = hashlib.sha256(value.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]
        return {"tensor": list(value.shape), "sha256": digest}
    if isinstance(value, list | tuple):
        return [_to_json(v) for v in value]
    return repr(value)


def _config_record(dataset_key: dict, model_key: dict, attack: AttackConfig, weighting: Weighting) -> dict:
    options = {k: _to_json(v) for k, v in sorted(attack.kwargs().items())}
    options.update({k: v for k, v in weighting.as_record().items() if k != "weighting"})
    ident = json.dumps([dataset_key, model_key, attack.name, options, weighting.scheme], sort_keys=True)
    return {
        "config": hashlib.sha256(ident.encode()).hexdigest()[:16],
        "attack": attack.name,
        "eps_255": attack.eps_255 if attack.eps_255 is not None else float("nan"),
        "weighting": weighting.scheme,
        "options": json.dumps(options, sort_keys=True),
    }


def model_identity(model: torch.nn.Module, name: str) -> dict:
    """A model's identity: its name and, where it came from a file, that file's content hash (16 hex digits);
    for a model wrapped by :func:`uwl_utils.adapters.wrap` without a file, the hash of its state instead.

    Part of every configuration's key, so a retrained checkpoint gets new rows; notebooks add it to the
    settings of what they cache (a trained patch) for the same reason.
    """
    from uwl_utils.models import file_sha256

    path = getattr(model, "checkpoint_path", None)
    digest = None
    if path is not None and Path(path).is_file():
        digest = file_sha256(path)[:16]
    elif callable(getattr(model, "state_digest", None)):
        digest = model.state_digest()
    return {"model": name, "checkpoint": digest}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _attack_batch(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, attack: AttackConfig, weighting: Weighting, device
) -> tuple[torch.Tensor, torch.Tensor, float, AttackInfo]:
    """Run one attack on one batch; returns (adversarial images, labels to score against, seconds, AttackInfo).

    Minimal-norm attacks report the ε they found per image in the info; the patch attack reports labels with
    its own area set to ignore, so that the metrics leave the patch out (docs/attacks.md §EOT patch evaluation).
    """
    info = AttackInfo()
    _sync(device)
    start = time.perf_counter()
    adv = ATTACKS[attack.name](model, images, labels, weighting=weighting, info=info, **attack.kwargs())
    _sync(device)
    return adv, labels if info.labels is None else info.labels, time.perf_counter() - start, info


class _Job(NamedTuple):
    """One configuration of one model: its record (config hash, options, ...) and what to run."""

    record: dict[str, Any]
    attack: AttackConfig
    weighting: Weighting


@dataclass
class _Batch:
    """One batch of the data set on the device, with the model's clean prediction computed when first needed."""

    model: nn.Module
    ids: list[str]
    images: torch.Tensor
    labels: torch.Tensor
    _clean: torch.Tensor | None = None

    def clean_pred(self) -> torch.Tensor:
        if self._clean is None:
            with torch.no_grad():
                self._clean = self.model(self.images).argmax(1)
        return self._clean


@dataclass(frozen=True)
class _Context:
    """What every row of one model on one data set shares."""

    dataset: str
    model_key: dict[str, Any]  # model name and checkpoint hash (a wrapped model: its state hash; else None)
    num_classes: int
    device: torch.device


def _check_grid(attacks: Sequence[AttackConfig], weightings: Sequence[Weighting]) -> None:
    """Fail on a bad parameter or an impossible attack × weighting pair before any work."""
    for a in attacks:
        a.kwargs()
    unweighted = sorted({a.name for a in attacks if not ATTACKS[a.name].weighted})
    if unweighted and any(w.scheme != "none" for w in weightings):
        raise ValueError(f"{unweighted} take no weighting; run them with weightings=['none'] only")
    not_cr = sorted({a.name for a in attacks} - {"cr_pgd"})
    if not_cr and any(w.scheme == "CR" for w in weightings):  # the certified radius needs cr_pgd's smoothing
        raise ValueError(f'weighting "CR" runs inside cr_pgd only; run {not_cr} in a grid without it')


def _open_dataset(
    dataset: str | Dataset, n_images: int, data_root: str | Path | None, image_size: tuple[int, int] | None
) -> tuple[Dataset, dict[str, Any]]:
    """(the first ``n_images`` of the data set, its key in the config hash)."""
    from uwl_utils import load_dataset

    if isinstance(dataset, str):
        name, dataset = dataset, load_dataset(dataset, split="val", root=data_root, size=image_size)
    else:
        name = getattr(dataset, "name", type(dataset).__name__)
    if n_images > len(dataset):
        raise ValueError(f"n_images={n_images} but the {name} split has only {len(dataset)} images")
    return Subset(dataset, range(n_images)), {"dataset": name, "size": list(image_size) if image_size else None}


def _models(models: Sequence[str] | Mapping[str, nn.Module], device: torch.device) -> Iterator[tuple[str, nn.Module]]:
    """(name, model) pairs; names are loaded one at a time, when their turn comes."""
    from uwl_utils import load_model

    items = models.items() if isinstance(models, Mapping) else ((m, None) for m in models)
    for name, model in items:
        yield name, model if model is not None else load_model(name, device=device)


def _model_classes(models: Sequence[str] | Mapping[str, nn.Module], data_classes: int | None) -> dict[str, int | None]:
    """Each model's class count, read off its registry entry for a name (nothing is loaded yet). A user model's
    name counts as the data set's: its output is checked against the labels when it is loaded and attacked."""
    from uwl_utils.models import get_spec
    from uwl_utils.user_models import USER_MODELS

    def classes(name: str, model: nn.Module | None) -> int | None:
        if model is not None:
            return getattr(model, "num_classes", None)
        return data_classes if name in USER_MODELS else get_spec(name).num_classes

    named = models if isinstance(models, Mapping) else dict.fromkeys(models)
    return {n: classes(n, m) for n, m in named.items()}


def _batches(model: nn.Module, batches: Iterable[dict[str, Any]], device: torch.device) -> Iterator[_Batch]:
    for batch in batches:
        yield _Batch(model, list(batch["id"]), batch["image"].to(device), batch["label"].to(device))


def _pending(jobs: Sequence[_Job], ids: Sequence[str], done: set[tuple[str, str]]) -> list[tuple[_Job, list[int]]]:
    """Per job with work left on this batch, the positions of the images it still lacks."""
    todo = [[i for i, image_id in enumerate(ids) if (job.record["config"], image_id) not in done] for job in jobs]
    return [(job, positions) for job, positions in zip(jobs, todo, strict=True) if positions]


def _score(batch: _Batch, todo: list[int], job: _Job, ctx: _Context) -> list[dict[str, Any]]:
    """Attack the images ``todo`` of ``batch`` with one job; returns their rows."""
    x, y = batch.images[todo], batch.labels[todo]
    clean_pred = batch.clean_pred()[todo]
    adv, y_eval, seconds, info = _attack_batch(batch.model, x, y, job.attack, job.weighting, ctx.device)
    with torch.no_grad():
        adv_pred = batch.model(adv).argmax(1)
    n_wrong_clean, n_valid = pixel_counts(clean_pred, y_eval)
    n_wrong_adv, _ = pixel_counts(adv_pred, y_eval)
    norms = perturbation_norms(adv, x)
    conf_clean = confusion_matrices(clean_pred, y_eval, ctx.num_classes).flatten(1).cpu().numpy()
    conf_adv = confusion_matrices(adv_pred, y_eval, ctx.num_classes).flatten(1).cpu().numpy()
    record = _record_used(job.record, info)
    extra = {}
    if info.eps_found is not None:  # reached_threshold False: scored on what the attack returned
        extra = {
            "eps_found_255": (info.eps_found * 255).tolist(),
            "reached_threshold": info.eps_found.isfinite().tolist(),
        }
    return [
        {
            "dataset": ctx.dataset,
            **ctx.model_key,
            **record,
            "image_id": batch.ids[i],
            "n_valid": int(n_valid[k]),
            "n_wrong_clean": int(n_wrong_clean[k]),
            "n_wrong_adv": int(n_wrong_adv[k]),
            "linf_255": float(norms["linf"][k]) * 255,
            "l2": float(norms["l2"][k]),
            "seconds": seconds / len(todo),
            "num_classes": ctx.num_classes,
            "conf_clean": conf_clean[k].tolist(),
            "conf_adv": conf_adv[k].tolist(),
            **{name: values[k] for name, values in extra.items()},
        }
        for k, i in enumerate(todo)
    ]


def _record_used(record: dict[str, Any], info: AttackInfo) -> dict[str, Any]:
    """``record`` with the values the attack resolved from None defaults in its options; the hash stays."""
    if not info.params:
        return record
    options = json.loads(record["options"]) | {k: _to_json(v) for k, v in info.params.items()}
    return {**record, "options": json.dumps(options, sort_keys=True)}


ENV_PROGRESS = "UWL_PROGRESS"


def show_progress(progress: bool | None = None) -> bool:
    """Whether to draw progress bars: ``progress`` when given, else the environment variable ``UWL_PROGRESS``
    ("0": off; unset: on). The notebook tools and the nbval run set it to "0", so that executed notebooks store
    no widget bar frozen at 0 % (a widget's state is not stored)."""
    return os.environ.get(ENV_PROGRESS, "1") != "0" if progress is None else progress


def run(
    models: Sequence[str] | Mapping[str, torch.nn.Module],
    attacks: Sequence[AttackConfig],
    weightings: Sequence[str | Weighting],
    dataset: str | Dataset,
    *,
    n_images: int = 16,
    batch_size: int = 8,
    device: str | torch.device = "auto",
    out: str | Path,
    data_root: str | Path | None = None,
    image_size: tuple[int, int] | None = None,
    progress: bool | None = None,
) -> RunResult:
    """Attack the first ``n_images`` of ``dataset`` with every model × attack × weighting; resumable.

    ``models`` are names for :func:`uwl_utils.load_model` (or a mapping name → loaded model); ``dataset``
    a name for :func:`uwl_utils.load_dataset` (with ``data_root``, ``image_size``) or a Dataset. Rows
    are appended under ``out`` batch by batch; rows already there are not recomputed. Returns the rows of
    this call's configurations and images only, whether computed now or read back: rows that ``out`` holds
    from other settings (another checkpoint of a model, other attacks, more images) stay on disk for
    :func:`load_results` but are not mixed in. ``progress`` shows a bar (None: :func:`show_progress`).
    """
    device = resolve_device(device)
    weightings = [as_weighting(w) for w in weightings]
    _check_grid(attacks, weightings)
    if n_images < 1 or batch_size < 1:
        raise ValueError(f"n_images and batch_size must be at least 1; got {n_images} and {batch_size}")
    data, dataset_key = _open_dataset(dataset, n_images, data_root, image_size)
    data_classes = getattr(data.dataset, "num_classes", None)
    num_classes = check_class_counts(_model_classes(models, data_classes), data_classes, dataset_key["dataset"])
    checked = _checked_batches(data, batch_size, num_classes)  # every item checked before any attack runs
    Path(out).mkdir(parents=True, exist_ok=True)
    done = stored_keys(load_results(out))
    # each attack's own default for detach_weights (detached where it descends), recorded in its rows' options
    grid = [(a, effective_weighting(ATTACKS[a.name].fn, w)) for a, w in itertools.product(attacks, weightings)]
    bar = tqdm(total=len(grid) * n_images * len(models), desc="attacks", disable=not show_progress(progress))
    wanted_configs, wanted_ids = set(), set()
    for name, model in _models(models, device):
        ctx = _Context(dataset_key["dataset"], model_identity(model, name), model.num_classes, device)
        jobs = [_Job(_config_record(dataset_key, ctx.model_key, a, w), a, w) for a, w in grid]
        wanted_configs.update(job.record["config"] for job in jobs)
        for batch in _batches(model, checked or DataLoader(data, batch_size=batch_size), device):
            wanted_ids.update(batch.ids)
            pending = _pending(jobs, batch.ids, done)
            bar.update(len(jobs) * len(batch.ids) - sum(len(todo) for _, todo in pending))
            for job, todo in pending:
                rows = _score(batch, todo, job, ctx)
                write_part(rows, out)
                done.update((job.record["config"], row["image_id"]) for row in rows)
                bar.update(len(todo))
    bar.close()
    rows = select_rows(load_results(out), wanted_configs, wanted_ids)
    return RunResult(rows, summarize(rows))


def _checked_batches(subset: Dataset, batch_size: int, num_classes: int, keep_bytes: int = 1 << 30) -> list | None:
    """Every item's image and label checked (:func:`uwl_utils.checks.check_items`) before any attack runs; the
    batches are returned for reuse while they fit in ``keep_bytes``, else None (the attack loop loads them again)."""
    kept: list | None = []
    size = 0
    for batch in DataLoader(subset, batch_size=batch_size):
        check_items([batch], num_classes)
        size += batch["image"].nbytes + batch["label"].nbytes
        kept = kept if kept is not None and size <= keep_bytes else None
        if kept is not None:
            kept.append(batch)
    return kept
