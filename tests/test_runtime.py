"""uwl_utils.runtime.paired_ratios: interleaved, rotated repetitions and per-repetition ratios, on a fake clock."""

import pytest

from uwl_utils import runtime


def test_paired_ratios_by_hand(monkeypatch):
    """A fake clock: each call of a configuration advances it by that configuration's cost in that repetition."""
    clock = [0.0]
    order = []
    # per repetition: a is twice b, except repetition 2 (a slow spell on a only); the baseline b is 1, 3, 1
    costs = {"a": [2.0, 6.0, 5.0], "b": [1.0, 3.0, 1.0]}
    calls = {"a": 0, "b": 0}

    def config(name):
        def run():
            order.append(name)
            clock[0] += costs[name][calls[name]]
            calls[name] += 1

        return run

    monkeypatch.setattr(runtime.time, "perf_counter", lambda: clock[0])
    out = runtime.paired_ratios({"a": config("a"), "b": config("b")}, "b", reps=3, warmup=False)
    assert order == ["a", "b", "b", "a", "a", "b"]  # the order rotates each repetition
    assert out["a"]["ratio"] == 2.0 and out["a"]["ratio_min"] == 2.0 and out["a"]["ratio_max"] == 5.0
    assert out["b"]["ratio"] == 1.0 and out["b"]["seconds"] == 1.0 and out["a"]["seconds"] == 5.0
    assert out["a"]["times_s"] == [2.0, 6.0, 5.0]
    # the ratio of single unpaired timings would have said 6/1 or 2/3, the ratio of medians 5/1


def test_paired_ratios_warm_up_and_bad_input():
    seen = []
    runtime.paired_ratios({"x": lambda: seen.append("x")}, "x", reps=2)
    assert seen == ["x", "x", "x"]  # one untimed warm-up call, then two timed
    with pytest.raises(ValueError, match="baseline"):
        runtime.paired_ratios({"x": lambda: None}, "y")
    with pytest.raises(ValueError, match="reps"):
        runtime.paired_ratios({"x": lambda: None}, "x", reps=0)
