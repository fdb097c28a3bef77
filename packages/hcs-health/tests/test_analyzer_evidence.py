"""What an assessment carries: exact evidence (rule, sentence, events, window), its order, the
grade boundaries, the baseline, and how observe() routes and refuses events."""

from __future__ import annotations

import pytest

from hcs_health.analyzer import Analyzer, Evidence, Grade
from hcs_health.errors import HealthError
from hcs_health.events import EventKind, HealthEvent, Severity, Source

DEV = "nvidia-0"
K, S = EventKind, Severity


def ev(at: float, kind: EventKind, severity: Severity, **fields: object) -> HealthEvent:
    values: dict[str, object] = {"device": DEV, **fields}
    return HealthEvent(at=at, kind=kind, severity=severity, source=Source.KMSG, **values)  # type: ignore[arg-type]


def test_fatal_evidence_is_exact_and_ends_exactly_at_the_hold() -> None:
    analyzer = Analyzer()
    message = "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus."
    analyzer.observe(ev(50.0, K.FALLEN_OFF_BUS, S.FATAL, code=79, message=message))
    [fatal] = analyzer.assess(DEV, 50.0).evidence
    line = f"fallen-off-bus 79 on {DEV} (kmsg) at 50.0: {message}"
    assert fatal == Evidence(
        "fatal", f"fallen-off-bus 79 on {DEV} (kmsg) at 50.0: fatal, held at 0 until 650.0",
        (line,), 600.0,
    )  # fmt: skip
    assert analyzer.assess(DEV, 650.0).score == 100


def test_the_newest_of_two_fatal_events_at_one_time_is_named() -> None:
    analyzer = Analyzer()
    analyzer.observe(ev(5.0, K.FALLEN_OFF_BUS, S.FATAL, code=79))
    analyzer.observe(ev(5.0, K.ECC_UNCORRECTABLE, S.FATAL, code=95))
    assert analyzer.assess(DEV, 5.0).evidence[0].detail.startswith("ecc-uncorrectable 95 on")


def test_evidence_lines_cut_long_messages_and_add_nothing_to_empty_ones() -> None:
    analyzer = Analyzer()
    analyzer.observe(ev(1.0, K.DRIVER_ERROR, S.ERROR, message="x" * 300))
    analyzer.observe(ev(2.0, K.DRIVER_ERROR, S.ERROR))
    [error] = analyzer.assess(DEV, 2.0).evidence
    assert error.events == (
        f"driver-error on {DEV} (kmsg) at 2.0",
        f"driver-error on {DEV} (kmsg) at 1.0: {'x' * 200}",
    )


def test_trend_evidence_names_its_events_and_uses_the_device_age() -> None:
    analyzer = Analyzer()
    analyzer.observe(ev(1000.0, K.ECC_CORRECTABLE, S.WARNING))
    analyzer.observe(ev(1600.0, K.ECC_CORRECTABLE, S.WARNING, count=10))
    result = analyzer.assess(DEV, 1600.0)
    trend = next(e for e in result.evidence if e.rule == "trend/ecc-correctable")
    assert "against the 30 min average 1.2/min: -20" in trend.detail  # watched 600 s
    assert trend.events[0] == f"ecc-correctable x10 on {DEV} (kmsg) at 1600.0"
    assert trend.window_s == 1800.0


def test_bigger_penalties_come_first() -> None:
    analyzer = Analyzer()
    analyzer.observe(ev(0.0, K.ECC_CORRECTABLE, S.WARNING))
    analyzer.observe(ev(0.0, K.THROTTLE, S.WARNING, count=3))
    rules = [e.rule for e in analyzer.assess(DEV, 0.0).evidence]
    assert rules.index("rate/throttle/warning") < rules.index("rate/ecc-correctable/warning")


@pytest.mark.parametrize(
    ("score", "grade"),
    [(80, Grade.HEALTHY), (79, Grade.DEGRADED), (50, Grade.DEGRADED), (49, Grade.UNHEALTHY)],
    ids=["80-healthy", "79-degraded", "50-degraded", "49-unhealthy"],
)
def test_grade_boundaries(score: int, grade: Grade) -> None:
    analyzer = Analyzer()
    analyzer.set_baseline(DEV, score, ("x",), 0.0)
    assert analyzer.assess(DEV, 0.0).grade is grade


