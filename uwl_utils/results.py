"""The result store of :func:`uwl_utils.experiment.run` and its summaries.

A store is a folder of parquet parts, one per finished batch of one configuration, each holding one row per
(image, model, attack configuration, weighting). Parts are written atomically, so a killed run leaves whole
parts only and a rerun computes just the (configuration, image) pairs that are missing.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from uwl_utils.files import atomic_write
from uwl_utils.metrics import ConfusionMatrix

__all__ = ["load_results", "write_part", "stored_keys", "select_rows", "summarize"]


def load_results(out: str | Path) -> pd.DataFrame:
    """All rows written under ``out`` so far (empty frame if none), one per (config, image_id).

    Two runs writing into one folder at once may both compute a row; the copy in the first part file (in name
    order: oldest first) is kept. Files of a run killed while writing (atomic_write's temporaries) are never read.
    """
    parts = sorted(Path(out).glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame()
    rows = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    return rows.drop_duplicates(["config", "image_id"], ignore_index=True)


def write_part(rows: list[dict], out: str | Path) -> Path:
    """Append ``rows`` to the store ``out`` as one new part; returns its path."""
    path = Path(out) / f"part-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.parquet"
    with atomic_write(path) as tmp:
        pd.DataFrame(rows).to_parquet(tmp, index=False)
    return path


def stored_keys(rows: pd.DataFrame) -> set[tuple[str, str]]:
    """The (config, image_id) pairs that ``rows`` hold."""
    return set(zip(rows.get("config", []), rows.get("image_id", []), strict=True))


def select_rows(rows: pd.DataFrame, configs: Iterable[str], image_ids: Iterable[str]) -> pd.DataFrame:
    """The rows of the given configurations and images, in stored order, re-indexed."""
    if rows.empty:
        return rows
    keep = rows["config"].isin(set(configs)) & rows["image_id"].isin(set(image_ids))
    return rows[keep].reset_index(drop=True)


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
