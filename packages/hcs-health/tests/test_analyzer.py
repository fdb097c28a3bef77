"""The analyzer grades devices the way an operator expects: scenarios from healthy to gone."""

from __future__ import annotations

import pytest

from hcs_health.analyzer import Analyzer, AnalyzerConfig, Grade
from hcs_health.errors import AnalyzerConfigError, HealthError
from hcs_health.events import EventKind, HealthEvent, Severity, Source

DEV = "nvidia-0"


def ev(
    at: float,
    kind: EventKind,
    severity: Severity,
    *,
    device: str | None = DEV,
    count: int = 1,
    code: int | None = None,
    message: str = "",
) -> HealthEvent:
    return HealthEvent(
        at=at, kind=kind, severity=severity, source=Source.KMSG, device=device,
        count=count, code=code, message=message,
    )  # fmt: skip


def ecc(at: float, count: int = 1) -> HealthEvent:
    return ev(at, EventKind.ECC_CORRECTABLE, Severity.WARNING, count=count)


def driver_error(at: float) -> HealthEvent:
    return ev(at, EventKind.DRIVER_ERROR, Severity.ERROR, message="NVRM: GPU ring timeout")


@pytest.mark.parametrize("every_s", [30.0, 15.0], ids=["2-per-min", "4-per-min"])
def test_steady_trickle_of_correctable_ecc_stays_healthy(every_s: float) -> None:
    analyzer = Analyzer()
    for i in range(int(7200 / every_s)):  # 2 hours, from the device's first minute on
        analyzer.observe(ecc(i * every_s))
        result = analyzer.assess(DEV, i * every_s)
        assert result.grade is Grade.HEALTHY, result.describe()
        assert result.score >= 90
    assert all(not e.rule.startswith("trend/") for e in result.evidence)
    assert any(e.rule == "rate/ecc-correctable/warning" for e in result.evidence)


def test_rising_correctable_rate_degrades_before_any_uncorrectable_event() -> None:
    """Predictive: same device, same trickle for an hour, then the rate climbs."""
    analyzer = Analyzer()
    t = 0.0
    while t < 3600:
        analyzer.observe(ecc(t))
        t += 30
    assert analyzer.assess(DEV, t).grade is Grade.HEALTHY
    degraded_at = None
    while t < 3600 + 600:
        analyzer.observe(ecc(t))
        result = analyzer.assess(DEV, t)
        if result.grade is not Grade.HEALTHY:
            degraded_at = t
            break
        t += 5  # 12 per minute now
    assert degraded_at is not None
    assert degraded_at - 3600 <= 120
    assert result.grade is Grade.DEGRADED
    trend = next(e for e in result.evidence if e.rule == "trend/ecc-correctable")
    assert "rising" in trend.detail
    assert "30 min average" in trend.detail
    assert trend.window_s == 1800


def test_one_driver_error_degrades_then_decays_back_to_healthy() -> None:
    analyzer = Analyzer()
    analyzer.observe(driver_error(1000.0))
    assert analyzer.assess(DEV, 1000.0).grade is Grade.DEGRADED
    assert analyzer.assess(DEV, 1120.0).grade is Grade.DEGRADED
    recovered = analyzer.assess(DEV, 1180.0)
    assert recovered.grade is Grade.HEALTHY
    assert recovered.score == 100
    assert recovered.evidence == ()


def test_burst_of_driver_errors_is_unhealthy_then_decays() -> None:
    analyzer = Analyzer()
    for at in (1000.0, 1030.0, 1060.0):
        analyzer.observe(driver_error(at))
    burst = analyzer.assess(DEV, 1060.0)
    assert burst.grade is Grade.UNHEALTHY
    assert burst.score == 40
    assert "burst" in burst.evidence[0].detail
    assert analyzer.assess(DEV, 1120.0).grade is Grade.DEGRADED
    assert analyzer.assess(DEV, 1400.0).grade is Grade.HEALTHY


def test_xid_79_is_zero_immediately_and_held() -> None:
    analyzer = Analyzer(AnalyzerConfig(fatal_hold_s=600))
    message = "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus."
    analyzer.observe(ev(50.0, EventKind.FALLEN_OFF_BUS, Severity.FATAL, code=79, message=message))
    now = analyzer.assess(DEV, 50.0)
    assert (now.score, now.grade) == (0, Grade.UNHEALTHY)
    assert now.describe().startswith("nvidia-0 UNHEALTHY (score 0): fallen-off-bus 79 on nvidia-0")
    assert now.evidence[0].rule == "fatal"
    assert message in now.evidence[0].events[0]
    assert analyzer.assess(DEV, 649.0).score == 0
    assert analyzer.assess(DEV, 651.0).score == 100  # rates decide again
    analyzer.set_baseline(DEV, 0, ("device lost or memory unrepairable",), 651.0)
    assert analyzer.assess(DEV, 651.0).score == 0  # the node still says it is gone


