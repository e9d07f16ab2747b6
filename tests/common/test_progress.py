"""common.progress: time-left estimates across stages of unequal cost."""

from __future__ import annotations

import pytest

from common.progress import TimeLeft, format_duration


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_format_duration():
    assert format_duration(0) == "0 s" and format_duration(42.4) == "42 s" and format_duration(-3) == "0 s"
    assert format_duration(200) == "3 min 20 s" and format_duration(3900) == "1 h 05 min"


def test_estimate_weights_the_stages_by_cost():
    clock = FakeClock()
    left = TimeLeft([1, 3], clock=clock)  # the second stage costs 3x the first
    assert left.seconds_left(0, 0.0) is None and "not known" in left.message(0, 0.0)
    clock.now += 10  # the first stage took 10 s
    assert left.seconds_left(0, 1.0) == pytest.approx(30.0)
    clock.now += 15  # halfway through the second
    assert left.seconds_left(1, 0.5) == pytest.approx(15.0)
    assert left.message(1, 0.5) == "about 15 s left (estimate)"
    assert left.seconds_left(1, 1.0) == pytest.approx(0.0)


def test_bad_costs():
    for costs in ([], [0, 0], [1, -1]):
        with pytest.raises(ValueError):
            TimeLeft(costs)
