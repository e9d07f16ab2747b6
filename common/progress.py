"""Time-left estimates for runs made of several stages of unequal cost (segpaint's passes, rounds, ...).

A progress bar knows the rate of the stage it shows; a first-time user wants the whole run: ``TimeLeft``
takes the relative cost of every stage up front (any unit: Adam steps x windows x strokes, say), measures the
seconds spent per unit so far, and extrapolates to the units that remain.

    left = TimeLeft([50 * 25 * 48, 50 * 25 * 68, ...])     # one cost per stage
    ...
    print(left.message(stage=0, fraction=0.1))             # "about 4 min 10 s left (estimate)"
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

__all__ = ["TimeLeft", "format_duration"]


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 20 s``, ``1 h 05 min`` (seconds >= 0, rounded; negative values count as 0)."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


class TimeLeft:
    """Seconds left in a run of stages with known relative costs, from the rate measured so far.

    Args:
        costs: relative cost of each stage (>= 0, at least one > 0); units cancel out.
        clock: seconds, monotonic (a parameter for tests).

    Raises:
        ValueError: no stage, a negative cost, or all costs zero.
    """

    def __init__(self, costs: Sequence[float], clock: Callable[[], float] = time.monotonic) -> None:
        self.costs = [float(c) for c in costs]
        if not self.costs or min(self.costs) < 0 or sum(self.costs) <= 0:
            raise ValueError(f"costs must be >= 0 with a positive total, got {list(costs)}")
        self.clock = clock
        self.start = clock()

    def done_fraction(self, stage: int, fraction: float) -> float:
        """Fraction of the whole run's cost done when ``stage`` (0-based) is ``fraction`` (0..1) through."""
        done = sum(self.costs[:stage]) + self.costs[stage] * min(1.0, max(0.0, fraction))
        return done / sum(self.costs)

    def seconds_left(self, stage: int, fraction: float) -> float | None:
        """Estimated seconds to the end of the last stage; ``None`` before any cost is done."""
        done = self.done_fraction(stage, fraction)
        if done <= 0:
            return None
        elapsed = self.clock() - self.start
        return elapsed * (1 - done) / done

    def message(self, stage: int, fraction: float) -> str:
        """``about 3 min 20 s left (estimate)``, or ``time left: not known yet``."""
        left = self.seconds_left(stage, fraction)
        if left is None:
            return "time left: not known yet"
        return f"about {format_duration(left)} left (estimate)"