def test_forget_ends_a_fatal_hold() -> None:
    analyzer = Analyzer()
    analyzer.observe(ev(0.0, EventKind.FALLEN_OFF_BUS, Severity.FATAL, code=79))
    analyzer.forget(DEV)
    assert analyzer.devices() == []
    assert analyzer.assess(DEV, 1.0).score == 100


def _efficiency_run(analyzer: Analyzer, slow: float, until: float, start: float = 0.0) -> None:
    t = start
    while t <= until:
        for i in range(3):
            analyzer.observe_efficiency(f"nvidia-{i}", "H100", 1.0, t)
        analyzer.observe_efficiency("nvidia-3", "H100", slow, t)
        t += 30


def test_efficiency_below_peers_degrades_only_after_the_window_and_recovers() -> None:
    analyzer = Analyzer()
    _efficiency_run(analyzer, 0.5, until=240)
    assert analyzer.assess("nvidia-3", 240).grade is Grade.HEALTHY  # 4 minutes
    _efficiency_run(analyzer, 0.5, until=330, start=270)
    slow = analyzer.assess("nvidia-3", 330)
    assert (slow.grade, slow.score) == (Grade.DEGRADED, 70)
    assert slow.evidence[0].rule == "efficiency"
    assert "efficiency 0.5 " in slow.evidence[0].detail
    assert "median 1 " in slow.evidence[0].detail
    assert analyzer.assess("nvidia-0", 330).grade is Grade.HEALTHY
    _efficiency_run(analyzer, 0.95, until=360, start=360)
    assert analyzer.assess("nvidia-3", 360).grade is Grade.HEALTHY


def test_efficiency_streak_breaks_on_one_good_sample() -> None:
    analyzer = Analyzer()
    _efficiency_run(analyzer, 0.5, until=150)
    _efficiency_run(analyzer, 0.9, until=180, start=180)
    _efficiency_run(analyzer, 0.5, until=420, start=210)  # 210 s slow since the break
    assert analyzer.assess("nvidia-3", 420).grade is Grade.HEALTHY


@pytest.mark.parametrize(
    ("peers", "reference", "grade"),
    [(1, None, Grade.HEALTHY), (2, None, Grade.DEGRADED), (0, 1.0, Grade.DEGRADED)],
    ids=["one-peer-is-not-enough", "two-peers", "cluster-reference"],
)
def test_efficiency_needs_two_peers_or_a_reference(
    peers: int, reference: float | None, grade: Grade
) -> None:
    analyzer = Analyzer()
    if reference is not None:
        analyzer.set_peer_reference("MI300X", reference)
    for t in range(0, 361, 30):
        for i in range(peers):
            analyzer.observe_efficiency(f"amd-{i}", "MI300X", 1.0, t)
        analyzer.observe_efficiency("amd-9", "MI300X", 0.4, t)
    assert analyzer.assess("amd-9", 360).grade is grade


def test_baseline_caps_the_score_and_becomes_evidence() -> None:
    analyzer = Analyzer()
    analyzer.set_baseline(DEV, 60, ("Xid 48",), 10.0)
    result = analyzer.assess(DEV, 10.0)
    assert (result.score, result.grade, result.baseline) == (60, Grade.DEGRADED, 60)
    assert result.evidence[0].rule == "snapshot"
    assert "Xid 48" in result.evidence[0].detail
    analyzer.set_baseline(DEV, 100, (), 20.0)
    assert analyzer.assess(DEV, 20.0).evidence == ()


def test_baseline_never_raises_a_lower_rule_score() -> None:
    analyzer = Analyzer()
    analyzer.set_baseline(DEV, 90, ("throttled: hw_slowdown",), 0.0)
    for at in (0.0, 1.0, 2.0):
        analyzer.observe(driver_error(at))
    assert analyzer.assess(DEV, 2.0).score == 40


def test_evidence_names_rule_window_and_most_recent_events() -> None:
    analyzer = Analyzer(AnalyzerConfig(evidence_events=5))
    for i in range(7):
        analyzer.observe(ev(float(i), EventKind.DRIVER_ERROR, Severity.ERROR, message=f"line {i}"))
    evidence = analyzer.assess(DEV, 6.0).evidence[0]
    assert evidence.rule == "error/driver-error"
    assert evidence.window_s == 60
    assert len(evidence.events) == 5
    assert evidence.events[0] == "driver-error on nvidia-0 (kmsg) at 6.0: line 6"
    assert evidence.events[-1].endswith("line 2")
    assert "/min over the last 60 s" in evidence.detail


