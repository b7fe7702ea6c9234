"""Paired comparisons over the per-image result rows, and table export (docs/metrics.md §Paired comparisons).

Rows are the tidy per-image rows of :func:`uwl_utils.experiment.run` (columns ``model``, ``attack``,
``eps_255``, ``weighting``, ``options``, ``image_id``, ``n_valid``, ``n_wrong_clean``, ``n_wrong_adv``, …).
Two configurations attacked on the same images are compared image by image: the mean of the per-image
differences with its standard error sd/√n, and how many images each side wins. Pairing removes the
between-image variance, which is far larger than the effect of a weighting.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from uwl_utils.files import atomic_write

__all__ = [
    "CELL",
    "CONFUSION_COLUMNS",
    "per_image_apsr",
    "per_image_delta_miou",
    "difference_stats",
    "paired",
    "per_image_table",
    "gains_over_baseline",
    "paired_vs_baseline",
    "wins_over_baseline",
    "pooled_gain",
    "worst_case",
    "winners",
    "option_values",
    "markdown_table",
    "export_table",
    "export_results",
    "cached_tensor",
]

CELL = ["model", "attack", "eps_255"]  # one comparison: a model under one attack at one ε
CONFUSION_COLUMNS = ["conf_clean", "conf_adv"]  # per-image confusion counts, left out of exported row tables


def per_image_apsr(rows: pd.DataFrame) -> pd.Series:
    """Per-image APSR in % (paper Eq. 11 on one image); NaN for an image without a valid pixel."""
    valid = rows["n_valid"].astype(float)
    return 100 * rows["n_wrong_adv"] / valid.where(valid > 0)


def per_image_delta_miou(rows: pd.DataFrame) -> pd.Series:
    """Per-image ΔmIoU in points: the mIoU of the image's own clean confusion matrix minus that of its adversarial
    one (classes with an empty union on that image left out, as :func:`uwl_utils.metrics.miou`)."""
    from uwl_utils.metrics import miou

    def image_miou(flat: list, classes: int) -> float:
        return miou(torch.tensor(flat).reshape(classes, classes))

    clean = [image_miou(m, c) for m, c in zip(rows["conf_clean"], rows["num_classes"], strict=True)]
    adv = [image_miou(m, c) for m, c in zip(rows["conf_adv"], rows["num_classes"], strict=True)]
    return (100 * (pd.Series(clean, index=rows.index) - pd.Series(adv, index=rows.index))).rename("delta_miou")


def difference_stats(diff: pd.Series) -> pd.Series:
    """n_images, mean, standard error sd/√n (NaN below 2 images), better (> 0) and worse (< 0) counts of
    per-image differences; NaN differences are left out."""
    diff = diff.dropna()
    n = len(diff)
    return pd.Series(
        {
            "n_images": n,
            "mean": float(diff.mean()) if n else float("nan"),
            "se": float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan"),
            "better": int((diff > 0).sum()),
            "worse": int((diff < 0).sum()),
        }
    )


def paired(rows: pd.DataFrame, a: pd.Series, b: pd.Series, value: pd.Series | None = None) -> tuple[float, float, int]:
    """Mean, standard error and count of the per-image difference ``value[a] − value[b]`` over the images that
    both selections (boolean masks over ``rows``) hold; ``value`` defaults to the per-image APSR."""
    value = per_image_apsr(rows) if value is None else value
    left = value[a].groupby(rows.loc[a, "image_id"]).mean()
    right = value[b].groupby(rows.loc[b, "image_id"]).mean()
    stats = difference_stats(left - right)
    return stats["mean"], stats["se"], int(stats["n_images"])


def per_image_table(rows: pd.DataFrame, cell: Sequence[str] = CELL, columns: str = "weighting") -> pd.DataFrame:
    """Per-image APSR (%) with one column per value of ``columns`` and the index ``[*cell, "image_id"]``.

    Raises a ValueError where two rows share a cell, a column value and an image (rows of two configurations
    that differ only in options the cell does not name): their average would mix two experiments.
    """
    keys = [*cell, columns, "image_id"]
    dup = rows.duplicated(keys)
    if dup.any():
        first = rows.loc[dup, keys].iloc[0].to_dict()
        raise ValueError(f"{int(dup.sum())} rows repeat a ({', '.join(keys)}) key, e.g. {first}: rows of two "
                         "configurations are mixed; select one configuration first")  # fmt: skip
    table = rows.assign(apsr=per_image_apsr(rows))
    # dropna=False keeps cells whose ε is NaN (minimal-norm attacks) but pairs every index level with every other:
    # the combinations no row has come out all-NaN and are dropped.
    per_image = table.pivot_table(index=[*cell, "image_id"], columns=columns, values="apsr", dropna=False)
    return per_image.dropna(how="all")


def _others(per_image: pd.DataFrame, baseline: str) -> list:
    """The columns of a per-image table other than ``baseline``, which must be one of them."""
    if baseline not in per_image.columns:
        raise ValueError(f"baseline {baseline!r} is not a column; columns: {list(per_image.columns)}")
    return [c for c in per_image.columns if c != baseline]


def gains_over_baseline(per_image: pd.DataFrame, baseline: str = "none") -> pd.DataFrame:
    """Long table of per-image differences ``column − baseline`` (points) of :func:`per_image_table`, one row per
    (cell, image, column) with the column's name under ``weighting`` and the difference under ``diff_points``."""
    others = _others(per_image, baseline)
    diffs = per_image[others].sub(per_image[baseline], axis=0)
    diffs.columns.name = "weighting"
    return diffs.stack().rename("diff_points").reset_index()


