"""benchmarks.gpu_check: the dry run (everything shrunk, on the CPU) takes the GPU run's code paths; a part that
fails or finds the budget spent is recorded and the rest still runs; results are written after every part."""

from __future__ import annotations

import json

import pytest

from benchmarks import gpu_check
from benchmarks.gpu_check import ATTACKS, PARTS, SCHEMES, ZOO, main, plan, run_check


def test_the_dry_run_plan_shrinks_the_full_one():
    full, dry = plan(False), plan(True)
    assert full.device == "cuda" and dry.device == "cpu"
    assert list(full.architectures) == list(dry.architectures) == list(ZOO)  # the same rows, tiny models built
    assert full.sizes["cityscapes/deeplabv3plus"] == (1024, 2048) and full.sizes["voc/pspnet"] == (512, 512)
    assert full.memory_sizes == ((512, 1024), (1024, 2048)) and "checkpoint" in full.memory_modes
    assert full.overhead_architecture == ("cityscapes/deeplabv3plus", {"backbone": {"depth": 101}})
    assert full.notebook_params == {"PROFILE": "paper", "DEVICE": "cuda", "DATASET": "synth_city", "N_IMAGES": 4}
    assert full.budget_s == 420 and full.images == 2


def test_a_failing_part_is_recorded_and_the_others_still_run(tmp_path, monkeypatch):
    written = []

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA error: out of memory (test)")

    original_write = gpu_check.write

    def spy(result, out_dir, name):
        written.append(list(result["parts"]))
        return original_write(result, out_dir, name)

    monkeypatch.setattr(gpu_check, "runtimes", broken)
    monkeypatch.setattr(gpu_check, "fullsize_overhead", broken)
    monkeypatch.setattr(gpu_check, "memory", lambda p, log: {"status": "ok", "sizes": {}, "model": "m",
                                                             "overrides": {}, "measure": "x"})  # fmt: skip
    monkeypatch.setattr(gpu_check, "notebook", lambda p, deadline, log: {"status": "skipped", "reason": "test"})
    monkeypatch.setattr(gpu_check, "write", spy)
    result = run_check(plan(True), tmp_path, "check", log=lambda m: None)
    parts = result["parts"]
    assert parts["runtimes"]["status"] == parts["overhead"]["status"] == "error"
    assert "out of memory (test)" in parts["runtimes"]["error"] and "Traceback" in parts["overhead"]["trace"]
    assert parts["memory"]["status"] == "ok" and parts["notebook"] == {**parts["notebook"], "status": "skipped"}
    assert written == [list(PARTS[: i + 1]) for i in range(len(PARTS))]  # rewritten after every part
    saved = json.loads((tmp_path / "check.json").read_text())
    assert saved["parts"]["runtimes"]["status"] == "error"
    assert "**error**: RuntimeError" in (tmp_path / "check.md").read_text()


def test_no_part_starts_after_the_budget(tmp_path):
    result = run_check(plan(True, budget_s=-1), tmp_path, "late", log=lambda m: None)
    assert all(r["status"] == "skipped" and "budget" in r["reason"] for r in result["parts"].values())


def test_without_cuda_the_full_check_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.setattr(gpu_check.torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="dry-run"):
        main(["--out", str(tmp_path)])


@pytest.mark.slow
def test_dry_run_runs_every_part(tmp_path):
    result = main(["--dry-run", "--out", str(tmp_path)])
    parts = result["parts"]
    assert {k: r["status"] for k, r in parts.items()} == dict.fromkeys(PARTS, "ok"), {
        k: r.get("error") or r.get("log_tail") for k, r in parts.items()
    }
    for name in ZOO:
        rows = parts["runtimes"][name]["rows"]
        assert set(rows) == {f"{a}/{s}" for a in ATTACKS for s in SCHEMES}
        ifgsm = rows["ifgsm16/none"]
        assert ifgsm["projected_s_per_frame"] == pytest.approx(20 * ifgsm["s_per_iteration_per_frame"])
        assert rows["alma_prox/E"]["vs_none"] > 0
    assert set(parts["overhead"]["schemes"]) >= set(SCHEMES)
    for modes in parts["memory"]["sizes"].values():
        assert all(r["status"] == "ok" and isinstance(r["within_24gb"], bool) for r in modes.values())
    assert parts["notebook"]["first_table_csv"]
    text = (tmp_path / "gpu_check_dry_run.md").read_text()
    assert "# GPU check (dry run" in text and "## notebook" in text