def test_memory_is_bounded_under_100k_events() -> None:
    analyzer = Analyzer()
    kinds = [
        (EventKind.ECC_CORRECTABLE, Severity.WARNING), (EventKind.DRIVER_ERROR, Severity.ERROR),
        (EventKind.THROTTLE, Severity.WARNING), (EventKind.LINK_DEGRADED, Severity.WARNING),
        (EventKind.XID, Severity.INFO), (EventKind.FALLEN_OFF_BUS, Severity.FATAL),
    ]  # fmt: skip
    sizes = []
    for i in range(100_000):
        kind, severity = kinds[i % len(kinds)]
        analyzer.observe(ev(i / 1000, kind, severity, message="x" * 512))
        if i in (999, 99_999):
            sizes.append(analyzer.footprint(DEV))
    assert sizes[0] == sizes[1] > 0
    assert analyzer.assess(DEV, 100.0).score == 0


def test_counter_deltas_weigh_like_that_many_events() -> None:
    one_by_one, at_once = Analyzer(), Analyzer()
    for _ in range(3):
        one_by_one.observe(driver_error(0.0))
    at_once.observe(ev(0.0, EventKind.DRIVER_ERROR, Severity.ERROR, count=3))
    assert one_by_one.assess(DEV, 0.0).score == at_once.assess(DEV, 0.0).score == 40


def test_an_event_older_than_the_last_one_still_counts() -> None:
    analyzer = Analyzer()
    analyzer.observe(driver_error(100.0))
    analyzer.observe(driver_error(99.0))
    analyzer.observe(driver_error(98.0))
    assert analyzer.assess(DEV, 100.0).grade is Grade.UNHEALTHY


def test_events_without_a_device_are_counted_and_ignored() -> None:
    analyzer = Analyzer()
    analyzer.observe(ev(0.0, EventKind.FALLEN_OFF_BUS, Severity.FATAL, device=None))
    assert analyzer.ignored == 1
    assert analyzer.devices() == []


def test_assess_all_covers_every_device_seen() -> None:
    analyzer = Analyzer()
    analyzer.observe(driver_error(0.0))
    analyzer.set_baseline("nvidia-1", 100, (), 0.0)
    result = analyzer.assess_all(1.0)
    assert sorted(result) == ["nvidia-0", "nvidia-1"]
    assert result["nvidia-0"].grade is Grade.DEGRADED
    assert result["nvidia-1"].grade is Grade.HEALTHY


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"short_half_life_s": 0}, "short_half_life_s"),
        ({"long_half_life_s": 30}, "long_half_life_s"),
        ({"healthy_at": 40}, "healthy_at"),
        ({"unhealthy_below": 0}, "unhealthy_below"),
        ({"efficiency_ratio": 1.5}, "efficiency_ratio"),
        ({"efficiency_window_s": -1}, "efficiency_window_s"),
        ({"efficiency_cap": 101}, "efficiency_cap"),
        ({"evidence_events": 0}, "evidence_events"),
        ({"evidence_events": 2.5}, "evidence_events"),
        ({"fatal_hold_s": -5}, "fatal_hold_s"),
        ({"trend_factor": 1.0}, "trend_factor"),
        ({"error_burst_per_min": 0.05}, "error_burst_per_min"),
        ({"short_half_life_s": float("nan")}, "short_half_life_s"),
        ({"healthy_at": True}, "healthy_at"),
        ({"fatal_hold": 5}, "fatal_hold"),
    ],
    ids=[
        "zero-half-life", "long-shorter-than-short", "healthy-below-unhealthy",
        "unhealthy-zero", "ratio-above-one", "negative-window", "cap-above-100",
        "no-evidence", "fractional-evidence", "negative-hold", "factor-one",
        "burst-below-floor", "nan", "bool", "unknown-key",
    ],
)  # fmt: skip
def test_bad_config_names_the_key(settings: dict[str, object], key: str) -> None:
    with pytest.raises(AnalyzerConfigError, match=rf"^{key} "):
        AnalyzerConfig.from_mapping(settings)


@pytest.mark.parametrize(
    "call",
    [
        lambda a: a.set_baseline(DEV, 101, (), 0.0),
        lambda a: a.observe(ev(float("nan"), EventKind.XID, Severity.INFO)),
        lambda a: a.observe(ev(0.0, EventKind.XID, Severity.INFO, count=-1)),
        lambda a: a.observe_efficiency(DEV, "H100", float("inf"), 0.0),
    ],
    ids=["baseline-above-100", "nan-time", "negative-count", "infinite-efficiency"],
)
def test_bad_input_is_refused_with_a_health_error(call: object) -> None:
    with pytest.raises(HealthError):
        call(Analyzer())  # type: ignore[operator]
