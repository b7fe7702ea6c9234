"""Run a grid of models × attacks × weighting schemes over a data set into tidy, resumable results.

One row per (image, model, attack configuration, weighting): the attack's full keyword set (defaults
included) and the weighting's options go into ``options`` and into a ``config`` hash, so a changed
option makes new rows instead of mixing with old ones. Per-image confusion counts of the clean and the
adversarial prediction are kept in the row (flattened C×C lists), so mIoU pools over the data set.

Results are written under ``out`` as one parquet file per finished batch; a rerun reads them back and
computes only the (configuration, image) pairs that are missing, so a killed run loses at most the
batch in flight.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import math
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from uwl_utils import attacks as attack_lib
from uwl_utils.attacks.base import effective_weighting
from uwl_utils.checks import check_class_counts, check_items
from uwl_utils.losses import Weighting, as_weighting
from uwl_utils.metrics import ConfusionMatrix, confusion_matrices, perturbation_norms

__all__ = [
    "AttackConfig",
    "attack_grid",
    "run",
    "summarize",
    "load_results",
    "model_identity",
    "resolve_device",
    "RunResult",
]

# Attacks the runner knows: name -> function. eps_255 is given in 0–255 units and passed as eps (or max_eps).
ATTACKS = {
    "fgsm": attack_lib.fgsm,
    "ifgsm": attack_lib.ifgsm,
    "pgd": attack_lib.pgd,
    "minimal_pgd": attack_lib.minimal_pgd,
    "apgd": attack_lib.apgd,
    "sea": attack_lib.sea,
    "alma_prox": attack_lib.alma_prox,
    "cr_pgd": attack_lib.cr_pgd,
    "sparse_ifgsm": attack_lib.sparse_ifgsm,
    "uniform_noise": attack_lib.uniform_noise,
    "patch_eot": attack_lib.patch_eot,
}
_NOT_RECORDED = {"model", "images", "labels", "weighting", "progress", "return_eps", "return_labels", "info"}


@dataclass(frozen=True)
class AttackConfig:
    """One attack with fixed parameters. ``eps_255`` (0–255 units) becomes the attack's ``eps``."""

    name: str
    eps_255: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in ATTACKS:
            raise ValueError(f"unknown attack {self.name!r}; known attacks: {', '.join(ATTACKS)}")

    def kwargs(self) -> dict[str, Any]:
        """The attack's keyword arguments, with every default filled in (for recording and hashing)."""
        fn = ATTACKS[self.name]
        params = dict(self.params)
        if self.eps_255 is not None:
            params["max_eps" if self.name == "minimal_pgd" else "eps"] = self.eps_255 / 255
        sig = inspect.signature(fn)
        unknown = set(params) - set(sig.parameters)
        if unknown:
            raise ValueError(f"{self.name} has no parameter(s) {sorted(unknown)}; it takes {list(sig.parameters)[3:]}")
        bound = sig.bind_partial(**params)
        bound.apply_defaults()
        return {k: v for k, v in bound.arguments.items() if k not in _NOT_RECORDED}


def attack_grid(name: str, eps_255: Iterable[float] | float | None = None, **params: Any) -> list[AttackConfig]:
    """AttackConfigs of one attack over several ε (0–255 units); e.g. ``attack_grid("ifgsm", [2, 4, 8])``."""
    eps_values = [None] if eps_255 is None else ([eps_255] if np.isscalar(eps_255) else list(eps_255))
    return [AttackConfig(name, None if e is None else float(e), params) for e in eps_values]


class RunResult(NamedTuple):
    rows: pd.DataFrame  # one row per image × configuration
    summary: pd.DataFrame  # pooled metrics per configuration


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; asking for CUDA without a GPU is an error that says so."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError('DEVICE="cuda" but torch sees no CUDA GPU here; use DEVICE="cpu" or "auto"')
    return device


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


