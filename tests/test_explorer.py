"""The explorer without a browser: its table by hand values, and what one press of *Run* calls and shows."""

from __future__ import annotations

import dataclasses
import functools
import re

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest
import torch

from uwl_utils.attacks import ATTACKS
from uwl_utils.explorer import AttackExplorer, Choice, readable_table
from uwl_utils.testing import ToySegmenter


def test_readable_table_names_units_rounds_and_adds_the_gain_over_none():
    raw = pd.DataFrame(
        {"weighting": ["clean", "none", "L0"], "apsr": [13.0405, 29.9438, 36.5173], "linf_255": [0.0, 4.000007, 3.96]}
    )
    table = readable_table(raw)
    assert list(table.columns) == ["weighting", "APSR (%)", "APSR − none (points)", "‖δ‖∞ (/255)"]
    assert table["APSR (%)"].tolist() == [13.0, 29.9, 36.5]
    assert table["‖δ‖∞ (/255)"].tolist() == [0.0, 4.0, 4.0]
    assert table["APSR − none (points)"].tolist() == ["—", 0.0, 6.6]  # 36.5173 − 29.9438 = 6.5735; clean: none


def test_readable_table_without_none_has_no_gain_column_and_rejects_other_tables():
    raw = pd.DataFrame({"weighting": ["clean", "E"], "apsr": [1.26, 2.0], "linf_255": [0.0, 1.0]})
    assert list(readable_table(raw, decimals=0)["APSR (%)"]) == [1.0, 2.0]
    assert "APSR − none (points)" not in readable_table(raw).columns
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['linf_255'\]"):
        readable_table(raw.drop(columns="linf_255"))


def test_choice_caption_names_every_setting_and_bad_choices_are_refused():
    choice = Choice("synth_city/ddrnet", 3, "fgsm", 8.0, ("none", "L0"))
    assert choice.caption == "synth_city/ddrnet · image 3 · fgsm · ε = 8/255 · none, L0"
    with pytest.raises(ValueError, match="tick at least one weighting"):
        Choice("m", 0, "fgsm", 8, ())
    with pytest.raises(ValueError, match="unknown attack 'cw'"):
        Choice("m", 0, "cw", 8, ("none",))
    with pytest.raises(ValueError, match="ε must be positive"):
        Choice("m", 0, "fgsm", 0, ("none",))


class _Toy(ToySegmenter):
    palette = [(128, 64, 128), (70, 70, 70), (107, 142, 35), (70, 130, 180), (220, 20, 60)]
    class_names = ("road", "building", "vegetation", "sky", "person")


class _TinySet:
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.images = torch.rand(4, 3, 16, 24, generator=g)
        self.labels = torch.randint(0, 5, (4, 16, 24), generator=g)

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "label": self.labels[i], "id": f"tiny_{i}"}


def _html_rows(html: str) -> list[list[str]]:
    return [
        re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S)
    ]


@pytest.fixture
def explorer_and_calls(monkeypatch):
    """An explorer on toy models whose fgsm records each call and what the explorer showed at that moment."""
    calls, loaded = [], []
    real = ATTACKS["fgsm"]

    @functools.wraps(real.fn)
    def spy(model, images, labels=None, **kwargs):
        calls.append({"model": model, "images": images, "labels": labels, **kwargs,
                      "status": explorer.status.value, "outputs": explorer.output.outputs})  # fmt: skip
        return real.fn(model, images, labels, **kwargs)

    monkeypatch.setitem(ATTACKS, "fgsm", dataclasses.replace(real, fn=spy))
    models = {"toy_a": _Toy(seed=0), "toy_b": _Toy(seed=1)}
    explorer = AttackExplorer(list(models), _TinySet(), load=lambda name: loaded.append(name) or models[name])
    return explorer, calls, loaded, models


def test_explorer_defaults_are_ifgsm_at_4_with_none_and_l0_and_the_picker_names_the_image(explorer_and_calls):
    explorer, *_ = explorer_and_calls
    assert explorer.choice() == Choice("toy_a", 0, "ifgsm", 4, ("none", "L0"))
    assert explorer.eps.description == "ε (/255)" and explorer.run_button.description == "Run"
    assert (
        explorer.image_name.value.endswith("<b>image 0</b><br>tiny_0</div>")
        and bytes(explorer.thumbnail.value)[:4] == b"\x89PNG"
    )
    first = bytes(explorer.thumbnail.value)
    explorer.image.value = 2
    assert (
        explorer.image_name.value.endswith("<b>image 2</b><br>tiny_2</div>")
        and bytes(explorer.thumbnail.value) != first
    )


def test_one_press_attacks_once_per_ticked_weighting_with_the_chosen_settings(explorer_and_calls):
    explorer, calls, loaded, models = explorer_and_calls
    explorer.output.outputs = ({"output_type": "stream", "name": "stdout", "text": "stale"},)
    explorer.model.value, explorer.image.value, explorer.attack.value, explorer.eps.value = "toy_b", 2, "fgsm", 8
    explorer.weightings["E"].value = True
    explorer.run_button.click()

    assert [c["weighting"] for c in calls] == ["none", "E", "L0"]
    data = explorer._dataset
    for call in calls:
        assert call["model"] is models["toy_b"] and call["eps"] == 8 / 255
        assert torch.equal(call["images"][0], data.images[2]) and torch.equal(call["labels"][0], data.labels[2])
        assert call["status"].startswith("<i>computing… toy_b · image 2 · fgsm · ε = 8/255 · none, E, L0")
        assert call["outputs"] == ()  # the stale result is gone while computing
    caption, table, figure = explorer.output.outputs
    assert "toy_b · image 2 · fgsm · ε = 8/255 · none, E, L0" in caption["data"]["text/html"]
    header, *rows = _html_rows(table["data"]["text/html"])
    assert header == ["weighting", "APSR (%)", "APSR − none (points)", "‖δ‖∞ (/255)"]
    assert [r[0] for r in rows] == ["clean", "none", "E", "L0"] and [r[3] for r in rows] == ["0.0", "8.0", "8.0", "8.0"]
    assert "image/png" in figure["data"] and explorer.status.value.startswith("done in")
    assert not explorer.run_button.disabled

    explorer.run_button.click()
    assert loaded == ["toy_b"]  # a model is loaded once


def test_a_press_with_no_weighting_ticked_says_so_and_attacks_nothing(explorer_and_calls):
    explorer, calls, loaded, _ = explorer_and_calls
    explorer.attack.value = "fgsm"
    for box in explorer.weightings.values():
        box.value = False
    explorer.run_button.click()
    assert not calls and not loaded and explorer.output.outputs == ()
    assert "tick at least one weighting" in explorer.status.value


def test_explorer_refuses_defaults_outside_its_choices():
    with pytest.raises(ValueError, match="not among the choices"):
        AttackExplorer(["m"], _TinySet(), load=lambda name: None, default=("pgd", 3, ("none",)))
