"""Figures: class-palette overlays of segmentations and the seaborn plots the notebooks share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from uwl_utils.checks import IGNORE_INDEX

__all__ = [
    "colorize",
    "overlay",
    "show_segmentations",
    "present_classes",
    "sample_grid",
    "metric_bars",
    "paired_points",
    "metric_lines",
    "save_figure",
    "footnote",
    "relabel_titles",
    "METRIC_LABELS",
    "WEIGHTING_ORDER",
    "weighting_colors",
]

IGNORE_COLOR = (255, 255, 255)
METRIC_LABELS = {
    "apsr": "APSR (%)",
    "apsr_image_mean": "APSR, mean over images (%)",
    "delta_miou": "ΔmIoU (points)",
    "miou_adv": "adversarial mIoU (%)",
    "seconds_per_image": "seconds per image",
    "eps_255": "ε × 255",
    "diff_points": "per-image APSR − none (points)",
}
WEIGHTING_ORDER = ["none", "M", "D", "Mbar", "E", "L0", "L0+E", "CR", "SegPGD", "CosPGD", "MaskCE", "MaskCE-Bal", "JS"]
# One colour per weighting in every figure: seaborn's "deep" for the paper's schemes (none grey), "dark" for the rest.
_WEIGHTING_COLORS = dict(
    zip(WEIGHTING_ORDER, [(0.5, 0.5, 0.5), *sns.color_palette("deep", 7), *sns.color_palette("dark", 5)], strict=True)
)


def weighting_colors(names: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """The fixed colour of each weighting in ``names``; names outside WEIGHTING_ORDER get the "muted" palette
    in order of appearance (so a figure's colours never depend on which other weightings it shows)."""
    extra = [n for n in dict.fromkeys(names) if n not in _WEIGHTING_COLORS]
    muted = dict(zip(extra, sns.color_palette("muted", max(len(extra), 1)), strict=False))
    return {n: _WEIGHTING_COLORS.get(n, muted.get(n)) for n in dict.fromkeys(names)}


def _numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def colorize(
    label: torch.Tensor | np.ndarray, palette: Sequence[Sequence[int]], ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """A label map [H,W] as an RGB uint8 image [H,W,3] in the class palette (ignore pixels white)."""
    label = _numpy(label).astype(np.int64)
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[: len(palette)] = np.asarray(palette, dtype=np.uint8)
    lut[ignore_index] = IGNORE_COLOR
    return lut[label]


def _image(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """[3,H,W] in [0,1] → [H,W,3] uint8."""
    image = _numpy(image)
    return (np.clip(image.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)


def overlay(image, label, palette, alpha: float = 0.55, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Blend a label map's palette colours over an image [3,H,W] in [0,1]; ignore pixels show the image."""
    img = _image(image).astype(np.float32)
    colors = colorize(label, palette, ignore_index).astype(np.float32)
    keep = (_numpy(label) == ignore_index)[..., None]
    out = np.where(keep, img, (1 - alpha) * img + alpha * colors)
    return out.astype(np.uint8)


def show_segmentations(
    panels: Sequence[tuple[str, torch.Tensor | np.ndarray, str]],
    palette: Sequence[Sequence[int]],
    *,
    ncols: int | None = None,
    panel_width: float = 3.2,
    title: str | None = None,
    class_names: Sequence[str] | None = None,
) -> plt.Figure:
    """A grid of panels, each (title, tensor, kind) with kind ``"image"`` ([3,H,W] in [0,1]), ``"label"``
    ([H,W] class map in the palette) or ``"diff"`` ([3,H,W] perturbation, shown amplified around grey).

    With ``class_names``, a legend right of the grid names the palette colour of every class that appears in a
    ``"label"`` panel."""
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    h, w = _numpy(panels[0][1]).shape[-2:]
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel_width * ncols, panel_width * ncols * h / w / ncols * nrows + 0.5), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, data, kind) in zip(axes.flat, panels, strict=False):
        if kind == "image":
            ax.imshow(_image(data))
        elif kind == "label":
            ax.imshow(colorize(data, palette))
        elif kind == "diff":
            d = _numpy(data)
            scale = max(np.abs(d).max(), 1e-12)
            ax.imshow(_image(0.5 + 0.5 * d / scale))
            name = f"{name} (×{0.5 / scale:.0f})"
        else:
            raise ValueError(f"panel kind must be 'image', 'label' or 'diff'; got {kind!r}")
        ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if class_names is not None:
        shown = [data for _, data, kind in panels if kind == "label"]
        _class_legend(fig, present_classes(shown, len(class_names)), class_names, palette)
    return fig


def present_classes(labels: Sequence[torch.Tensor | np.ndarray], num_classes: int) -> list[int]:
    """The class indices (ascending) that occur in any of the label maps; ignore and out-of-range values skipped."""
    seen = np.zeros(num_classes, dtype=bool)
    for label in labels:
        values = np.unique(_numpy(label))
        seen[values[(values >= 0) & (values < num_classes)].astype(np.int64)] = True
    return np.flatnonzero(seen).tolist()


def _class_legend(fig: plt.Figure, classes: Sequence[int], class_names: Sequence[str], palette) -> None:
    """A legend right of the figure: one palette-coloured square per class."""
    from matplotlib.patches import Patch

    handles = [Patch(color=np.asarray(palette[c]) / 255, label=class_names[c]) for c in classes]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False,
               title="classes", title_fontsize=9, ncols=1 if len(handles) <= 14 else 2)  # fmt: skip


def sample_grid(datasets: dict[str, object], n: int = 4, panel_width: float = 2.6) -> plt.Figure:
    """Samples of each data set: one row per data set, ``n`` (image | label in its palette) pairs per row.

    ``datasets`` maps a title to a data set whose items hold ``image`` [3,H,W] in [0,1] and ``label`` [H,W] and
    which has a ``palette`` attribute."""
    fig, axes = plt.subplots(len(datasets), 2 * n, figsize=(panel_width * 2 * n, panel_width * 0.62 * len(datasets)),
                             squeeze=False)  # fmt: skip
    for row, (name, dataset) in zip(axes, datasets.items(), strict=True):
        for i in range(n):
            item = dataset[i]
            row[2 * i].imshow(_image(item["image"]))
            row[2 * i + 1].imshow(colorize(item["label"], dataset.palette))
            row[2 * i].set_title(f"{name} #{i}", fontsize=8)
            row[2 * i + 1].set_title("label", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def _facet_titles(grid: sns.FacetGrid, row: str | None, col: str | None) -> None:
    """Facet titles without the variable names: "row · col" when both facet, else the one that does."""
    if row is not None and col is not None:
        grid.set_titles(template="{row_name} · {col_name}")
    else:
        grid.set_titles(col_template="{col_name}", row_template="{row_name}")


def metric_bars(
    summary: pd.DataFrame,
    metric: str = "apsr",
    *,
    x: str = "eps_255",
    hue: str = "weighting",
    col: str | None = "model",
    row: str | None = None,
    title: str | None = None,
    height: float = 3.0,
    errorbar: str | None = None,
) -> sns.FacetGrid:
    """Bars of a pooled metric (from :func:`uwl_utils.experiment.summarize`) by ``x`` and ``hue``, faceted.

    ε runs in increasing order ("—" for attacks without one); each facet shows only its own ``x`` values;
    attack facets follow the order of :data:`uwl_utils.attacks.ATTACKS`. Given per-image rows instead,
    each bar is their mean and ``errorbar="se"`` draws ± its standard error.
    """
    from uwl_utils.attacks import ATTACKS

    data = summary.copy()
    if x == "eps_255":
        data = data.sort_values(x, na_position="first", kind="stable")
        data[x] = data[x].map(lambda e: "—" if pd.isna(e) else f"{e:g}")
    hue_order = [w for w in WEIGHTING_ORDER if w in set(data[hue])] + sorted(set(data[hue]) - set(WEIGHTING_ORDER))
    facet_order = {
        f"{facet}_order": [a for a in ATTACKS if a in set(data[name])] + sorted(set(data[name]) - set(ATTACKS))
        for facet, name in (("col", col), ("row", row))
        if name == "attack"
    }
    grid = sns.catplot(
        data=data, x=x, y=metric, hue=hue, hue_order=hue_order if hue == "weighting" else None,
        col=col, row=row, kind="bar", height=height, aspect=1.2, sharex=False, sharey=True,
        palette=weighting_colors(hue_order) if hue == "weighting" else "deep", saturation=1, errorbar=errorbar,
        **facet_order,
    )  # fmt: skip
    grid.set_axis_labels(METRIC_LABELS.get(x, x), METRIC_LABELS.get(metric, metric))
    _facet_titles(grid, row, col)
    if title:
        grid.figure.suptitle(title, y=1.02, fontsize=10)
    return grid


def _order(values: pd.Series) -> list:
    """Weightings in WEIGHTING_ORDER first, then the rest in order of appearance."""
    seen = list(dict.fromkeys(values))
    return [w for w in WEIGHTING_ORDER if w in seen] + [w for w in seen if w not in WEIGHTING_ORDER]


def paired_points(
    diffs: pd.DataFrame,
    y: str = "diff_points",
    *,
    x: str = "weighting",
    hue: str | None = "eps_255",
    col: str | None = "attack",
    row: str | None = None,
    title: str | None = None,
    ylabel: str | None = None,
    height: float = 3.0,
    zero_line: bool = True,
) -> sns.FacetGrid:
    """Mean ± standard error of per-image paired differences (one row per image and comparison), faceted.

    A dashed line marks 0 (no difference; ``zero_line=False`` leaves it out, e.g. for per-image values rather
    than differences); ``x`` keeps WEIGHTING_ORDER where its values are weightings. A title may span lines.
    """
    data = diffs.copy()
    if hue == "eps_255":
        data[hue] = data[hue].map(lambda e: "—" if pd.isna(e) else f"{e:g}")
    dodge = 0.4 if hue and data[hue].nunique() > 1 else False  # seaborn divides by (hue levels − 1)
    grid = sns.catplot(
        data=data, x=x, y=y, hue=hue, col=col, row=row, order=_order(data[x]), kind="point", errorbar="se",
        dodge=dodge, linestyles="none", markers="o", height=height, aspect=1.5,
        palette=weighting_colors(_order(data[hue])) if hue == "weighting" else "deep",
    )  # fmt: skip
    for ax in grid.axes.flat:
        if zero_line:
            ax.axhline(0, color="0.4", lw=0.8, ls="--")
        if x == "weighting":
            ax.tick_params(axis="x", labelrotation=45)
    grid.set_axis_labels("", ylabel or METRIC_LABELS.get(y, y))
    _facet_titles(grid, row, col)
    if hue and grid.legend is not None:
        grid.legend.set_title(METRIC_LABELS.get(hue, hue))
    if title:
        grid.figure.suptitle(title, y=1.02 + 0.06 * title.count("\n"), fontsize=10)
    return grid


def footnote(fig: plt.Figure | sns.FacetGrid, text: str, width: int = 150) -> None:
    """Write ``text`` (what the figure's run reduced, how a metric was taken) in small print under the figure."""
    import textwrap

    fig = getattr(fig, "figure", fig)
    fig.text(0.0, -0.01, "\n".join(textwrap.fill(p, width) for p in text.split("\n")), fontsize=7, va="top")


def relabel_titles(fig: plt.Figure | sns.FacetGrid, labels: Mapping[str, str]) -> None:
    """Replace each "·"-separated part of every facet title that ``labels`` names by its label (attack names by
    the labels figures show, e.g. ``uwl_utils.protocol.ATTACK_LABELS``)."""
    for ax in getattr(fig, "figure", fig).axes:
        title = " · ".join(labels.get(part, part) for part in ax.get_title().split(" · "))
        ax.set_title(title, fontsize=ax.title.get_fontsize())


def save_figure(fig: plt.Figure | sns.FacetGrid, name: str, out_dir: str | Path) -> list[Path]:
    """Save as ``<out_dir>/<name>.png`` and ``.pdf``; returns the paths."""
    fig = getattr(fig, "figure", fig)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=130, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    return paths


def metric_lines(
    data: pd.DataFrame,
    metric: str = "apsr",
    *,
    x: str = "eps_255",
    hue: str = "attack",
    col: str | None = "model",
    row: str | None = None,
    hue_order: Sequence[str] | None = None,
    log_x: bool = False,
    title: str | None = None,
    height: float = 3.0,
) -> sns.FacetGrid:
    """Lines of a pooled metric against ``x`` (default ε × 255), one per ``hue`` value, faceted.

    Rows whose ``x`` is NaN belong to configurations without that parameter (a patch attack has no ε; a
    clean baseline): they are drawn as dashed horizontal lines across the facet in their hue's colour, so that
    ε-free baselines sit beside ε sweeps. Several rows at one point are averaged. ``log_x`` puts ``x`` on a
    log₂ axis (ε doubling per step); the ticks are the ``x`` values present.
    """
    order = list(hue_order) if hue_order is not None else list(dict.fromkeys(data[hue]))
    deep = dict(zip(order, sns.color_palette("deep", len(order)), strict=True))
    colors = weighting_colors(order) if hue == "weighting" else deep
    xs = sorted(data[x].dropna().unique())
    has_flat = set(data.loc[data[x].isna(), hue])

    def draw(data: pd.DataFrame, **_: object) -> None:
        ax = plt.gca()
        for name in order:
            d = data[data[hue] == name]
            swept = d[d[x].notna()].groupby(x)[metric].mean()
            if len(swept):
                ax.plot(swept.index, swept.to_numpy(), marker="o", color=colors[name])
            flat = d.loc[d[x].isna(), metric]
            if len(flat):
                ax.axhline(flat.mean(), color=colors[name], ls="--", lw=1.4)
        if log_x:
            ax.set_xscale("log", base=2)
        if xs:
            ax.set_xticks(xs, [f"{v:g}" for v in xs])
            ax.minorticks_off()

    grid = sns.FacetGrid(data, col=col, row=row, height=height, aspect=1.3, sharey=True)
    grid.map_dataframe(draw)
    handles = {
        name: plt.Line2D([], [], color=colors[name], **({"ls": "--"} if name in has_flat else {"marker": "o"}))
        for name in order
    }
    grid.add_legend(legend_data=handles, title="")
    grid.set_axis_labels(METRIC_LABELS.get(x, x), METRIC_LABELS.get(metric, metric))
    _facet_titles(grid, row, col)
    if title:
        grid.figure.suptitle(title, y=1.02, fontsize=10)
    return grid
