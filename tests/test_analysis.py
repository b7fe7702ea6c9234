"""Paired per-image comparisons, worst case, gains, option parsing and table export, against values by hand."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

from uwl_utils.analysis import (
    cached_tensor,
    difference_stats,
    export_results,
    export_table,
    option_values,
    paired,
    paired_vs_baseline,
    per_image_delta_miou,
    per_image_table,
    pooled_gain,
    winners,
    wins_over_baseline,
    worst_case,
)

# Wrong pixels out of 100 per image a, b, c: APSR in % equals the count.
WRONG = {"none": [10, 20, 30], "E": [12, 20, 35], "L0": [15, 18, 40]}


def _rows() -> pd.DataFrame:
    records = [
        {"model": "m", "attack": "ifgsm", "eps_255": 4.0, "weighting": w, "image_id": img, "n_valid": 100,
         "n_wrong_adv": k, "options": json.dumps({"steps": 5, "weighting": w}), "config": w}
        for w, counts in WRONG.items() for img, k in zip("abc", counts, strict=True)
    ]  # fmt: skip
    return pd.DataFrame(records)


def test_difference_stats_by_hand_skip_nan():
    # E − none = 2, 0, 5: mean 7/3, sd² = (1/9 + 49/9 + 64/9)/2 = 19/3, se = sqrt(19/3 / 3)
    stats = difference_stats(pd.Series([2.0, 0.0, 5.0, float("nan")]))
    assert stats["n_images"] == 3 and stats["better"] == 2 and stats["worse"] == 0
    assert stats["mean"] == pytest.approx(7 / 3)
    assert stats["se"] == pytest.approx(math.sqrt(19 / 9))
    one = difference_stats(pd.Series([4.0]))
    assert one["mean"] == 4.0 and math.isnan(one["se"])


def test_paired_vs_baseline_by_hand():
    table = paired_vs_baseline(_rows())
    e = table.loc[("m", "ifgsm", 4.0, "E")]
    l0 = table.loc[("m", "ifgsm", 4.0, "L0")]
    assert e["mean"] == pytest.approx(7 / 3) and e["se"] == pytest.approx(math.sqrt(19 / 9))
    # L0 − none = 5, −2, 10: mean 13/3, sd² = (4/9 + 361/9 + 289/9)/2 = 109/3
    assert l0["mean"] == pytest.approx(13 / 3) and l0["se"] == pytest.approx(math.sqrt(109 / 9))
    assert (l0["better"], l0["worse"], l0["n_images"]) == (2, 1, 3)
    assert set(table.index.get_level_values("weighting")) == {"E", "L0"}


def test_paired_selections_agree_with_the_table():
    rows = _rows()
    mean, se, n = paired(rows, rows.weighting.eq("L0"), rows.weighting.eq("none"))
    assert (mean, n) == (pytest.approx(13 / 3), 3) and se == pytest.approx(math.sqrt(109 / 9))


def test_per_image_table_refuses_mixed_configurations():
    rows = _rows()
    assert per_image_table(rows).loc[("m", "ifgsm", 4.0, "c"), "L0"] == 40.0
    with pytest.raises(ValueError, match="repeat"):
        per_image_table(pd.concat([rows, rows.iloc[:1]]))


def test_wins_over_baseline_counts_strict_wins_per_group():
    rows = _rows()
    other = rows.assign(model="m2", n_wrong_adv=rows.n_wrong_adv.where(rows.weighting.eq("none"), 0))
    wins = wins_over_baseline(pd.concat([rows, other]))
    # m: E wins a, c (b ties), L0 wins a, c; m2: none of the 0-wrong weightings wins -> 2 of 6 images
    assert wins.loc[("ifgsm", 4.0), "E"] == pytest.approx(100 * 2 / 6)
    assert wins.loc[("ifgsm", 4.0), "L0"] == pytest.approx(100 * 2 / 6)
    with pytest.raises(ValueError, match="baseline 'CR'"):
        wins_over_baseline(rows, baseline="CR")


def test_pooled_gain_averages_cells_of_a_group():
    summary = pd.DataFrame(
        {"model": ["m1", "m1", "m2", "m2"], "attack": "pgd", "eps_255": 8.0, "weighting": ["none", "E"] * 2,
         "apsr": [10.0, 15.0, 20.0, 22.0]}
    )  # fmt: skip
    gain = pooled_gain(summary)
    assert list(gain.columns) == ["E"] and gain.loc[("pgd", 8.0), "E"] == pytest.approx(3.5)
    with pytest.raises(ValueError, match="baseline"):
        pooled_gain(summary, baseline="L0")


def test_worst_case_takes_the_highest_apsr_ties_to_the_first():
    rows = _rows()
    worst = worst_case(rows, ["none", "E", "L0"], "worst").set_index("image_id")
    assert worst.loc[["a", "b", "c"], "source"].tolist() == ["L0", "none", "L0"]  # b: none and E tie at 20
    assert worst.loc[["a", "b", "c"], "n_wrong_adv"].tolist() == [15, 20, 40]
    assert (worst.weighting == "worst").all() and (worst.config == "worst").all() and (worst.options == "").all()
    reordered = worst_case(rows, ["E", "none"], "w").set_index("image_id")
    assert reordered.loc["b", "source"] == "E"


def test_winners_name_the_best_or_the_tie():
    assert winners(pd.Series({"a": 1.0, "b": 3.0})) == "b"
    assert winners(pd.Series({"a": 1.0, "b": 3.0, "c": 3.0})) == "tie of b, c"


def test_option_values_reads_the_options_json():
    rows = _rows()
    assert option_values(rows, "steps").tolist() == [5] * 9
    assert option_values(rows, "weighting").iloc[-1] == "L0"
    with pytest.raises(KeyError, match="faithful"):
        option_values(rows, "faithful")


def test_export_table_writes_csv_and_markdown(tmp_path):
    table = pd.DataFrame({"x|y": [1.5, float("nan")], "n": [3, 4]}, index=pd.Index(["a", "b"], name="k"))
    csv, md = export_table(table, "t", tmp_path / "out", profile="quick")
    back = pd.read_csv(csv)
    assert back.columns.tolist() == ["k", "x|y", "n", "profile"] and back["n"].tolist() == [3, 4]
    assert md.read_text().splitlines() == [
        "| k | x\\|y | n | profile |",
        "|---|---|---|---|",
        "| a | 1.5 | 3 | quick |",
        "| b |  | 4 | quick |",
    ]


def test_export_results_drops_the_confusion_counts(tmp_path):
    rows = _rows().assign(conf_clean=[[1]] * 9, conf_adv=[[2]] * 9)
    paths = export_results(pd.DataFrame({"apsr": [1.0]}), rows, "nb", tmp_path)
    assert [p.name for p in paths] == ["nb.csv", "nb.md", "nb_rows.csv"]
    written = pd.read_csv(paths[2])
    assert "conf_clean" not in written and "conf_adv" not in written and len(written) == 9


def test_cached_tensor_recomputes_only_when_the_settings_change(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return torch.full((2,), float(len(calls)))

    path = tmp_path / "cache" / "patch.pt"
    first = cached_tensor(path, {"seed": 0}, compute)
    again = cached_tensor(path, {"seed": 0}, compute)
    changed = cached_tensor(path, {"seed": 1}, compute)
    assert first.tolist() == again.tolist() == [1.0, 1.0] and changed.tolist() == [2.0, 2.0]
    assert len(calls) == 2 and [p.name for p in path.parent.iterdir()] == ["patch.pt"]


def test_cells_without_an_epsilon_pair_only_with_themselves():
    # a minimal-norm attack has eps_255 = NaN; its cell must neither vanish nor pair with the other cell's ε
    rows = _rows()
    alma = rows[rows.weighting.isin(["none", "E"])].assign(attack="alma_prox", eps_255=float("nan"))
    alma = alma.assign(n_wrong_adv=alma.n_wrong_adv.where(alma.weighting.eq("none"), 99))
    both = pd.concat([rows, alma], ignore_index=True)
    table = per_image_table(both)
    assert len(table) == 6  # 3 images × 2 cells, no cross combinations
    wins = wins_over_baseline(both).reset_index()
    assert len(wins) == 2
    assert wins.loc[wins.attack.eq("ifgsm"), "E"].item() == pytest.approx(100 * 2 / 3)
    alma_wins = wins[wins.attack.eq("alma_prox")]
    assert alma_wins.eps_255.isna().all() and alma_wins.E.item() == 100.0
    assert math.isnan(alma_wins.L0.item())  # no L0 rows for ALMA prox: no share, not 0 %
    stats = paired_vs_baseline(both).reset_index()
    alma_e = stats[stats.attack.eq("alma_prox") & stats.weighting.eq("E")]
    assert alma_e.n_images.item() == 3 and alma_e["mean"].item() == pytest.approx(99 - 20)
    worst = worst_case(both, ["none", "E"], "worst")
    assert len(worst) == 6 and worst.loc[worst.attack.eq("alma_prox"), "source"].eq("E").all()


def test_per_image_delta_miou_by_hand():
    """Image 0: clean IoU (3/4, 4/5), adversarial (1/6, 2/7). Image 1: class 1 is in no label; clean it is never
    predicted (empty union, left out: mIoU 1), adversarially one pixel is (IoU 0 beside 4/5: mIoU 0.4)."""
    rows = pd.DataFrame(
        {
            "num_classes": [2, 2],
            "conf_clean": [[3, 1, 0, 4], [5, 0, 0, 0]],
            "conf_adv": [[1, 3, 2, 2], [4, 1, 0, 0]],
        },
        index=[7, 9],
    )
    delta = per_image_delta_miou(rows)
    expected = [100 * ((3 / 4 + 4 / 5) / 2 - (1 / 6 + 2 / 7) / 2), 100 * (1.0 - 0.4)]
    assert delta.index.tolist() == [7, 9]
    assert delta.tolist() == pytest.approx(expected)