def load_results(out: str | Path) -> pd.DataFrame:
    """All rows written under ``out`` so far (empty frame if none), one per (config, image_id).

    Two runs writing into one folder at once may both compute a row; the copy in the first part file (in
    name order: oldest first) is kept. Files of a run killed while writing (``.tmp-*``) are never read.
    """
    parts = sorted(Path(out).glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame()
    rows = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    return rows.drop_duplicates(["config", "image_id"], ignore_index=True)


def _write_part(rows: list[dict], out: Path) -> None:
    tmp = out / f".tmp-{uuid.uuid4().hex}.parquet"
    pd.DataFrame(rows).to_parquet(tmp, index=False)
    tmp.rename(out / f"part-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.parquet")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _attack_batch(model, images, labels, attack: AttackConfig, weighting: Weighting, device) -> tuple:
    """Run one attack on one batch; returns (adversarial images, labels to score against, seconds, extra columns).

    Minimal-norm attacks also report the ε they found per image; the patch attack returns labels with its own
    area set to ignore, so that the metrics leave the patch out (docs/attacks.md §EOT patch evaluation).
    """
    fn, kwargs = ATTACKS[attack.name], attack.kwargs()
    extra: dict[str, Any] = {}
    _sync(device)
    start = time.perf_counter()
    if "return_eps" in inspect.signature(fn).parameters:
        adv, eps_found = fn(model, images, labels, weighting=weighting, return_eps=True, **kwargs)
        extra["eps_found_255"] = (eps_found * 255).tolist()
        extra["reached_threshold"] = eps_found.isfinite().tolist()  # False: scored on what the attack returned
    elif "return_labels" in inspect.signature(fn).parameters:
        adv, labels = fn(model, images, labels, weighting=weighting, return_labels=True, **kwargs)
    else:
        adv = fn(model, images, labels, weighting=weighting, **kwargs)
    _sync(device)
    return adv, labels, time.perf_counter() - start, extra


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
    progress: bool = True,
) -> RunResult:
    """Attack the first ``n_images`` of ``dataset`` with every model × attack × weighting; resumable.

    ``models`` are names for :func:`uwl_utils.load_model` (or a mapping name → loaded model); ``dataset``
    a name for :func:`uwl_utils.load_dataset` (with ``data_root``, ``image_size``) or a Dataset. Rows
    are appended under ``out`` batch by batch; rows already there are not recomputed. Returns the rows of
    this call's configurations and images only, whether computed now or read back: rows that ``out`` holds
    from other settings (another checkpoint of a model, other attacks, more images) stay on disk for
    :func:`load_results` but are not mixed in.
    """
    from uwl_utils import load_dataset, load_model
    from uwl_utils.models import get_spec

    device = resolve_device(device)
    weightings = [as_weighting(w) for w in weightings]
    for a in attacks:
        a.kwargs()  # fail on a bad parameter before any work
    not_cr = sorted({a.name for a in attacks} - {"cr_pgd"})
    if not_cr and any(w.scheme == "CR" for w in weightings):  # the certified radius needs cr_pgd's smoothing
        raise ValueError(f'weighting "CR" runs inside cr_pgd only; run {not_cr} in a grid without it')
    if isinstance(dataset, str):
        dataset_name = dataset
        dataset = load_dataset(dataset, split="val", root=data_root, size=image_size)
    else:
        dataset_name = getattr(dataset, "name", type(dataset).__name__)
    if n_images < 1 or batch_size < 1:
        raise ValueError(f"n_images and batch_size must be at least 1; got {n_images} and {batch_size}")
    if n_images > len(dataset):
        raise ValueError(f"n_images={n_images} but the {dataset_name} split has only {len(dataset)} images")
    subset = Subset(dataset, range(n_images))
    named = models if isinstance(models, Mapping) else dict.fromkeys(models)
    model_classes = {
        n: get_spec(n).num_classes if m is None else getattr(m, "num_classes", None) for n, m in named.items()
    }
    num_classes = check_class_counts(model_classes, getattr(dataset, "num_classes", None), dataset_name)
    batches = _checked_batches(subset, batch_size, num_classes)
    dataset_key = {"dataset": dataset_name, "size": list(image_size) if image_size else None}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done_before = load_results(out)
    done = set(zip(done_before.get("config", []), done_before.get("image_id", []), strict=True))

    model_items = models.items() if isinstance(models, Mapping) else ((m, None) for m in models)
    # each attack's own default for detach_weights (detached where it descends), recorded in its rows' options
    combos = [(a, effective_weighting(ATTACKS[a.name], w)) for a, w in itertools.product(attacks, weightings)]
    bar = tqdm(total=len(combos) * n_images * len(models), desc="attacks", disable=not progress)
    wanted_configs: set[str] = set()
    wanted_ids: set[str] = set()
    for model_name, model in model_items:
        model = model if model is not None else load_model(model_name, device=device)
        model_key = model_identity(model, model_name)
        records = [(_config_record(dataset_key, model_key, a, w), a, w) for a, w in combos]
        wanted_configs.update(record["config"] for record, _, _ in records)
        for batch in batches if batches is not None else DataLoader(subset, batch_size=batch_size):
            images, labels = batch["image"].to(device), batch["label"].to(device)
            ids = list(batch["id"])
            wanted_ids.update(ids)
            clean_pred = None
            for record, attack, weighting in records:
                todo = [i for i, image_id in enumerate(ids) if (record["config"], image_id) not in done]
                bar.update(len(ids) - len(todo))
                if not todo:
                    continue
                x, y = images[todo], labels[todo]
                if clean_pred is None:
                    with torch.no_grad():
                        clean_pred = model(images).argmax(1)
                adv, y_eval, seconds, extra = _attack_batch(model, x, y, attack, weighting, device)
                with torch.no_grad():
                    adv_pred = model(adv).argmax(1)
                rows = _rows(dataset_name, model_key, record, [ids[i] for i in todo], x, y_eval, clean_pred[todo],
                             adv, adv_pred, seconds, extra, model.num_classes)  # fmt: skip
                _write_part(rows, out)
                done.update((record["config"], r["image_id"]) for r in rows)
                bar.update(len(todo))
    bar.close()
    rows = load_results(out)
    if len(rows):
        rows = rows[rows["config"].isin(wanted_configs) & rows["image_id"].isin(wanted_ids)].reset_index(drop=True)
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


