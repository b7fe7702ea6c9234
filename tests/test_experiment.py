import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import Dataset

from uwl_utils import experiment
from uwl_utils.attacks import ATTACKS
from uwl_utils.attacks.base import effective_weighting
from uwl_utils.experiment import AttackConfig, attack_grid, load_results, resolve_device, run, summarize
from uwl_utils.metrics import ConfusionMatrix, apsr
from uwl_utils.testing import ToySegmenter


class ToyData(Dataset):
    name = "toy"

    def __init__(self, n=5):
        g = torch.Generator().manual_seed(0)
        self.x = torch.rand(n, 3, 12, 16, generator=g)
        with torch.no_grad():
            self.y = ToySegmenter()(self.x).argmax(1)
        self.y[:, :2] = 255

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"image": self.x[i], "label": self.y[i], "id": f"toy/{i}"}


GRID = attack_grid("ifgsm", [4, 8]) + attack_grid("fgsm", 8)


def go(out, **kw):
    args = dict(n_images=5, batch_size=2, device="cpu", out=out, progress=False)
    args.update(kw)
    return run({"toy": ToySegmenter()}, GRID, ["none", "L0"], ToyData(), **args)


def test_rows_are_tidy_and_metrics_pool_correctly(tmp_path):
    rows, summary = go(tmp_path)
    assert len(rows) == 5 * 3 * 2 and rows[["config", "image_id"]].duplicated().sum() == 0
    assert set(summary["attack"]) == {"ifgsm", "fgsm"} and len(summary) == 6
    # recompute one configuration's pooled metrics directly
    data, model = ToyData(), ToySegmenter()
    from uwl_utils.attacks import ifgsm

    adv = ifgsm(model, data.x, data.y, eps=8 / 255, weighting="L0")
    pred = model(adv).argmax(1)
    row = summary.query("attack == 'ifgsm' and eps_255 == 8 and weighting == 'L0'").iloc[0]
    assert row["apsr"] == pytest.approx(100 * apsr(pred, data.y, reduction="pooled").item())
    assert row["apsr_image_mean"] == pytest.approx(100 * apsr(pred, data.y, reduction="mean").item())
    cm = ConfusionMatrix(5)
    cm.update(pred, data.y)
    assert row["miou_adv"] == pytest.approx(100 * cm.miou())
    assert row["miou_clean"] - row["miou_adv"] == pytest.approx(row["delta_miou"])
    assert row["linf_255_mean"] == pytest.approx(8, abs=1e-4)
    options = json.loads(row["options"])
    assert options["eps"] == pytest.approx(8 / 255) and options["alpha"] == pytest.approx(1 / 255)
    assert options["l0_threshold"] == 0.75 and options["detach_weights"] is False


def test_summary_does_not_depend_on_the_order_of_the_rows(tmp_path):
    rows, _ = go(tmp_path)
    rng = np.random.default_rng(0)
    many = pd.concat([rows.assign(image_id=rows.image_id + f"-{i}") for i in range(40)], ignore_index=True)
    many["n_wrong_adv"] = rng.integers(0, many["n_valid"] + 1)  # fractions whose float sum depends on the order
    shuffled = summarize(many.sample(frac=1, random_state=1))
    pd.testing.assert_frame_equal(shuffled, summarize(many), check_exact=True)  # summed counts, fsum of fractions


class Killed(Exception):
    pass


def test_killed_run_resumes_with_only_the_missing_rows(tmp_path, monkeypatch):
    calls, kill_at = [], [4]
    original = experiment._attack_batch

    def counting(*args):
        calls.append(len(args[1]))
        if len(calls) == kill_at[0]:
            kill_at[0] = None
            raise Killed  # the run is killed while attacking the 4th batch
        return original(*args)

    monkeypatch.setattr(experiment, "_attack_batch", counting)
    with pytest.raises(Killed):
        go(tmp_path)
    finished = load_results(tmp_path)
    assert len(finished) == sum(calls[:3]) > 0  # the three finished batches are on disk
    calls.clear()
    rows, _ = go(tmp_path)
    assert sum(calls) == 5 * 6 - len(finished)  # only the missing rows were computed
    assert len(rows) == 30 and rows[["config", "image_id"]].duplicated().sum() == 0
    calls.clear()
    go(tmp_path)
    assert calls == []  # nothing left to do


def test_a_changed_option_makes_new_rows(tmp_path):
    go(tmp_path)
    from uwl_utils.losses import Weighting

    rows, summary = run(
        {"toy": ToySegmenter()}, [AttackConfig("ifgsm", 8, {"alpha": 2 / 255})],
        [Weighting("L0", l0_on="logits")], ToyData(), n_images=5, batch_size=5, device="cpu", out=tmp_path,
        progress=False,
    )  # fmt: skip
    assert len(rows) == 5 and summary["config"].nunique() == 1  # this call's configuration only
    assert len(load_results(tmp_path)) == 30 + 5  # the earlier rows stay on disk


