"""uwl_utils.runtime.paired_ratios on a fake clock: rotated interleaving, per-repetition ratios, bad input."""

import pytest

from uwl_utils import runtime


def test_ratios_are_paired_by_repetition(monkeypatch):
    now = [0.0]
    calls: list[str] = []
    # seconds per call: "slow" costs 3× the baseline in every repetition, but the load triples in repetition 1
    cost = {"base": iter([1.0, 3.0, 1.0, 1.0]), "slow": iter([3.0, 9.0, 3.0, 3.0])}

    def timed(name):
        def call():
            calls.append(name)
            now[0] += next(cost[name])

        return call

    monkeypatch.setattr(runtime.time, "perf_counter", lambda: now[0])
    out = runtime.paired_ratios({"base": timed("base"), "slow": timed("slow")}, "base", reps=4, warmup=False)
    assert calls == ["base", "slow", "slow", "base", "base", "slow", "slow", "base"]
    assert out["slow"]["ratio"] == out["slow"]["ratio_min"] == out["slow"]["ratio_max"] == 3.0
    assert out["base"]["ratio"] == 1.0
    assert out["slow"]["seconds"] == 3.0  # median of 3, 9, 3, 3
    assert out["base"]["times_s"] == [1.0, 3.0, 1.0, 1.0]


def test_warmup_call_and_bad_input():
    calls: list[int] = []
    runtime.paired_ratios({"a": lambda: calls.append(1)}, "a", reps=3)
    assert len(calls) == 4  # one untimed, three timed
    with pytest.raises(ValueError, match="baseline 'b'"):
        runtime.paired_ratios({"a": lambda: None}, "b")
    with pytest.raises(ValueError, match="reps"):
        runtime.paired_ratios({"a": lambda: None}, "a", reps=0)
