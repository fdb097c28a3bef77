"""A decaying event count: an exponentially weighted moving rate in O(1) memory.

Each event adds its `count`; the total halves every `half_life` seconds. For a steady stream of
r events/s the total settles at r * half_life / ln 2, so total * ln 2 / half_life is the rate.
That is the whole state (two floats), which is why 1,000 events/s for hours costs nothing more.
"""

from __future__ import annotations

import math

_LN2 = math.log(2.0)


class DecayingCount:
    """Events seen, each weighing 1 when it happened and half as much every half-life after."""

    __slots__ = ("_at", "_total", "half_life")

    def __init__(self, half_life: float) -> None:
        self.half_life = half_life
        self._total = 0.0
        self._at: float | None = None

    def add(self, count: float, at: float) -> None:
        """Count `count` events at `at`; an event older than the last one is counted decayed."""
        if self._at is None:
            self._total, self._at = float(count), at
        elif at >= self._at:
            self._total = self._total * self._decay(at - self._at) + count
            self._at = at
        else:
            self._total += count * self._decay(self._at - at)

    def total(self, now: float) -> float:
        """The decayed count at `now` (never grown by asking about the past)."""
        if self._at is None:
            return 0.0
        return self._total * self._decay(max(0.0, now - self._at))

    def per_minute(self, now: float) -> float:
        """The rate it estimates, events per minute."""
        return self.total(now) * _LN2 / self.half_life * 60.0

    def _decay(self, seconds: float) -> float:
        return math.exp(-_LN2 * seconds / self.half_life)


def warmup_fraction(span_s: float, half_life: float) -> float:
    """How much of its steady value a count started `span_s` ago can have reached.

    Dividing by it removes the start-up bias of a long average (as Adam's bias correction does),
    so a device watched for 5 minutes is compared with its 5-minute average, not with a 30-minute
    average that is still mostly zeros.
    """
    return 1.0 - math.exp(-_LN2 * span_s / half_life)