def test_rows_of_another_checkpoint_or_more_images_stay_on_disk_but_are_not_returned(tmp_path):
    model, ckpt, out = ToySegmenter(), tmp_path / "model.pth", tmp_path / "rows"
    model.checkpoint_path = ckpt  # as load_model sets it; the file's content is the model's identity

    def attack(n_images=5):
        return run({"toy": model}, GRID[:1], ["none"], ToyData(), n_images=n_images, batch_size=5, device="cpu",
                   out=out, progress=False)  # fmt: skip

    ckpt.write_bytes(b"first weights")
    first, _ = attack()
    ckpt.write_bytes(b"retrained weights")
    second, summary = attack()
    assert len(first) == len(second) == 5 and set(first["config"]).isdisjoint(second["config"])
    digest = hashlib.sha256(b"retrained weights").hexdigest()[:16]
    assert set(second["checkpoint"]) == {digest} and digest not in set(first["checkpoint"])  # provenance per row
    assert len(summary) == 1 and len(load_results(out)) == 10  # not averaged with the old checkpoint's rows
    fewer, _ = attack(n_images=3)
    assert sorted(fewer["image_id"]) == ["toy/0", "toy/1", "toy/2"] and set(fewer["config"]) == set(second["config"])
    assert len(load_results(out)) == 10  # read back, nothing recomputed


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown attack 'bim'"):
        AttackConfig("bim")
    with pytest.raises(ValueError, match="has no parameter"):
        AttackConfig("ifgsm", 8, {"stepz": 3}).kwargs()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='DEVICE="cuda" but torch sees no CUDA GPU'):
            resolve_device("cuda")
    assert resolve_device("cpu").type == "cpu"
    assert summarize(load_results("/nonexistent")).empty


def test_patch_attack_is_scored_without_its_area_and_recorded_by_content(tmp_path):
    patch = torch.full((3, 4, 6), 0.5)
    rows, summary = run(
        {"toy": ToySegmenter()}, [AttackConfig("patch_eot", None, {"patch": patch})], ["none"], ToyData(),
        n_images=2, batch_size=2, device="cpu", out=tmp_path, progress=False,
    )  # fmt: skip
    data = ToyData()
    labelled = [int((data.y[i] != 255).sum()) for i in range(2)]
    assert rows["n_valid"].tolist() == [n - 24 for n in labelled]  # the 4×6 patch lies inside labelled rows
    options = json.loads(rows["options"].iloc[0])
    assert options["patch"]["tensor"] == [3, 4, 6] and len(options["patch"]["sha256"]) == 16
    other = run(
        {"toy": ToySegmenter()}, [AttackConfig("patch_eot", None, {"patch": patch.clone().fill_(0.25)})], ["none"],
        ToyData(), n_images=2, batch_size=2, device="cpu", out=tmp_path, progress=False,
    )  # fmt: skip
    assert len(other.rows) == 2 and set(other.rows["config"]).isdisjoint(rows["config"])  # a new configuration
    assert load_results(tmp_path)["config"].nunique() == 2  # not a rerun of the first patch


def test_minimal_norm_attacks_report_the_eps_they_found(tmp_path):
    rows, _ = run(
        {"toy": ToySegmenter()}, [AttackConfig("alma_prox", None, {"steps": 5})], ["none"], ToyData(),
        n_images=2, batch_size=2, device="cpu", out=tmp_path, progress=False,
    )  # fmt: skip
    assert "eps_found_255" in rows and len(rows) == 2


def test_cr_pgd_runs_with_the_cr_weighting_and_records_its_projection(tmp_path):
    grid = attack_grid("cr_pgd", 0.3 * 255, norm="l2", steps=3) + [
        AttackConfig("cr_pgd", 1.0, {"norm": "linf", "steps": 3, "faithful": faithful}) for faithful in (False, True)
    ]
    rows, summary = run(
        {"toy": ToySegmenter()}, grid, ["CR", "L0", "none"], ToyData(), n_images=2, batch_size=2, device="cpu",
        out=tmp_path, progress=False,
    )  # fmt: skip
    assert len(summary) == 9 and len(rows) == 18
    options = summary["options"].map(json.loads)
    assert sorted(options.map(lambda o: (o["norm"], o["faithful"])).value_counts().to_dict().items()) == [
        (("l2", False), 3), (("linf", False), 3), (("linf", True), 3)
    ]  # fmt: skip
    l2 = summary[options.map(lambda o: o["norm"] == "l2")]
    assert set(l2["weighting"]) == {"CR", "L0", "none"}
    assert all(o["eps"] == pytest.approx(0.3) and o["n_samples"] == 8 for o in options[l2.index])
    faithful = rows["options"].map(lambda o: json.loads(o)["faithful"])
    assert rows.loc[faithful, "linf_255"].max() > 1.5  # the published code's missing ℓ∞ projection: up to 2.5 ε
    assert rows.loc[~faithful & (rows["eps_255"] == 1.0), "linf_255"].max() <= 1.0 + 1e-4


def test_cr_weighting_with_another_attack_fails_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"runs inside cr_pgd only; run \['ifgsm'\]"):
        run({"toy": ToySegmenter()}, GRID[:1], ["none", "CR"], ToyData(), out=tmp_path, progress=False)
    assert load_results(tmp_path).empty


