"""The claims table: verdicts against 2 standard errors, paired per-image differences by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from uwl_utils.claims import (
    alma_prox_claims,
    cheap_attack_claim,
    claim_row,
    claims_table,
    collect,
    cr_claim,
    headline,
    headline_markdown,
    paired,
    sea_claims,
    sparse_vs_patch_claim,
    verdict,
    weighting_order_claims,
    write,
)
from uwl_utils.notebook import Setup


def _rows(spec: list[tuple[str, float, str, str, int, int, float]]) -> pd.DataFrame:
    cols = ["attack", "eps_255", "weighting", "image_id", "n_wrong_adv", "n_valid", "seconds"]
    rows = pd.DataFrame(spec, columns=cols)
    return rows.assign(model="m", dataset="d")


@pytest.mark.parametrize(
    ("mean", "se", "n", "threshold", "expected"),
    [
        (3.0, 1.0, 5, 0.0, "holds"),  # 3 − 2 > 0
        (2.0, 1.0, 5, 0.0, "inconclusive"),  # 2 − 2 = 0: not beyond 2 SE
        (-2.5, 1.0, 5, 0.0, "contradicted"),
        (-1.0, 0.4, 9, -2.0, "holds"),  # −1 − 0.8 > −2
        (5.0, float("nan"), 1, 0.0, "inconclusive"),  # one image: no standard error
        (float("nan"), float("nan"), 0, 0.0, "not tested in this profile"),
    ],
)
def test_verdict_compares_the_mean_with_the_threshold_at_two_standard_errors(mean, se, n, threshold, expected):
    assert verdict(mean, se, n, threshold) == expected


def test_paired_differences_by_hand_skip_images_without_a_valid_pixel_or_a_partner():
    rows = _rows([
        ("ifgsm", 4.0, "E", "a", 50, 100, 1.0), ("ifgsm", 4.0, "none", "a", 40, 100, 1.0),   # +10
        ("ifgsm", 4.0, "E", "b", 30, 50, 1.0), ("ifgsm", 4.0, "none", "b", 20, 50, 1.0),     # +20
        ("ifgsm", 4.0, "E", "c", 0, 0, 1.0), ("ifgsm", 4.0, "none", "c", 0, 0, 1.0),         # no valid pixel
        ("ifgsm", 4.0, "E", "d", 10, 10, 1.0),                                               # no partner
    ])  # fmt: skip
    mean, se, n = paired(rows, rows.weighting.eq("E"), rows.weighting.eq("none"))
    assert (mean, n) == (15.0, 2)
    assert se == pytest.approx(np.std([10.0, 20.0], ddof=1) / math.sqrt(2))


def test_weighting_order_claims_per_attack_and_eps_and_untested_attacks_say_so():
    spec = []
    for img, (none, e, l0) in enumerate([(10, 20, 30), (12, 20, 31), (11, 22, 29)]):
        spec += [("ifgsm", 4.0, w, str(img), v, 100, 1.0) for w, v in (("none", none), ("E", e), ("L0", l0))]
    table = claims_table([weighting_order_claims(_rows(spec), "quick", attacks=("ifgsm", "pgd"))])
    ifgsm = table[table.claim.str.startswith("ifgsm")]
    assert list(ifgsm.claim) == ["ifgsm: APSR E ≥ none", "ifgsm: APSR L0 ≥ E"]
    assert list(ifgsm.ours) == [pytest.approx(29 / 3, abs=0.05), pytest.approx(28 / 3, abs=0.05)]
    assert set(ifgsm.verdict) == {"holds"} and list(ifgsm.n) == [3, 3]
    pgd = table[table.claim.str.startswith("pgd")]
    assert set(pgd.verdict) == {"not tested in this profile"}
    assert "ε 4/255 (pixel)" in ifgsm.setting.iloc[0] and ifgsm.setting.iloc[0].startswith("quick · d · m")


def test_alma_prox_claims_flag_a_weighting_that_costs_more_than_two_points():
    spec = []
    for img in range(4):
        spec += [("alma_prox", np.nan, w, str(img), v, 100, 1.0) for w, v in (("none", 99), ("M", 90), ("E", 99))]
    table = claims_table([alma_prox_claims(_rows(spec), "quick")])
    verdicts = dict(zip(table.claim, table.verdict, strict=True))
    assert verdicts["M does not weaken ALMA prox"] == "contradicted"  # −9 points, SE 0
    assert verdicts["E does not weaken ALMA prox"] == "holds"  # 0 points, SE 0: above −2
    assert verdicts["ALMA prox reaches ≈ 99 % APSR"] == "holds"  # 99 %, SE 0: above 97


def test_cheap_attack_time_ratio_is_the_geometric_mean_of_paired_ratios():
    spec = []
    for img, (t_cheap, t_alma) in enumerate([(1.0, 25.0), (2.0, 50.0), (1.0, 20.0)]):
        spec += [
            ("ifgsm", 16.0, "L0", str(img), 95, 100, t_cheap),
            ("alma_prox", np.nan, "L0", str(img), 99, 100, t_alma),
        ]
    apsr_row, time_row = cheap_attack_claim(_rows(spec), "quick")
    assert apsr_row["ours"] == pytest.approx(-4.0) and apsr_row["verdict"] == "holds"  # −4 points, SE 0: above −5
    assert time_row["ours"] == pytest.approx(100 * (1 / 25 * 1 / 25 * 1 / 20) ** (1 / 3))
    assert time_row["verdict"] == "holds"


def test_cr_and_sparse_claims_pair_images_within_their_configuration():
    spec = [("cr_pgd", 1.0, "L0", "a", 60, 100, 1.0), ("cr_pgd", 1.0, "CR", "a", 40, 100, 1.0),
            ("cr_pgd", 1.0, "L0", "b", 70, 100, 1.0), ("cr_pgd", 1.0, "CR", "b", 45, 100, 1.0)]  # fmt: skip
    rows = _rows(spec)
    (row,) = cr_claim(rows, "quick", pd.Series(["l2"] * 4))
    assert (row["ours"], row["n"], row["verdict"]) == (22.5, 2, "holds")  # +20, +25: SE 2.5
    spec = [("sparse_ifgsm", 8.0, "L0", "a", 30, 100, 1.0), ("patch_eot", np.nan, "none", "a", 10, 90, 1.0),
            ("sparse_ifgsm", 4.0, "L0", "a", 5, 100, 1.0)]  # fmt: skip
    (row,) = sparse_vs_patch_claim(_rows(spec), "quick", 8.0)
    assert row["ours"] == pytest.approx(30 - 100 / 9) and row["verdict"] == "inconclusive"  # one image


def _setup(out_dir, notebook: str, profile: str) -> Setup:
    return Setup(profile=profile, device=torch.device("cpu"), dataset="d", models=["m"], n_images=4,
                 image_size=None, batch_size=1, data_root=None, out_dir=out_dir, notebook=notebook)  # fmt: skip


def test_claim_rows_written_per_notebook_and_profile_are_collected_in_notebook_order(tmp_path):
    holds = claim_row("L0 ≥ E", "holds", 3.04, 1.0, 5, "t", "quick · d · m")  # 3.04 − 2 > 0
    timed = claim_row("at 3–5 % of the time", "3–5 %", 4.0, 2.5, 5, "t", "quick · d · m", timed=True)  # 4 ± 5
    untested = claim_row("ALMA prox ≈ 99 %", "≈ 99 %", float("nan"), float("nan"), 0, "t", "quick · d · m")
    path = write([holds, timed], _setup(tmp_path, "05_y", "quick"))
    assert path == tmp_path / "claims" / "05_y_quick.csv"
    write([untested], _setup(tmp_path, "02_x", "quick"))
    write([holds], _setup(tmp_path, "02_x", "paper"))  # another profile writes beside, not over
    table = collect(tmp_path, profile="quick")
    assert list(table.columns) == ["notebook", "profile", "claim", "paper", "ours", "se", "n", "test", "verdict",
                                   "setting", "timed"]  # fmt: skip
    assert table["notebook"].tolist() == ["02_x", "05_y", "05_y"]
    assert table["verdict"].tolist() == [
        "not tested in this profile",
        "holds",
        "inconclusive",
    ]
    assert table["ours"].tolist()[1:] == [3.0, 4.0] and math.isnan(table["ours"][0])  # rounded to 0.1
    assert table["timed"].tolist() == [False, False, True]
    assert len(collect(tmp_path)) == 4 and collect(tmp_path / "nothing").empty
    with pytest.raises(ValueError, match=r"claim rows lack the columns \['timed'\]"):
        write([{k: v for k, v in holds.items() if k != "timed"}], _setup(tmp_path, "05_y", "quick"))


def test_headline_keeps_the_tested_row_over_most_images_per_claim_and_prints_se_and_n():
    rows = [
        claim_row("L0 ≥ E", "holds", 1.0, 0.25, 4, "t", "ε 4"),
        claim_row("L0 ≥ E", "holds", 2.0, 0.5, 8, "t", "ε 8"),
        claim_row("L0 ≥ E", "holds", 3.0, 0.5, 8, "t", "ε 16"),
        claim_row("one image", "x", 5.0, float("nan"), 1, "t", "s"),
        claim_row("untested", "x", float("nan"), float("nan"), 0, "t", "s"),
    ]
    table = claims_table([rows])
    assert headline(table)["setting"].tolist() == ["ε 8", "s"]  # most images, the first among equals
    assert headline_markdown(table) == [
        "| claim | paper | ours ± SE | n (images) | verdict | setting |",
        "|---|---|---|---|---|---|",
        "| L0 ≥ E | holds | 2.0 ± 0.5 | 8 | holds | ε 8 |",
        "| one image | x | 5.0 | 1 | inconclusive | s |",
    ]


def test_sea_claims_take_the_worst_case_per_image_and_pair_it_at_each_eps():
    # per image: SEA's four losses, then E and L0 (APSR % of 100 valid pixels), at ε 4 only
    per_image = {"0": (90, 80, 85, 95, 70, 60), "1": (80, 70, 75, 70, 90, 85), "2": (96, 60, 70, 75, 65, 70)}
    names = ["MaskCE", "SegPGD", "JS", "MaskNCL", "E", "L0"]
    spec = [("apgd", 4.0, w, img, v, 100, 1.0) for img, vals in per_image.items()
            for w, v in zip(names, vals, strict=True)]  # fmt: skip
    spec.append(("pgd", 4.0, "MaskCE", "0", 100, 100, 1.0))  # another attack: left out
    table = claims_table([sea_claims(_rows(spec), "quick")])
    assert list(table.n) == [3, 3, 3] and set(table.setting) == {"quick · d · m · ε 4/255 (pixel)"}
    # MaskCE − L0: +30, −5, +26; SEA worst (95, 80, 96) − worst of E, L0 (70, 90, 70): +25, −10, +26;
    # SEA worst − L0: +35, −5, +26
    for diffs, row in zip([(30, -5, 26), (25, -10, 26), (35, -5, 26)], table.itertuples(), strict=True):
        assert row.ours == pytest.approx(np.mean(diffs), abs=0.05)
        assert row.se == pytest.approx(np.std(diffs, ddof=1) / math.sqrt(3), abs=0.05)
        assert row.verdict == "inconclusive"
    assert table.claim.iloc[1] == "SEA's worst case beats the worst of E, L0"
    untested = claims_table([sea_claims(_rows(spec), "quick", attack="sea")])
    assert set(untested.verdict) == {"not tested in this profile"}


def test_alma_prox_reach_counts_images_not_model_image_rows():
    spec = [("alma_prox", np.nan, "none", img, v, 100, 1.0) for img, v in (("a", 98), ("b", 99))]
    rows = pd.concat([_rows(spec), _rows(spec).assign(model="m2", n_wrong_adv=[96, 97])], ignore_index=True)
    reach = claims_table([alma_prox_claims(rows, "quick")]).iloc[0]
    assert reach["n"] == 2 and reach["ours"] == pytest.approx(97.5)  # images a: (98 + 96) / 2, b: (99 + 97) / 2
