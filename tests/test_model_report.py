"""The model report: naming models recomputes their cards only and keeps the others (no model is run here)."""

from __future__ import annotations

import json

from uwl_utils.models import MODELS
from uwl_utils.tools import model_report


def _card(name: str, miou: float) -> dict:
    return {"model": name, "parameters": 1e6, "checkpoint_mb": 3.0, "train_steps": 10, "train_minutes": 1.0,
            "miou": miou, "pixel_accuracy": 90.0, "apsr_clean": 10.0, "apsr_ifgsm4": 50.0, "apsr_noise8": 12.0,
            "noise_gain": 2.0, "iou": {"road": miou}}  # fmt: skip


def test_named_models_are_recomputed_and_the_other_cards_kept(tmp_path, monkeypatch):
    tiny = [n for n, s in MODELS.items() if s.tiny]
    first, second, untrained = tiny[0], tiny[1], tiny[2]
    for name in (first, second):
        (tmp_path / name.replace("/", "_")).touch()
    monkeypatch.setattr(model_report, "checkpoint_path", lambda n: tmp_path / n.replace("/", "_"))
    monkeypatch.setattr(model_report, "model_card", lambda n: _card(n, 70.0))
    monkeypatch.setattr(model_report, "sample_grid", lambda *a, **k: None)
    monkeypatch.setattr(model_report, "save_figure", lambda *a, **k: [tmp_path / "samples.png"])
    monkeypatch.setattr(model_report, "load_dataset", lambda name: None)
    old = [_card(first, 55.0), _card(second, 40.0), _card(untrained, 60.0)]  # a card without a checkpoint goes
    (tmp_path / "REPORT.json").write_text(json.dumps(old))

    model_report.main([second])

    cards = json.loads((tmp_path / "REPORT.json").read_text())
    assert [(c["model"], c["miou"]) for c in cards] == [(first, 55.0), (second, 70.0)]
    text = (tmp_path / "REPORT.md").read_text()
    assert f"| {first} |" in text and f"| {second} |" in text and untrained not in text


def test_markdown_row_says_whether_training_added_noise():
    plain, noisy = _card("synth_city/ddrnet", 60.0), {**_card("synth_voc/pspnet", 60.0), "train_noise_255": 8}
    rows = [line for line in model_report.markdown([plain, noisy]).splitlines() if line.startswith("| synth")]
    assert rows[0].split(" | ")[4] == "—" and rows[1].split(" | ")[4] == "±8/255"
    assert all(row.endswith("| yes |") for row in rows)