def test_per_image_apsr_mean_skips_an_image_without_valid_pixels_as_metrics_apsr(tmp_path):
    data = ToyData(3)
    data.y[1] = 255  # an all-ignore image
    rows, summary = run({"toy": ToySegmenter()}, GRID[:1], ["none"], data, n_images=3, batch_size=3, device="cpu",
                        out=tmp_path, progress=False)  # fmt: skip
    assert rows.set_index("image_id").loc["toy/1", "n_valid"] == 0
    from uwl_utils.attacks import ifgsm

    pred = ToySegmenter()(ifgsm(ToySegmenter(), data.x, data.y, eps=4 / 255)).argmax(1)
    expected = apsr(pred, data.y, reduction="mean").item()
    assert np.isfinite(expected) and summary["apsr_image_mean"].item() == pytest.approx(100 * expected)
    # by hand: the mean of the two images that have valid pixels
    rates = [(pred[i] != data.y[i])[data.y[i] != 255].double().mean().item() for i in (0, 2)]
    assert summary["apsr_image_mean"].item() == pytest.approx(100 * sum(rates) / 2)
    assert np.isnan(summary["n_reached_threshold"].item())  # I-FGSM has no success threshold


def test_minimal_pgd_rows_say_which_images_reached_the_threshold(tmp_path):
    attack = AttackConfig("minimal_pgd", None, {"max_eps": 1 / 255, "search_steps": 2, "steps": 2})
    rows, summary = run({"toy": ToySegmenter()}, [attack], ["none"], ToyData(2), n_images=2, batch_size=2,
                        device="cpu", out=tmp_path, progress=False)  # fmt: skip
    # 1/255 is far too small for 99 % of the toy's pixels: both images come back unperturbed
    assert rows["reached_threshold"].tolist() == [False, False] and rows["eps_found_255"].isna().all()
    assert (rows["n_wrong_adv"] == rows["n_wrong_clean"]).all() and (rows["linf_255"] == 0).all()
    assert summary["n_reached_threshold"].item() == 0


# Config hashes computed by the runner before attacks reported extras through AttackInfo (main at ee86740,
# as the runner records the weighting): the same configurations must keep them, or a rerun would recompute
# (and mix) rows already on disk.
PINNED_HASHES = [
    (AttackConfig("ifgsm", 8), "L0", "d5d8cffadf50b017"),
    (AttackConfig("minimal_pgd", 8, {"steps": 3}), "E", "f9d92d6b97337fa9"),
    (AttackConfig("alma_prox", None, {"steps": 5}), "none", "472eb44e4893b24c"),
    (AttackConfig("uniform_noise", 8), "none", "ff842c325ac20439"),
    (AttackConfig("patch_eot", None, {"patch": torch.full((3, 4, 6), 0.5)}), "none", "f50a54581ac5595c"),
    (AttackConfig("cr_pgd", None, {"steps": 3}), "CR", "d0aadd7fe5e3a5cc"),
    (AttackConfig("sparse_ifgsm", 16, {"fraction": 0.1}), "L0", "d4b5188be934e74a"),
]


@pytest.mark.parametrize("attack, weighting, expected", PINNED_HASHES)
def test_config_hashes_stay_those_of_earlier_runs(attack, weighting, expected):
    from uwl_utils.losses import as_weighting

    record = experiment._config_record(
        {"dataset": "toy", "size": None}, {"model": "toy", "checkpoint": None}, attack, as_weighting(weighting)
    )  # the weighting as given, before an attack resolves its detach_weights default
    assert record["config"] == expected


def test_rows_record_the_values_an_attack_resolved_from_its_defaults(tmp_path):
    grid = [AttackConfig("ifgsm", 8), AttackConfig("cr_pgd", None, {"steps": 2})]
    rows, _ = run({"toy": ToySegmenter()}, grid, ["none"], ToyData(), n_images=2, device="cpu", out=tmp_path,
                  progress=False)  # fmt: skip
    options = {a: json.loads(o) for a, o in zip(rows["attack"], rows["options"], strict=True)}
    assert options["ifgsm"]["steps"] == 10  # min(8 + 4, ⌊1.25 · 8⌋), not None
    assert options["cr_pgd"]["eps"] == 1.0 and options["cr_pgd"]["step_size"] == pytest.approx(2.5 * 1.0 / 2)
    ifgsm_hash = experiment._config_record(
        {"dataset": "toy", "size": None},
        {"model": "toy", "checkpoint": None},
        grid[0],
        effective_weighting(ATTACKS["ifgsm"].fn, "none"),
    )["config"]
    assert ifgsm_hash in set(rows["config"])  # the hash is that of the call (steps=None)


def test_an_attack_without_weighting_refuses_one_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"\['uniform_noise'\] take no weighting"):
        run({"toy": ToySegmenter()}, attack_grid("uniform_noise", 8), ["none", "L0"], ToyData(), out=tmp_path,
            progress=False)  # fmt: skip
    assert load_results(tmp_path).empty
