"""The benchmark runner (benchmarks/): its arithmetic, its outputs, and its handling of missing peers.

Fast: a toy model at 16×24 with one or two iterations per attack. No assertion depends on how fast anything
ran; the timings themselves are only checked for being positive numbers.
"""

from __future__ import annotations

import json
import math
import sys

import pytest
import torch

from benchmarks import peers as peers_mod
from benchmarks.peers import Peer, load_peers, torchattacks_labels
from benchmarks.report import targets, to_markdown, write_results
from benchmarks.run import benchmark, main, toy_setup
from benchmarks.suite import PROFILES, SECTIONS, peers_section, run_sections, scaled
from benchmarks.timing import (
    PassCounter,
    floor_ratio,
    images_per_second,
    median,
    overhead_ratios,
    paired_ratio,
    ratio_of_medians,
    run_passes,
)
from uwl_utils.attacks import alma_prox, cr_pgd, fgsm, ifgsm, pgd
from uwl_utils.losses import PAPER_SCHEMES

# one or two iterations everywhere, one repetition: a smoke run of every code path
TINY = scaled(
    PROFILES["quick"],
    reps=1,
    overhead_batch=2,
    overhead_steps=2,
    component_reps=1,
    reference_reps=0,
    batch_sizes=(1, 2),
    batching_eps=2 / 255,
    batching_reps=1,
    peer_batch=2,
    peer_reps=1,
    peer_pgd_steps=2,
    peer_alma_steps=2,
    peer_alma_reps=1,
    paper_ifgsm_eps=2 / 255,
    paper_ifgsm_reps=1,
    paper_alma_steps=2,
    apgd_steps=2,
    apgd_schemes=("none", "L0"),
)


def _no_peers(reason: str = "not installed (test)") -> dict[str, Peer]:
    return {
        k: Peer(f"{pkg}.{k}", pkg, None, None, reason)
        for k, pkg in (("BIM", "torchattacks"), ("PGD", "torchattacks"), ("alma_prox", "adv-lib"))
    }


# --- the arithmetic, against hand-computed values ----------------------------------------------------------------


def test_median_and_ratio_of_medians():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert ratio_of_medians([3.0, 1.0, 2.0], [0.5, 1.0, 4.0]) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        median([])


def test_paired_ratio_hand_computed():
    assert paired_ratio([2.2, 3.0, 2.0], [2.0, 2.0, 2.0]) == pytest.approx(1.1)  # ratios 1.1, 1.5, 1.0
    # a slow spell in repetition 2 hits both sides and cancels; the ratio of medians would say 1.2 / 1.0
    assert paired_ratio([1.0, 8.0, 1.2], [1.0, 8.0, 1.0]) == pytest.approx(1.0)  # ratios 1.0, 1.0, 1.2
    assert ratio_of_medians([1.0, 8.0, 1.2], [1.0, 8.0, 1.0]) == pytest.approx(1.2)
    with pytest.raises(ValueError):
        paired_ratio([1.0, 2.0], [1.0])


def test_overhead_ratios_hand_computed():
    times = {"none": [1.0, 3.0, 2.0], "M": [1.1, 3.3, 2.2], "L0": [1.0, 3.3, 2.4]}
    # M: 1.1, 1.1, 1.1 -> 1.1; L0: 1.0, 1.1, 1.2 -> 1.1; none: 1.0
    assert overhead_ratios(times) == pytest.approx({"none": 1.0, "M": 1.1, "L0": 1.1})
    with pytest.raises(KeyError):
        overhead_ratios({"M": [1.0]})


def test_floor_ratio_hand_computed():
    # an attack of 5 forward+backward passes: wall 0.60, 0.55, 0.90 s against the bare passes 0.50, 0.50, 0.60 s
    # -> 1.2, 1.1, 1.5 -> median 1.2
    assert floor_ratio([0.60, 0.55, 0.90], [0.50, 0.50, 0.60]) == pytest.approx(1.2)


def test_run_passes_makes_the_counted_passes(toy_model, toy_batch):
    images, _ = toy_batch
    counter = PassCounter(toy_model)
    grads = {3: torch.ones(3, toy_model.num_classes, *images.shape[-2:]), 1: torch.ones(1, 5, *images.shape[-2:])}
    run_passes(counter, {("fb", 3): 2, ("f", 1): 3}, {3: images, 1: images[:1]}, grads)
    assert counter.passes == {("f", 1): 3, ("fb", 3): 2}


