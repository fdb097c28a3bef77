"""Each score rule does what its table row says, and the docs carry the same numbers as the code."""

from __future__ import annotations

import pytest

from hcs_health import analyzer as analyzer_module
from hcs_health._rules import CAPS, PENALTIES, TRENDS
from hcs_health.analyzer import Analyzer, AnalyzerConfig, Grade, rules_markdown
from hcs_health.events import EventKind, HealthEvent, Severity, Source

DEV = "ascend-0"
K, S = EventKind, Severity


def ev(at: float, kind: EventKind, severity: Severity, count: int = 1) -> HealthEvent:
    return HealthEvent(at=at, kind=kind, severity=severity, source=Source.VENDOR, device=DEV,
                       count=count)  # fmt: skip


def score_after(kind: EventKind, severity: Severity, count: int = 1) -> tuple[int, Grade]:
    analyzer = Analyzer()
    analyzer.observe(ev(100.0, kind, severity, count))
    result = analyzer.assess(DEV, 100.0)
    return result.score, result.grade


@pytest.mark.parametrize(
    ("kind", "severity", "expected"),
    [
        (K.FALLEN_OFF_BUS, S.FATAL, (0, Grade.UNHEALTHY)),
        (K.ECC_UNCORRECTABLE, S.FATAL, (0, Grade.UNHEALTHY)),
        (K.AER_UNCORRECTABLE, S.FATAL, (0, Grade.UNHEALTHY)),
        (K.DRIVER_ERROR, S.FATAL, (0, Grade.UNHEALTHY)),
        (K.ECC_UNCORRECTABLE, S.ERROR, (30, Grade.UNHEALTHY)),
        (K.ROW_REMAP, S.ERROR, (30, Grade.UNHEALTHY)),
        (K.LINK_DEGRADED, S.ERROR, (45, Grade.UNHEALTHY)),
        (K.AER_UNCORRECTABLE, S.ERROR, (60, Grade.DEGRADED)),
        (K.DRIVER_ERROR, S.ERROR, (65, Grade.DEGRADED)),
        (K.RESET, S.ERROR, (60, Grade.DEGRADED)),
        (K.XID, S.ERROR, (65, Grade.DEGRADED)),
        (K.ECC_CORRECTABLE, S.WARNING, (99, Grade.HEALTHY)),
        (K.THROTTLE, S.WARNING, (97, Grade.HEALTHY)),
        (K.XID, S.WARNING, (93, Grade.HEALTHY)),
        (K.XID, S.INFO, (97, Grade.HEALTHY)),
        (K.IOCTL_SLOW, S.INFO, (99, Grade.HEALTHY)),
    ],
    ids=lambda v: v.value if isinstance(v, EventKind) else getattr(v, "name", None),
)
def test_one_event(kind: EventKind, severity: Severity, expected: tuple[int, Grade]) -> None:
    assert score_after(kind, severity) == expected


@pytest.mark.parametrize(
    ("kind", "severity", "score"),
    [
        (K.THROTTLE, S.WARNING, 85),
        (K.XID, S.WARNING, 80),
        (K.XID, S.INFO, 90),
        (K.IOCTL_SLOW, S.WARNING, 90),
        (K.ROW_REMAP, S.WARNING, 80),
        (K.DRIVER_ERROR, S.WARNING, 75),
        (K.RESET, S.INFO, 90),
    ],
    ids=["throttle", "xid-warning", "xid-info", "ioctl-slow", "row-remap-pending",
         "vendor-warning", "other-info"],
)  # fmt: skip
def test_a_flood_of_warnings_costs_at_most_the_class_cap(
    kind: EventKind, severity: Severity, score: int
) -> None:
    assert score_after(kind, severity, count=1000)[0] == score


@pytest.mark.parametrize("kind", list(CAPS), ids=lambda k: k.value)
def test_error_caps_one_event_then_burst_then_lift(kind: EventKind) -> None:
    rule = CAPS[kind]
    assert score_after(kind, S.ERROR, count=1)[0] == rule.one_cap
    assert score_after(kind, S.ERROR, count=3)[0] == rule.burst_cap
    analyzer = Analyzer()
    analyzer.observe(ev(0.0, kind, S.ERROR))
    assert analyzer.assess(DEV, 160.0).score == rule.one_cap  # rate still >= 0.1/min
    assert analyzer.assess(DEV, 180.0).score == 100  # 3 half-lives: below the floor


