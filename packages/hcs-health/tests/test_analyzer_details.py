"""Rate, cap and trend sentences add up, and the caps switch exactly at the configured rates."""

from __future__ import annotations

import math
import re

import pytest

from hcs_health.analyzer import Analyzer, AnalyzerConfig, Assessment
from hcs_health.events import EventKind, HealthEvent, Severity, Source

DEV = "nvidia-0"
K, S = EventKind, Severity


def ev(at: float, kind: EventKind, severity: Severity, count: int = 1) -> HealthEvent:
    return HealthEvent(at=at, kind=kind, severity=severity, source=Source.VENDOR, device=DEV,
                       count=count)  # fmt: skip


def assess_after(*events: HealthEvent, config: AnalyzerConfig | None = None) -> Assessment:
    analyzer = Analyzer(config)
    for event in events:
        analyzer.observe(event)
    return analyzer.assess(DEV, events[-1].at)


def test_info_events_of_a_kind_share_its_warning_rule() -> None:
    info = assess_after(ev(100.0, K.THROTTLE, S.INFO, count=3))
    warning = assess_after(ev(100.0, K.THROTTLE, S.WARNING, count=3))
    assert info.score == warning.score == 90  # -5 per event/min, not the default -2
    assert info.evidence[0].rule == "rate/throttle/info"
    assert info.evidence[0].detail == "throttling (INFO) 2.1/min over the last 60 s: -10"


def test_error_cap_detail_names_the_level_it_reached() -> None:
    one = assess_after(ev(100.0, K.DRIVER_ERROR, S.ERROR))
    assert one.evidence[0].detail.endswith("(>= 0.1/min): capped at 65")
    burst = assess_after(ev(100.0, K.DRIVER_ERROR, S.ERROR, count=3))
    assert "(burst >= 1.3/min): capped at" in burst.evidence[0].detail


def per_min(count: float) -> float:
    """The short EWMA rate of `count` events read at the instant they happened (60 s half-life),
    computed in the order the analyzer computes it, so it compares equal."""
    return count * math.log(2.0) / 60.0 * 60.0


@pytest.mark.parametrize(
    ("floor", "burst", "count", "cap"),
    [
        (per_min(1.0), 2.0, 1, 65),
        (per_min(1.0) + 1e-9, 2.0, 1, 100),
        (0.1, per_min(2.0), 2, 40),
        (0.1, per_min(2.0) + 1e-9, 2, 65),
    ],
    ids=["rate-exactly-floor-caps", "just-under-floor", "rate-exactly-burst", "just-under-burst"],
)
def test_error_caps_switch_at_exactly_the_configured_rates(
    floor: float, burst: float, count: int, cap: int
) -> None:
    config = AnalyzerConfig(error_floor_per_min=floor, error_burst_per_min=burst)
    result = assess_after(ev(100.0, K.DRIVER_ERROR, S.ERROR, count=count), config=config)
    assert result.score == cap


def test_trend_detail_ratio_is_the_short_rate_over_the_long_one() -> None:
    result = assess_after(ev(0.0, K.ECC_CORRECTABLE, S.WARNING),
                          ev(3600.0, K.ECC_CORRECTABLE, S.WARNING, count=10))  # fmt: skip
    trend = next(e for e in result.evidence if e.rule == "trend/ecc-correctable")
    found = re.search(
        r"([\d.]+)/min over the last 60 s, rising ([\d.]+)x against the 30 min average "
        r"([\d.]+)/min: -20$",
        trend.detail,
    )
    assert found is not None, trend.detail
    short, ratio, long = (float(found[i]) for i in (1, 2, 3))
    assert long < 1.0
    assert ratio == pytest.approx(short / long, rel=0.2)


def test_footprint_counts_every_ewma_and_evidence_line() -> None:
    analyzer = Analyzer()
    assert analyzer.footprint(DEV) == 0
    analyzer.observe(ev(0.0, K.ECC_CORRECTABLE, S.WARNING))
    # a short rate, a trend's short and long rates, one evidence line for the rate and the trend
    assert analyzer.footprint(DEV) == 1 + 2 + 2
    analyzer.observe(ev(1.0, K.DRIVER_ERROR, S.ERROR))  # no trend class: one rate, one line
    assert analyzer.footprint(DEV) == 5 + 1 + 1


def test_footprint_counts_two_ewmas_per_trend_class() -> None:
    analyzer = Analyzer()
    analyzer.observe(ev(0.0, K.ECC_CORRECTABLE, S.WARNING))
    analyzer.observe(ev(0.0, K.AER_CORRECTABLE, S.INFO))
    assert analyzer.footprint(DEV) == 2 + 2 * 2 + 4


# The settings below make a rate land exactly on a rule's threshold; each was found by stepping
# one float ulp at a time from the value that should do it, as the analyzer's EWMA computes it.
def test_a_penalty_of_exactly_half_a_point_is_reported() -> None:
    config = AnalyzerConfig(short_half_life_s=166.35532333438687)  # 1 ECC event: -2 x 0.25/min
    result = assess_after(ev(0.0, K.ECC_CORRECTABLE, S.WARNING), config=config)
    assert [e.rule for e in result.evidence] == ["rate/ecc-correctable/warning"]


def watched_long_then(count: int, config: AnalyzerConfig) -> Assessment:
    """A device first seen 100,000 s ago (its warm-up over) that now logs `count` ECC events."""
    return assess_after(
        ev(0.0, K.THROTTLE, S.INFO), ev(100_000.0, K.ECC_CORRECTABLE, S.WARNING, count=count),
        config=config,
    )  # fmt: skip


def test_a_trend_at_exactly_its_minimum_rate_counts() -> None:
    config = AnalyzerConfig(short_half_life_s=13.862943611198904)  # 1 event: exactly 3.0/min
    rules = {e.rule for e in watched_long_then(1, config).evidence}
    assert "trend/ecc-correctable" in rules


def test_a_trend_at_exactly_factor_times_the_long_rate_counts() -> None:
    config = AnalyzerConfig(trend_factor=30.000000000000004)  # 5 events: short == 30x long
    rules = {e.rule for e in watched_long_then(5, config).evidence}
    assert "trend/ecc-correctable" in rules