def test_images_per_second_hand_computed():
    assert images_per_second(4, [1.0, 2.0, 4.0]) == pytest.approx(2.0)  # 4 images / median 2 s


# --- pass counting ----------------------------------------------------------------------------------------------


PROBE = ("f", 1)  # every attack's input check runs the model once on the first image (attacks.base.prepare)


def test_pass_counter_counts_forward_and_backward_passes(toy_model, toy_batch):
    images, labels = toy_batch  # 3 images
    counter = PassCounter(toy_model, timing=True)
    assert counter.num_classes == toy_model.num_classes
    fgsm(counter, images, labels)
    assert counter.passes == {("fb", 3): 1, PROBE: 1}
    counter.reset()
    ifgsm(counter, images, labels, steps=4)
    assert counter.passes == {("fb", 3): 4, PROBE: 1}
    assert counter.forward_s > 0 and counter.backward_s > 0
    counter.reset()
    pgd(counter, images, labels, steps=3)
    assert counter.passes == {("fb", 3): 3, PROBE: 1}
    counter.reset()
    # CR: smoothing at t = 0 and t = 5, each one forward of 8 noisy copies of the 3 images, without gradient
    cr_pgd(counter, images, labels, steps=6, refresh=5, n_samples=8, sample_batch=8, generator=0)
    assert counter.passes == {("fb", 3): 6, ("f", 24): 2, PROBE: 1}
    counter.reset()
    with torch.no_grad():
        counter(images)
    assert counter.passes == {("f", 3): 1}


# --- the runner: well-formed JSON and markdown ------------------------------------------------------------------


def _check_markdown_tables(text: str) -> int:
    """Every table row has the header's number of cells (escaped pipes do not split a cell); returns #tables."""
    tables, width = 0, None
    for line in text.splitlines():
        if line.startswith("|"):
            cells = line.replace("\\|", "").strip().strip("|").split("|")
            if width is None:
                width, tables = len(cells), tables + 1
            else:
                assert len(cells) == width, line
        else:
            width = None
    return tables


@pytest.fixture(scope="module")
def toy_result(one_thread):
    setup = toy_setup(n_images=2, size=(16, 24), log=lambda message: None)
    return benchmark([setup], TINY, _no_peers(), SECTIONS, {"GPU": "no CUDA device (test)"})


