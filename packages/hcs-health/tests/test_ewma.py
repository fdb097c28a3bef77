"""The decaying count halves every half-life, starts at zero, and counts a late event decayed."""

from __future__ import annotations

import pytest

from hcs_health._ewma import DecayingCount


def test_a_new_count_is_zero() -> None:
    count = DecayingCount(60.0)
    assert count.total(5.0) == 0.0
    assert count.per_minute(5.0) == 0.0


def test_an_event_older_than_the_last_one_counts_decayed() -> None:
    count = DecayingCount(60.0)
    count.add(1, 60.0)
    count.add(1, 0.0)  # arrived late: already one half-life old
    assert count.total(60.0) == pytest.approx(1.5)
    assert count.total(120.0) == pytest.approx(0.75)