def test_error_floor_and_burst_follow_the_config() -> None:
    strict = Analyzer(AnalyzerConfig(error_floor_per_min=0.01, error_burst_per_min=0.5))
    strict.observe(ev(0.0, K.DRIVER_ERROR, S.ERROR))
    assert strict.assess(DEV, 0.0).score == CAPS[K.DRIVER_ERROR].burst_cap
    assert strict.assess(DEV, 300.0).grade is Grade.DEGRADED


@pytest.mark.parametrize("kind", list(TRENDS), ids=lambda k: k.value)
def test_rising_rate_of_a_trend_class_degrades(kind: EventKind) -> None:
    analyzer = Analyzer()
    for at in range(0, 3600, 60):  # 1/min for an hour
        analyzer.observe(ev(float(at), kind, S.WARNING))
    assert analyzer.assess(DEV, 3600.0).grade is Grade.HEALTHY
    for at in range(3600, 3720, 5):  # 12/min for two minutes
        analyzer.observe(ev(float(at), kind, S.WARNING))
    result = analyzer.assess(DEV, 3715.0)
    assert result.grade is Grade.DEGRADED
    assert f"trend/{kind.value}" in {e.rule for e in result.evidence}


def test_a_few_errors_after_a_quiet_hour_are_no_trend() -> None:
    analyzer = Analyzer()
    analyzer.set_baseline(DEV, 100, (), 0.0)
    analyzer.observe(ev(3600.0, K.ECC_CORRECTABLE, S.WARNING, count=2))
    assert analyzer.assess(DEV, 3600.0).grade is Grade.HEALTHY
    analyzer.observe(ev(3601.0, K.ECC_CORRECTABLE, S.WARNING, count=6))
    assert analyzer.assess(DEV, 3601.0).grade is Grade.DEGRADED


def test_grade_thresholds_follow_the_config() -> None:
    analyzer = Analyzer(AnalyzerConfig(healthy_at=90, unhealthy_below=70))
    analyzer.set_baseline(DEV, 85, ("vendor reports Warning",), 0.0)
    assert analyzer.assess(DEV, 0.0).grade is Grade.DEGRADED
    analyzer.set_baseline(DEV, 69, ("vendor reports Warning",), 0.0)
    assert analyzer.assess(DEV, 0.0).grade is Grade.UNHEALTHY


def test_docstring_and_markdown_carry_the_tables_numbers() -> None:
    doc = analyzer_module.__doc__ or ""
    table = rules_markdown(floor=0.1, burst=1.3, factor=2, short_s=60, long_s=1800)
    for kind, cap in CAPS.items():
        assert f"{cap.one_cap}/{cap.burst_cap}" in doc, kind
        assert f"cap {cap.one_cap} at >= 0.1/min, cap {cap.burst_cap} at >= 1.3/min" in table
    for (kind, severity), pen in PENALTIES.items():
        row = f"| rate/{kind.value}/{severity.name.lower()} |"
        assert row in table
        assert f"-{pen.per_event_min:g} per event/min, at most -{pen.cap}" in table
    for kind, trend in TRENDS.items():
        assert f"| trend/{kind.value} |" in table
        assert f"-{trend.penalty} while" in table


def test_markdown_is_one_table_a_reader_can_render() -> None:
    rows = rules_markdown(floor=0.1, burst=1.3, factor=2, short_s=60, long_s=1800).split("\n")
    assert rows[:3] == [
        "| rule | events | effect | why |",
        "|---|---|---|---|",
        "| fatal | any FATAL event (Xid 79, Xid 95, AER fatal, vendor Critical) | score 0 for "
        "`fatal_hold_s` after the last one | the device is gone until a reset |",
    ]
    assert all(row.startswith("| ") and row.endswith(" |") for row in rows[2:])
    assert all(row.count(" | ") == 3 for row in rows[2:]), rows