def _rows(dataset, model_key, record, ids, images, labels, clean_pred, adv, adv_pred, seconds, extra, num_classes):
    valid = labels != 255
    norms = perturbation_norms(adv, images)
    conf_clean = confusion_matrices(clean_pred, labels, num_classes).flatten(1).cpu().numpy()
    conf_adv = confusion_matrices(adv_pred, labels, num_classes).flatten(1).cpu().numpy()
    n = len(ids)
    out = []
    for i in range(n):
        out.append(
            {
                "dataset": dataset,
                **model_key,  # model name and checkpoint hash (a wrapped model: its state hash; else None)
                **record,
                "image_id": ids[i],
                "n_valid": int(valid[i].sum()),
                "n_wrong_clean": int(((clean_pred[i] != labels[i]) & valid[i]).sum()),
                "n_wrong_adv": int(((adv_pred[i] != labels[i]) & valid[i]).sum()),
                "linf_255": float(norms["linf"][i]) * 255,
                "l2": float(norms["l2"][i]),
                "seconds": seconds / n,
                "num_classes": num_classes,
                "conf_clean": conf_clean[i].tolist(),
                "conf_adv": conf_adv[i].tolist(),
                **{k: v[i] for k, v in extra.items()},
            }
        )
    return out


_GROUP = ["dataset", "model", "attack", "eps_255", "weighting", "options", "config"]


def _n_reached(g: pd.DataFrame) -> float:
    """How many images of a minimal-norm attack reached its success threshold (NaN for other attacks)."""
    reached = g["reached_threshold"] if "reached_threshold" in g else pd.Series(dtype=object)
    return float(reached.fillna(False).astype(bool).sum()) if reached.notna().any() else math.nan


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Pooled metrics per configuration, in %: APSR pooled over pixels and as the mean of per-image values
    (clean and adversarial; images without a valid pixel are skipped), clean and adversarial mIoU from summed
    confusion counts, ΔmIoU, and seconds per image.

    Minimal-norm attacks are scored on the image they return: minimal PGD's adversarial at the smallest ε
    that reached its threshold, or, for an image that never did, the unperturbed image (its clean APSR
    counts); ALMA prox's smallest successful iterate, or else its iterate of highest APSR.
    ``n_reached_threshold`` counts the images that reached it (NaN for attacks without a threshold).
    """
    if rows.empty:
        return pd.DataFrame()
    out = []
    for key, g in rows.groupby(_GROUP, dropna=False, sort=False):
        c = int(g["num_classes"].iloc[0])
        clean, adv = ConfusionMatrix(c), ConfusionMatrix(c)
        clean.add(np.stack(g["conf_clean"].to_numpy()))
        adv.add(np.stack(g["conf_adv"].to_numpy()))
        scored = g["n_valid"] > 0  # an image without valid pixels has no APSR: skipped, as metrics.apsr does
        per_image = g["n_wrong_adv"][scored] / g["n_valid"][scored]
        out.append(
            {
                **dict(zip(_GROUP, key, strict=True)),
                "n_images": len(g),
                "apsr_clean": 100 * g["n_wrong_clean"].sum() / g["n_valid"].sum(),
                "apsr": 100 * g["n_wrong_adv"].sum() / g["n_valid"].sum(),
                # fsum: exact in any row order
                "apsr_image_mean": 100 * math.fsum(per_image) / len(per_image) if len(per_image) else math.nan,
                "n_reached_threshold": _n_reached(g),
                "miou_clean": 100 * clean.miou(),
                "miou_adv": 100 * adv.miou(),
                "delta_miou": 100 * (clean.miou() - adv.miou()),
                "linf_255_mean": g["linf_255"].mean(),
                "seconds_per_image": g["seconds"].mean(),
            }
        )
    return pd.DataFrame(out).sort_values(["model", "attack", "eps_255", "weighting"], ignore_index=True)
