"""Figures: palette colouring by hand values, the sample grid's layout, saving PNG + PDF."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch

from uwl_utils.viz import (
    colorize,
    metric_bars,
    metric_lines,
    overlay,
    paired_points,
    present_classes,
    sample_grid,
    save_figure,
    show_segmentations,
    weighting_colors,
)

PALETTE = [(10, 20, 30), (200, 0, 0)]


class _TinySet:
    palette = PALETTE

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": torch.full((3, 4, 6), i / 10), "label": torch.tensor([[0, 1, 255, 0, 1, 0]] * 4)}


def test_colorize_maps_classes_to_the_palette_and_ignore_to_white():
    rgb = colorize(torch.tensor([[0, 1, 255]]), PALETTE)
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 3, 3)
    assert rgb[0].tolist() == [[10, 20, 30], [200, 0, 0], [255, 255, 255]]


def test_overlay_blends_valid_pixels_and_leaves_ignore_pixels_alone():
    image = torch.zeros(3, 1, 2)
    out = overlay(image, torch.tensor([[1, 255]]), PALETTE, alpha=0.5)
    assert out[0, 0].tolist() == [100, 0, 0] and out[0, 1].tolist() == [0, 0, 0]


def test_sample_grid_shows_an_image_and_a_label_per_sample_and_saves_png_and_pdf(tmp_path):
    fig = sample_grid({"a": _TinySet(), "b": _TinySet()}, n=3)
    assert len(fig.axes) == 2 * 2 * 3
    assert [ax.get_title() for ax in fig.axes[:2]] == ["a #0", "label"]
    paths = save_figure(fig, "samples", tmp_path / "out")
    assert [p.name for p in paths] == ["samples.png", "samples.pdf"] and all(p.stat().st_size > 0 for p in paths)


def test_show_segmentations_rejects_an_unknown_panel_kind():
    with pytest.raises(ValueError, match="panel kind must be"):
        show_segmentations([("x", torch.zeros(3, 2, 2), "heatmap")], PALETTE)


def test_present_classes_skips_ignore_and_collects_over_all_maps():
    maps = [torch.tensor([[0, 255], [0, 0]]), np.array([[3, 3], [255, 0]])]
    assert present_classes(maps, num_classes=4) == [0, 3]


def test_class_legend_names_and_colours_exactly_the_classes_in_label_panels():
    palette = [(10, 20, 30), (200, 0, 0), (0, 0, 255)]
    panels = [
        ("image", torch.zeros(3, 2, 2), "image"),
        ("truth", torch.tensor([[0, 0], [255, 0]]), "label"),
        ("pred", torch.tensor([[2, 0], [0, 2]]), "label"),
    ]
    fig = show_segmentations(panels, palette, class_names=["road", "car", "sky"])
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["road", "sky"]  # "car" (1) appears in no label panel
    colours = [tuple(round(255 * c) for c in h.get_facecolor()[:3]) for h in legend.legend_handles]
    assert colours == [(10, 20, 30), (0, 0, 255)]
    assert not show_segmentations(panels, palette).legends  # no names, no legend


def test_paired_points_shows_the_mean_of_each_group_in_weighting_order(tmp_path):
    diffs = pd.DataFrame({
        "weighting": ["SegPGD"] * 4 + ["E"] * 4 + ["my-scheme"] * 4,
        "eps_255": [4.0] * 12,
        "attack": ["pgd"] * 12,
        "diff_points": [1.0, 3.0, 2.0, 2.0, -1.0, 0.0, 1.0, 0.0, 5.0, 5.0, 5.0, 5.0],
    })  # fmt: skip
    grid = paired_points(diffs, title="t")
    (ax,) = grid.axes.flat
    assert [t.get_text() for t in ax.get_xticklabels()] == ["E", "SegPGD", "my-scheme"]
    means = [y for line in ax.get_lines() if line.get_marker() == "o" for y in line.get_ydata()]
    assert means == pytest.approx([0.0, 2.0, 5.0])
    assert any(line.get_ydata()[0] == 0 for line in ax.get_lines() if line.get_linestyle() == "--")
    assert [p.suffix for p in save_figure(grid, "paired", tmp_path)] == [".png", ".pdf"]
    (ax,) = paired_points(diffs, zero_line=False).axes.flat
    assert not [line for line in ax.get_lines() if line.get_linestyle() == "--"]


def test_metric_bars_titles_each_facet_once_with_row_and_column():
    summary = pd.DataFrame({"model": ["m1", "m1", "m2", "m2"], "attack": ["pgd", "ifgsm"] * 2,
                            "eps_255": [4.0] * 4, "weighting": ["none"] * 4, "apsr": [1.0, 2.0, 3.0, 4.0]})  # fmt: skip
    grid = metric_bars(summary, "apsr", col="attack", row="model")
    assert sorted(ax.get_title() for ax in grid.axes.flat) == ["m1 · ifgsm", "m1 · pgd", "m2 · ifgsm", "m2 · pgd"]
    grid = metric_bars(summary[summary.model == "m1"], "apsr", col="attack")
    assert sorted(ax.get_title() for ax in grid.axes.flat) == ["ifgsm", "pgd"]


def test_metric_bars_orders_eps_numerically_per_facet_and_attacks_as_registered():
    summary = pd.DataFrame({"attack": ["ifgsm", "ifgsm", "ifgsm", "alma_prox", "fgsm"],
                            "eps_255": [8.0, 2.0, 16.0, np.nan, 4.0], "weighting": ["none"] * 5,
                            "apsr": [1.0, 2.0, 3.0, 4.0, 5.0]})  # fmt: skip
    grid = metric_bars(summary, "apsr", col="attack")
    ticks = {ax.get_title(): [t.get_text() for t in ax.get_xticklabels()] for ax in grid.axes.flat}
    assert list(ticks) == ["fgsm", "ifgsm", "alma_prox"]
    assert ticks == {"fgsm": ["4"], "ifgsm": ["2", "8", "16"], "alma_prox": ["—"]}


def test_metric_lines_draws_sweeps_as_lines_and_eps_free_rows_as_dashed_means():
    data = pd.DataFrame(
        {
            "model": ["m"] * 5,
            "attack": ["subset", "subset", "subset", "patch", "patch"],
            "eps_255": [4.0, 8.0, 8.0, np.nan, np.nan],
            "apsr": [10.0, 20.0, 30.0, 14.0, 16.0],
        }
    )
    grid = metric_lines(data, hue_order=["patch", "subset"], log_x=True)
    (ax,) = grid.axes.flat
    solid = [ln for ln in ax.lines if ln.get_linestyle() == "-"]
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(solid) == 1 and len(dashed) == 1
    assert solid[0].get_xdata().tolist() == [4.0, 8.0] and solid[0].get_ydata().tolist() == [10.0, 25.0]
    assert list(dashed[0].get_ydata()) == [15.0, 15.0]  # the mean of the patch rows, across the facet
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == ["4", "8"]
    assert ax.get_ylabel() == "APSR (%)"


def test_a_weighting_keeps_its_colour_whichever_weightings_a_figure_shows():
    from matplotlib.colors import to_rgb

    def bar_colours(weightings):
        summary = pd.DataFrame({"attack": ["ifgsm"] * len(weightings), "eps_255": [4.0] * len(weightings),
                                "weighting": weightings, "apsr": np.arange(1.0, len(weightings) + 1)})  # fmt: skip
        (ax,) = metric_bars(summary, "apsr", col="attack").axes.flat
        heights = {p.get_height(): to_rgb(p.get_facecolor()) for p in ax.patches if p.get_height() > 0}
        return {w: heights[i + 1.0] for i, w in enumerate(weightings)}

    two, three = bar_colours(["none", "L0"]), bar_colours(["none", "E", "L0"])
    assert two["L0"] == three["L0"] and two["none"] == three["none"]
    assert len({*three.values()}) == 3
    colours = weighting_colors(["L0", "mine", "none"])
    assert colours["L0"] == three["L0"] and colours["mine"] not in (three["L0"], three["none"], three["E"])