def paired_vs_baseline(rows: pd.DataFrame, baseline: str = "none", cell: Sequence[str] = CELL) -> pd.DataFrame:
    """Per (cell, weighting): :func:`difference_stats` of the per-image APSR gain over ``baseline`` (points)."""
    diffs = gains_over_baseline(per_image_table(rows, cell), baseline)
    stats = diffs.groupby([*cell, "weighting"], sort=False, dropna=False).diff_points.apply(difference_stats).unstack()
    return stats.astype({"n_images": int, "better": int, "worse": int})


def wins_over_baseline(
    rows: pd.DataFrame, baseline: str = "none", by: Sequence[str] = ("attack", "eps_255"), cell: Sequence[str] = CELL
) -> pd.DataFrame:
    """Share of images (%) on which each weighting's APSR is strictly above ``baseline``'s, grouped by ``by``
    (images of every model in a group count together); one column per weighting."""
    per_image = per_image_table(rows, cell)
    others = _others(per_image, baseline)
    both = per_image[others].notna() & per_image[[baseline]].notna().to_numpy()
    better = per_image[others].gt(per_image[baseline], axis=0).where(both)  # NaN (not a loss) without a partner
    return better.groupby(list(by), dropna=False).mean() * 100


def pooled_gain(
    summary: pd.DataFrame,
    baseline: str = "none",
    metric: str = "apsr",
    cell: Sequence[str] = CELL,
    by: Sequence[str] = ("attack", "eps_255"),
) -> pd.DataFrame:
    """Gain of each weighting's ``metric`` over ``baseline``'s in a summary (one row per cell and weighting),
    averaged over the cells of each ``by`` group (e.g. over models); one column per weighting."""
    table = summary.pivot_table(index=list(cell), columns="weighting", values=metric, dropna=False).dropna(how="all")
    if baseline not in table.columns:
        raise ValueError(f"baseline {baseline!r} has no {metric} in the summary; weightings: {list(table.columns)}")
    gains = table.drop(columns=baseline).sub(table[baseline], axis=0)
    return gains.groupby(list(by), dropna=False).mean()