def test_baseline_evidence_and_reported_baseline() -> None:
    analyzer = Analyzer()
    result = analyzer.assess(DEV, 3.0)
    assert (result.baseline, result.at, result.evidence) == (100, 3.0, ())
    analyzer.set_baseline(DEV, 60, (), 3.0)
    assert analyzer.assess(DEV, 3.0).evidence == (
        Evidence("snapshot", "agent snapshot score 60: no reason given", (), 0.0),
    )
    analyzer.set_baseline(DEV, 70, ("Xid 48", "hw_slowdown"), 3.0)
    [snapshot] = analyzer.assess(DEV, 3.0).evidence
    assert snapshot == Evidence(
        "snapshot", "agent snapshot score 70: Xid 48; hw_slowdown", ("Xid 48", "hw_slowdown"), 0.0
    )


def test_efficiency_evidence_is_exact_until_a_window_after_the_last_sample() -> None:
    analyzer = Analyzer()
    for t in (0.0, 300.0):
        for i in (1, 2):
            analyzer.observe_efficiency(f"nvidia-{i}", "H100", 1.0, t)
        analyzer.observe_efficiency(DEV, "H100", 0.5, t)
    [slow] = analyzer.assess(DEV, 600.0).evidence
    assert slow == Evidence(
        "efficiency",
        "efficiency 0.5 below 70% of the peers' median 1 for 300 s: capped at 70",
        (),
        300.0,
    )


def test_efficiency_events_group_peers_by_vendor() -> None:
    analyzer = Analyzer()
    for t in (0.0, 300.0):
        for i, vendor in ((1, "amd"), (2, "amd")):
            analyzer.observe(ev(t, K.EFFICIENCY, S.INFO, device=f"d{i}", vendor=vendor, value=1.0))
        analyzer.observe(ev(t, K.EFFICIENCY, S.INFO, vendor="nvidia", value=0.5))
    assert analyzer.assess(DEV, 300.0).grade is Grade.HEALTHY  # no nvidia peers
    for t in (600.0, 900.0):
        for i in (3, 4):
            analyzer.observe(
                ev(t, K.EFFICIENCY, S.INFO, device=f"d{i}", vendor="nvidia", value=1.0)
            )
        analyzer.observe(ev(t, K.EFFICIENCY, S.INFO, vendor="nvidia", value=0.5))
    analyzer.observe(ev(900.0, K.ECC_CORRECTABLE, S.WARNING))  # first seen by efficiency: fine
    assert analyzer.assess(DEV, 900.0).grade is Grade.DEGRADED


def test_observe_counts_device_less_events_and_accepts_a_zero_count() -> None:
    analyzer = Analyzer()
    for _ in range(2):
        analyzer.observe(ev(0.0, K.AER_CORRECTABLE, S.INFO, device=None, pci="0000:00:1c.5"))
    analyzer.observe(ev(0.0, K.ECC_CORRECTABLE, S.WARNING, count=0))
    assert analyzer.ignored == 2
    assert analyzer.devices() == [DEV]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.observe(ev(float("nan"), K.XID, S.INFO)),
         "event time must be a finite number of seconds, got nan"),
        (lambda a: a.observe(ev(0.0, K.XID, S.INFO, count=-1)),
         f"event count must be >= 0, got -1 (xid x-1 on {DEV} (kmsg))"),
        (lambda a: a.observe(ev(0.0, K.EFFICIENCY, S.INFO)),
         f"efficiency event without a value (efficiency on {DEV} (kmsg))"),
        (lambda a: a.assess(DEV, float("inf")), "now must be a finite number of seconds, got inf"),
    ],
    ids=["event-time", "negative-count", "efficiency-without-value", "assess-time"],
)  # fmt: skip
def test_observe_and_assess_refuse_with_a_message(call: object, message: str) -> None:
    with pytest.raises(HealthError) as caught:
        call(Analyzer())  # type: ignore[operator]
    assert str(caught.value) == message


def test_efficiency_events_without_a_vendor_use_the_reference_for_no_model() -> None:
    analyzer = Analyzer()
    analyzer.set_peer_reference("", 2.0)
    for t in (0.0, 300.0):
        analyzer.observe(ev(t, K.EFFICIENCY, S.INFO, value=1.0))
    assert analyzer.assess(DEV, 300.0).grade is Grade.DEGRADED