def test_runner_writes_well_formed_json_and_markdown(toy_result, tmp_path):
    json_path, md_path = write_results(toy_result, tmp_path, "latest")
    data = json.loads(json_path.read_text())  # strict JSON: NaN would not parse back as a number here
    assert data["schema"] == 1 and data["profile"]["name"] == "quick"
    assert {"cpu", "cpu_count", "torch", "torch_threads"} <= set(data["machine"])
    (run,) = data["runs"]
    assert set(SECTIONS) <= set(run)
    over = run["overhead"]
    assert set(over["overhead"]) == {"ifgsm", "pgd", "alma_prox", "cr_pgd"}
    assert set(over["overhead"]["ifgsm"]) == {"none", "M", "D", "Mbar", "E", "L0", "L0+E"}
    assert set(over["overhead"]["cr_pgd"]) == {"none", "CR"}
    for per in over["overhead"].values():
        assert per["none"]["ratio"] == pytest.approx(1.0)
        assert all(r["ratio"] > 0 and r["per_iter_s"] > 0 for r in per.values())
    assert over["floor"]["ifgsm/none"]["passes"] == {"fb@2": 2, "f@1": 1}  # f@1: the input check's probe
    assert over["floor"]["fgsm/none"]["passes"] == {"fb@2": 1, "f@1": 1}
    assert over["floor"]["cr_pgd/CR"]["passes"] == {"fb@2": 2, "f@16": 1, "f@1": 1}
    for r in over["floor"].values():
        assert r["ratio"] > 0 and 0 <= r["outside_model_share"] <= 1
    assert set(run["batching"]["rows"]) == {"1", "2"}
    assert all(r["status"] == "ok" and r["images_per_s"] > 0 for r in run["batching"]["rows"].values())
    assert all(run["peers"][k]["status"] == "skipped" for k in ("ifgsm", "pgd", "alma_prox"))
    paper = run["paper"]
    assert 0 <= paper["ifgsm"]["apsr"] <= 1 and 0 <= paper["alma_prox"]["apsr"] <= 1
    assert paper["time_share"] == pytest.approx(paper["ifgsm"]["s_per_image"] / paper["alma_prox"]["s_per_image"])
    ap = run["apgd"]
    assert ap["steps"] == 2 and ap["apgd_passes"] == 3  # APGD evaluates its start too
    assert set(ap["rows"]) == {"none", "L0"}
    for r in ap["rows"].values():
        per_pass = [(a / 3) / (p / 2) for a, p in zip(r["apgd_times_s"], r["pgd_times_s"], strict=True)]
        assert r["ratio"] == pytest.approx(sorted(per_pass)[len(per_pass) // 2]) and r["ratio"] > 0
    assert data["skipped"] == {"GPU": "no CUDA device (test)"}
    names = [t["target"] for t in data["targets"]]
    assert any(n.startswith("weighting overhead ifgsm") for n in names)
    assert any(n == "floor ratio pgd" for n in names)
    for t in data["targets"]:
        assert t["met"] in (True, False, None)
        if t["limit"] is not None and t["value"] is not None:
            assert t["met"] == (t["value"] <= t["limit"])

    text = md_path.read_text()
    assert text.startswith("# Benchmark results")
    for heading in (
        "1. Weighting overhead",
        "2. Floor ratio",
        "3. Batching",
        "4. Peers",
        "5. Paper's runtime claim",
        "6. APGD vs PGD",
        "### Targets",
        "Skipped: no CUDA device (test)",
    ):
        assert heading in text
    assert _check_markdown_tables(text) >= 8


def test_targets_flag_misses_from_given_numbers():
    run = {
        "overhead": {
            "overhead": {
                "ifgsm": {"none": {"ratio": 1.0}, "M": {"ratio": 1.02}, "E": {"ratio": 1.05}},
                "pgd": {"none": {"ratio": 1.0}, "M": {"ratio": 1.01}},
                "alma_prox": {"none": {"ratio": 1.0}, "L0": {"ratio": 1.03}},
                "cr_pgd": {"none": {"ratio": 1.0}, "CR": {"ratio": 1.4}},
            },
            "floor": {"fgsm/none": {"ratio": 1.2}, "ifgsm/none": {"ratio": 1.05}, "alma_prox/none": {"ratio": 3.0}},
        }
    }
    rows = {r["target"]: r for r in targets(run, "CPU")}
    assert rows["weighting overhead ifgsm (worst non-CR scheme)"]["met"] is False
    assert rows["weighting overhead ifgsm (worst non-CR scheme)"]["note"] == "worst: E"
    assert rows["weighting overhead pgd (worst non-CR scheme)"]["met"] is True
    assert rows["weighting overhead alma_prox (worst non-CR scheme)"]["met"] is True  # 1.03 ≤ 1.03
    assert rows["floor ratio fgsm"]["met"] is False and rows["floor ratio ifgsm"]["met"] is True
    assert rows["floor ratio alma_prox"]["met"] is None  # reported, no target


# --- peers ------------------------------------------------------------------------------------------------------


def test_missing_peers_are_skipped_with_a_reason(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchattacks", None)  # import torchattacks -> ImportError
    monkeypatch.setitem(sys.modules, "adv_lib", None)  # find_spec("adv_lib") -> None
    monkeypatch.delitem(sys.modules, "adv_lib.attacks.segmentation.alma_prox", raising=False)
    peers = load_peers()
    assert not any(p.available for p in peers.values())
    for key, package in (("BIM", "torchattacks"), ("PGD", "torchattacks"), ("alma_prox", "adv-lib")):
        assert package in peers[key].reason and "make bench" in peers[key].reason

    setup = toy_setup(n_images=2, log=lambda message: None)
    out = peers_section(setup, TINY, peers)
    for key in ("ifgsm", "pgd", "alma_prox"):
        assert out[key]["status"] == "skipped" and out[key]["reason"]
    run = {"label": "CPU: toy", "peers": out}
    rows = targets(run, "CPU")
    assert len(rows) == 3 and all(r["met"] is None and r["note"].startswith("skipped") for r in rows)
    result = {
        "machine": {
            "cpu": "x",
            "cpu_usable": 1,
            "cpu_count": 1,
            "torch_threads": 1,
            "platform": "p",
            "python": "3",
            "torch": "2",
            "cuda": None,
        },
        "profile": {"name": "tiny", "reps": 1},
        "wall_s": 0.0,
        "created": "now",
        "runs": [run],
        "targets": rows,
    }
    text = to_markdown(result)
    assert text.count("skipped: ") >= 3
    _check_markdown_tables(text)


def test_a_broken_peer_install_is_skipped(monkeypatch):
    def broken(name, *args, **kwargs):
        raise RuntimeError("broken install")

    monkeypatch.setattr(peers_mod.importlib, "import_module", broken)
    peer = peers_mod.load_torchattacks("BIM")
    assert not peer.available and "RuntimeError: broken install" in peer.reason


def test_torchattacks_labels_map_ignore_to_minus_100():
    labels = torch.tensor([[[0, 255], [3, 255]]])
    assert torchattacks_labels(labels).tolist() == [[[0, -100], [3, -100]]]
    assert labels.tolist() == [[[0, 255], [3, 255]]]  # not in place


def test_bim_peer_matches_our_ifgsm(toy_model, toy_batch):
    pytest.importorskip("torchattacks")
    peer = peers_mod.load_torchattacks("BIM")
    assert peer.available, peer.reason
    images, labels = toy_batch
    ours = ifgsm(toy_model, images, labels, eps=4 / 255, alpha=1 / 255, steps=4)
    theirs = peer.attack(toy_model, images, labels, eps=4 / 255, alpha=1 / 255, steps=4)
    assert torch.allclose(ours, theirs, atol=1e-6)


@pytest.fixture
def adv_lib_alma_prox() -> Peer:
    """adv_lib's alma_prox without its torch.compile; the test is skipped where adv_lib is missing or broken."""
    if peers_mod.importlib.util.find_spec("adv_lib") is None:
        pytest.skip("adv_lib not installed (make bench installs it)")
    peer = peers_mod.load_adv_lib_alma_prox(eager=True)
    if not peer.available:
        pytest.skip(peer.reason)
    return peer


def test_adv_lib_peer_loads_without_its_package_init(adv_lib_alma_prox):
    peer = adv_lib_alma_prox
    setup = toy_setup(n_images=1, log=lambda message: None)
    adv = peer.attack(setup.model, setup.images, setup.labels, num_steps=3)
    assert adv.shape == setup.images.shape and math.isfinite(float(adv.sum()))


def test_adv_lib_alma_prox_follows_ours_step_by_step(adv_lib_alma_prox):
    """An independent implementation: adv_lib's first iterations give our iterates (batch 1, its setting)."""
    peer = adv_lib_alma_prox
    setup = toy_setup(n_images=1, log=lambda message: None)
    x, y = setup.images.double(), setup.labels
    model = setup.model.double()
    for steps in (2, 3, 6):  # adv_lib needs ≥ 2; from 3 on constraint masking drops constraints
        ours = alma_prox(model, x, y, steps=steps, lr_init=0.01)
        theirs = peer.attack(model, x, y, num_steps=steps, lr_init=0.01)
        torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)  # the prox finds its threshold to 1e-6


def test_alma_peer_apsr_is_pooled_over_images_each_attacked_alone():
    """A stand-in peer that is our own alma_prox: zero difference per image and pooled, and a recorded drift."""
    calls = []

    def stand_in(model, images, labels, num_steps):
        calls.append(images.shape[0])
        return alma_prox(model, images, labels, steps=num_steps)

    peers = {**_no_peers(), "alma_prox": Peer("ours-as-peer", "uwl", None, stand_in)}
    setup = toy_setup(n_images=3, log=lambda message: None)
    profile = scaled(TINY, peer_alma_images=3, peer_alma_steps=3)
    r = peers_section(setup, profile, peers)["alma_prox"]
    assert r["status"] == "ok" and r["apsr_images"] == 3
    assert r["apsr_diff_points"] == 0 and r["apsr_diff_points_per_image"] == [0, 0, 0]
    assert r["apsr_ours"] == r["apsr_peer"] and 0 <= r["apsr_ours"] <= 1
    assert math.isfinite(r["jitter_points"]) and r["jitter"] == 1e-6
    assert calls.count(1) >= 3  # every image of the APSR comparison alone
    (row,) = [t for t in targets({"peers": {"ifgsm": _skip_record(), "pgd": _skip_record(), "alma_prox": r}}, "CPU")
              if t["target"].startswith("|APSR alma_prox")]  # fmt: skip
    assert row["met"] is True and "over 3 images" in row["note"]


def _skip_record() -> dict[str, object]:
    return {"status": "skipped", "reason": "test", "peer": {"name": "x"}}


def test_cli_on_the_toy_model_without_peers(tmp_path):
    args = [
        "--model",
        "toy",
        "--profile",
        "quick",
        "--no-peers",
        "--no-gpu",
        "--sections",
        "batching,paper",
        "--set",
        "batch_sizes=1,2",
        "--set",
        "batching_eps=2/255",
        "--set",
        "batching_reps=1",
        "--set",
        "paper_alma_steps=2",
        "--set",
        "paper_ifgsm_eps=2/255",
        "--set",
        "paper_ifgsm_reps=1",
        "--out",
        str(tmp_path),
        "--name",
        "smoke",
    ]
    result = main(args)
    assert (tmp_path / "smoke.json").exists() and (tmp_path / "smoke.md").exists()
    assert result["profile"]["batching_eps_255"] == pytest.approx(2.0)
    assert result["skipped"] == {"GPU": "--no-gpu"}
    assert set(result["runs"][0]) >= {"batching", "paper"} and "overhead" not in result["runs"][0]
    json.loads((tmp_path / "smoke.json").read_text())
    with pytest.raises(SystemExit):
        main(["--set", "no_such_field=1", "--out", str(tmp_path)])


# --- the full-size sections (a tiny model stands in for DeepLabv3+ R101) -----------------------------------------

FULLSIZE_TINY = scaled(
    TINY,
    fullsize_model="synth_city/deeplabv3plus",
    fullsize_depth=0,
    fullsize_size=(32, 64),
    fullsize_steps=1,
    fullsize_reps=2,
    memory_sizes=(32, 64, 64, 128),
    memory_limit_gb=0.05,
)


def test_fullsize_and_memory_sections_on_a_tiny_model(tmp_path):
    setup = toy_setup(n_images=1, log=lambda message: None)
    run = run_sections(setup, FULLSIZE_TINY, _no_peers(), ("fullsize", "memory"))
    full = run["fullsize"]
    assert set(full["schemes"]) == set(PAPER_SCHEMES) and full["size"] == [32, 64]
    none = full["schemes"]["none"]
    assert none["ratio"] == none["ratio_min"] == none["ratio_max"] == 1.0
    for r in full["schemes"].values():
        assert len(r["times_s"]) == 2 and r["ratio_min"] <= r["ratio"] <= r["ratio_max"]
        assert math.isfinite(r["implied_ratio"])
    mem = run["memory"]["sizes"]
    first, second = mem["32x64"], mem["64x128"]
    for mode in ("none", "checkpoint"):  # measured in a subprocess: its peak resident set holds torch at least
        assert first[mode]["status"] == "ok" and first[mode]["peak_gb"] >= first[mode]["base_gb"] > 0.05
        # the next size is predicted from the first (linear in the pixels) and exceeds the 0.05 GB limit
        expected = first[mode]["base_gb"] + 4 * (first[mode]["peak_gb"] - first[mode]["base_gb"])
        assert second[mode]["status"] == "skipped"
        assert second[mode]["predicted_gb"] == pytest.approx(expected)
    grew = first["none"]["peak_gb"] > first["none"]["base_gb"]
    assert first["none"]["ratio"] == (1.0 if grew else None)
    result = {**benchmark([], TINY, _no_peers()), "runs": [run]}
    json_path, md_path = write_results(result, tmp_path, "full")
    text = md_path.read_text()
    assert "Weighting overhead at full size" in text and "Memory of one I-FGSM iteration" in text
    assert "predicted" in text and json.loads(json_path.read_text())["runs"][0]["memory"]
    (row,) = [t for t in targets(run, "CPU") if t["target"].startswith("weighting overhead at full size")]
    assert row["limit"] == 1.02 and row["met"] == (row["value"] <= 1.02)