def worst_case(rows: pd.DataFrame, weightings: Sequence[str], label: str, cell: Sequence[str] = CELL) -> pd.DataFrame:
    """Per (cell, image), the row of the weighting with the highest per-image APSR among ``weightings``, ties
    to the earlier one in ``weightings``: the worst case over several attacks, as an ensemble reports it.

    The kept rows are relabelled (``weighting``, ``config`` = ``label``, ``options`` empty) so that summaries
    treat them as one configuration; ``source`` names the weighting each row came from."""
    rank = {w: i for i, w in enumerate(weightings)}
    sub = rows[rows["weighting"].isin(weightings)]
    sub = sub.assign(_apsr=per_image_apsr(sub)).sort_values("weighting", key=lambda w: w.map(rank), kind="stable")
    best = sub.loc[sub.groupby([*cell, "image_id"], sort=False, dropna=False)["_apsr"].idxmax()].drop(columns="_apsr")
    return best.assign(source=best["weighting"], weighting=label, options="", config=label)


def winners(values: pd.Series) -> str:
    """The index label of the largest value, or ``"tie of a, b"`` when several share it."""
    best = values.index[values == values.max()]
    return str(best[0]) if len(best) == 1 else "tie of " + ", ".join(map(str, best))


def option_values(frame: pd.DataFrame, key: str) -> pd.Series:
    """The value of option ``key`` in each row's ``options`` JSON (the attack's keywords and the weighting's
    options); a row whose options lack the key raises a KeyError naming it."""

    def value(options: str) -> Any:
        parsed = json.loads(options) if options else {}
        if key not in parsed:
            raise KeyError(f"option {key!r} is not in the row's options; it has {sorted(parsed)}")
        return parsed[key]

    return frame["options"].map(value).rename(key)


def markdown_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Lines of a GitHub markdown table; ``|`` inside a cell is escaped."""

    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header)] + [line(r) for r in rows]


def _frame_markdown(table: pd.DataFrame, index: bool) -> list[str]:
    flat = table.reset_index() if index else table
    header = [" / ".join(map(str, c)) if isinstance(c, tuple) else c for c in flat.columns]
    cells = [["" if isinstance(v, float) and math.isnan(v) else v for v in row] for row in flat.itertuples(index=False)]
    return markdown_table(header, cells)


def export_table(
    table: pd.DataFrame, name: str, out_dir: str | Path, profile: str | None = None, index: bool = True
) -> list[Path]:
    """Write ``table`` as ``<out_dir>/<name>.csv`` and ``<name>.md`` (a profile column added when given);
    returns the two paths. ``index`` keeps the index as leading columns."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = table if profile is None else table.assign(profile=profile)
    paths = [out / f"{name}.csv", out / f"{name}.md"]
    table.to_csv(paths[0], index=index)
    paths[1].write_text("\n".join(_frame_markdown(table, index)) + "\n")
    return paths


def export_results(summary: pd.DataFrame, rows: pd.DataFrame, name: str, out_dir: str | Path) -> list[Path]:
    """A notebook's summary and its per-image rows (without the confusion counts) as ``<name>.csv`` /
    ``<name>.md`` and ``<name>_rows.csv``; returns the paths."""
    paths = export_table(summary, name, out_dir, index=False)
    rows_path = Path(out_dir) / f"{name}_rows.csv"
    rows.drop(columns=[c for c in CONFUSION_COLUMNS if c in rows.columns]).to_csv(rows_path, index=False)
    return [*paths, rows_path]


def cached_tensor(path: str | Path, settings: dict[str, Any], compute: Callable[[], torch.Tensor]) -> torch.Tensor:
    """The tensor saved at ``path`` if it was saved with equal ``settings``, else ``compute()`` saved with them.

    ``settings`` should name everything the tensor depends on (e.g. a trained patch: the model's checkpoint
    hash, the training images, the schedule), so that a changed input recomputes it. Saved on the CPU, written
    to a temporary file and renamed, so that a killed run never leaves a partial file."""
    path = Path(path)
    if path.exists():
        saved = torch.load(path)
        if saved["settings"] == settings:
            return saved["tensor"]
    tensor = compute().detach().cpu()
    with atomic_write(path) as tmp:
        torch.save({"tensor": tensor, "settings": settings}, tmp)
    return tensor
