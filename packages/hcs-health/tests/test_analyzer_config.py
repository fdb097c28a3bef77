"""Each analyzer setting is accepted at its bounds and refused just past them, naming why."""

from __future__ import annotations

from typing import Any

import pytest

from hcs_health.analyzer import AnalyzerConfig
from hcs_health.errors import AnalyzerConfigError


@pytest.mark.parametrize(
    "settings",
    [
        {"short_half_life_s": 0.5},
        {"unhealthy_below": 1},
        {"unhealthy_below": 100, "healthy_at": 100},
        {"unhealthy_below": 80, "healthy_at": 80},
        {"efficiency_ratio": 0.01},
        {"efficiency_window_s": 0.5},
        {"efficiency_cap": 0},
        {"efficiency_cap": 100},
        {"evidence_events": 1},
        {"evidence_events": 100},
        {"fatal_hold_s": 0},
        {"fatal_hold_s": 0.5},
        {"error_floor_per_min": 0.01},
    ],
    ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()),
)
def test_bounds_are_accepted(settings: dict[str, Any]) -> None:
    config = AnalyzerConfig(**settings)
    assert all(getattr(config, key) == value for key, value in settings.items())


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"short_half_life_s": 0}, "short_half_life_s must be > 0, got 0"),
        ({"long_half_life_s": 60}, "long_half_life_s must be > short_half_life_s, got 60"),
        ({"unhealthy_below": 0}, "unhealthy_below must be in 1..100, got 0"),
        ({"unhealthy_below": 101}, "unhealthy_below must be in 1..100, got 101"),
        ({"healthy_at": 101}, "healthy_at must be in unhealthy_below..100, got 101"),
        ({"efficiency_ratio": 0}, "efficiency_ratio must be between 0 and 1, got 0"),
        ({"efficiency_ratio": 1}, "efficiency_ratio must be between 0 and 1, got 1"),
        ({"efficiency_window_s": 0}, "efficiency_window_s must be > 0, got 0"),
        ({"efficiency_cap": 101}, "efficiency_cap must be in 0..100, got 101"),
        ({"evidence_events": 0}, "evidence_events must be in 1..100, got 0"),
        ({"evidence_events": 101}, "evidence_events must be in 1..100, got 101"),
        ({"fatal_hold_s": -1}, "fatal_hold_s must be >= 0, got -1"),
        ({"trend_factor": 1}, "trend_factor must be > 1, got 1"),
        ({"error_floor_per_min": 0}, "error_floor_per_min must be > 0, got 0"),
        (
            {"error_burst_per_min": 0.1},
            "error_burst_per_min must be > error_floor_per_min, got 0.1",
        ),
        ({"evidence_events": 2.5}, "evidence_events must be a whole number, got 2.5"),
        ({"healthy_at": "80"}, "healthy_at must be a number, got '80'"),
    ],
    ids=lambda v: ",".join(f"{k}={w}" for k, w in v.items()) if isinstance(v, dict) else None,
)
def test_just_past_a_bound_is_refused_naming_it(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(AnalyzerConfigError) as caught:
        AnalyzerConfig(**settings)
    assert str(caught.value) == message
