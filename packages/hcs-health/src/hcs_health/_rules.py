"""The analyzer's score rules as data: one table the code reads and the README is rendered from.

`rules_markdown()` prints the table the package README carries, so the two cannot drift apart.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from types import MappingProxyType

from hcs_health._ewma import DecayingCount, warmup_fraction
from hcs_health.events import EventKind, HealthEvent, Severity


@dataclass(frozen=True)
class CapRule:
    """An ERROR class: a ceiling while its short-EWMA rate stays above the floor."""

    one_cap: int
    """Ceiling from one event until it decays below the floor (about 3 half-lives)."""
    burst_cap: int
    """Ceiling while the rate is at burst level (two at once, three within a minute)."""
    why: str


@dataclass(frozen=True)
class PenaltyRule:
    """A WARNING/INFO class: points off per event/min of short-EWMA rate, up to a cap."""

    per_event_min: float
    cap: int
    why: str


@dataclass(frozen=True)
class TrendRule:
    """A predictive class: points off while the short rate outruns the long one."""

    min_per_min: float
    """Below this short rate a rise is noise (one event after a quiet hour)."""
    penalty: int
    why: str


LABELS: MappingProxyType[EventKind, str] = MappingProxyType(
    {
        EventKind.XID: "Xid",
        EventKind.FALLEN_OFF_BUS: "fallen off the bus",
        EventKind.ECC_CORRECTABLE: "correctable ECC",
        EventKind.ECC_UNCORRECTABLE: "uncorrectable ECC",
        EventKind.ROW_REMAP: "row remap / page retirement",
        EventKind.AER_CORRECTABLE: "PCIe AER correctable",
        EventKind.AER_UNCORRECTABLE: "PCIe AER uncorrectable",
        EventKind.LINK_DEGRADED: "link degraded / retraining",
        EventKind.DRIVER_ERROR: "driver error",
        EventKind.RESET: "device reset",
        EventKind.THROTTLE: "throttling",
        EventKind.IOCTL_SLOW: "slow ioctl",
        EventKind.EFFICIENCY: "efficiency",
    }
)

CAPS: MappingProxyType[EventKind, CapRule] = MappingProxyType(
    {
        EventKind.ECC_UNCORRECTABLE: CapRule(
            30, 30, "data may already be corrupt; the agent caps Xid 48/94 at 30 too"
        ),
        EventKind.ROW_REMAP: CapRule(
            30, 30, "a failed remap (Xid 64) leaves bad memory in use; agent cap 30"
        ),
        EventKind.LINK_DEGRADED: CapRule(
            45, 30, "an NVLink/xGMI error (Xid 74) slows or breaks collectives"
        ),
        EventKind.AER_UNCORRECTABLE: CapRule(
            60, 40, "a non-fatal PCIe error loses a transaction; repeated, the link is failing"
        ),
        EventKind.DRIVER_ERROR: CapRule(
            65, 40, "one ring timeout or page fault can be the program; a burst is the device"
        ),
        EventKind.RESET: CapRule(
            60, 40, "a recovery reset kills the work on the device; repeated resets do not fix it"
        ),
    }
)
DEFAULT_CAP = CapRule(65, 40, "any other ERROR event, weighed like a driver error")

PENALTIES: MappingProxyType[tuple[EventKind, Severity], PenaltyRule] = MappingProxyType(
    {
        (EventKind.ECC_CORRECTABLE, Severity.WARNING): PenaltyRule(
            2, 10, "corrected, but a steady trickle costs a little (agent: -5)"
        ),
        (EventKind.AER_CORRECTABLE, Severity.WARNING): PenaltyRule(
            2, 10, "replayed TLPs cost bandwidth, not data"
        ),
        (EventKind.THROTTLE, Severity.WARNING): PenaltyRule(
            5, 15, "one reason seen every 10 s costs the agent's -15"
        ),
        (EventKind.IOCTL_SLOW, Severity.WARNING): PenaltyRule(
            1, 10, "slow driver calls stall work; alone they prove little"
        ),
        (EventKind.XID, Severity.INFO): PenaltyRule(
            5, 10, "Xid 13/31/43/45/109 are usually the program's fault (agent: -10)"
        ),
        (EventKind.XID, Severity.WARNING): PenaltyRule(
            10, 20, "an Xid without a known meaning (agent: -10 per collection)"
        ),
        (EventKind.LINK_DEGRADED, Severity.WARNING): PenaltyRule(
            5, 15, "a link retrained to a lower speed or width moves data slower"
        ),
        (EventKind.ROW_REMAP, Severity.WARNING): PenaltyRule(
            10, 20, "a retirement waits for a reset (agent: -20 while pending)"
        ),
        (EventKind.DRIVER_ERROR, Severity.WARNING): PenaltyRule(
            10, 25, "the vendor tool says Warning (agent: cap 70)"
        ),
    }
)
DEFAULT_PENALTY = PenaltyRule(2, 10, "any other WARNING or INFO event")

TRENDS: MappingProxyType[EventKind, TrendRule] = MappingProxyType(
    {
        EventKind.ECC_CORRECTABLE: TrendRule(
            3.0, 20, "a rising single-bit rate precedes double-bit errors and retirements"
        ),
        EventKind.AER_CORRECTABLE: TrendRule(3.0, 20, "a rising replay rate precedes link loss"),
        EventKind.LINK_DEGRADED: TrendRule(
            1.0, 20, "retraining more often than usual precedes a link going down"
        ),
    }
)


def penalty_rule(kind: EventKind, severity: Severity) -> PenaltyRule:
    """The WARNING/INFO rule for an event; INFO shares WARNING's rule unless listed."""
    listed = PENALTIES.get((kind, severity))
    return listed or PENALTIES.get((kind, Severity.WARNING), DEFAULT_PENALTY)


def rules_markdown(
    *, floor: float, burst: float, factor: float, short_s: float, long_s: float
) -> str:
    """The score rules as a Markdown table, numbers included (for the README)."""
    rows = [
        "| rule | events | effect | why |",
        "|---|---|---|---|",
        "| fatal | any FATAL event (Xid 79, Xid 95, AER fatal, vendor Critical) | score 0 for "
        "`fatal_hold_s` after the last one | the device is gone until a reset |",
    ]
    for kind, cap in CAPS.items():
        rows.append(
            f"| error/{kind.value} | {LABELS[kind]} ERROR | cap {cap.one_cap} at >= {floor:g}/min"
            f", cap {cap.burst_cap} at >= {burst:g}/min | {cap.why} |"
        )
    rows.append(
        f"| error/other | any other ERROR | cap {DEFAULT_CAP.one_cap} / {DEFAULT_CAP.burst_cap} "
        f"| {DEFAULT_CAP.why} |"
    )
    for (kind, severity), pen in PENALTIES.items():
        rows.append(
            f"| rate/{kind.value}/{severity.name.lower()} | {LABELS[kind]} {severity.name} "
            f"| -{pen.per_event_min:g} per event/min, at most -{pen.cap} | {pen.why} |"
        )
    rows.append(
        f"| rate/other | any other WARNING/INFO | -{DEFAULT_PENALTY.per_event_min:g} per "
        f"event/min, at most -{DEFAULT_PENALTY.cap} | {DEFAULT_PENALTY.why} |"
    )
    for kind, trend in TRENDS.items():
        rows.append(
            f"| trend/{kind.value} | {LABELS[kind]}, any severity | -{trend.penalty} while the "
            f"{short_s:g} s rate >= {trend.min_per_min:g}/min and >= {factor:g}x the "
            f"{long_s:g} s rate | {trend.why} |"
        )
    return "\n".join(rows)


@dataclass(frozen=True)
class Limits:
    """The numbers of AnalyzerConfig the rules need (kept apart so this module needs no config)."""

    short_s: float
    long_s: float
    floor: float
    burst: float
    factor: float
    fatal_hold_s: float
    evidence: int


@dataclass(frozen=True)
class Finding:
    """One rule's verdict: a ceiling or points off, with what the operator reads."""

    rule: str
    detail: str
    events: tuple[str, ...]
    window_s: float
    cap: int = 100
    penalty: float = 0.0


@dataclass
class DeviceState:
    """All the analyzer keeps per device: fixed-size EWMAs and bounded evidence queues."""

    first_seen: float
    short: dict[tuple[EventKind, Severity], DecayingCount] = field(default_factory=dict)
    trend: dict[EventKind, tuple[DecayingCount, DecayingCount]] = field(default_factory=dict)
    evidence: dict[str, deque[str]] = field(default_factory=dict)
    fatal_at: float | None = None
    fatal_what: str = ""

    def size(self) -> int:
        """Stored items (EWMAs and evidence lines): constant once every class has been seen."""
        return len(self.short) + 2 * len(self.trend) + sum(map(len, self.evidence.values()))

    def observe(self, event: HealthEvent, limits: Limits) -> None:
        """Fold one event into the rates and the evidence of the rules it feeds."""
        line = _evidence_line(event)
        if event.severity is Severity.FATAL:
            if self.fatal_at is None or event.at >= self.fatal_at:
                self.fatal_at, self.fatal_what = event.at, line
            self._keep("fatal", line, limits)
            return
        rate = self.short.setdefault((event.kind, event.severity), DecayingCount(limits.short_s))
        rate.add(event.count, event.at)
        self._keep(rule_name(event.kind, event.severity), line, limits)
        if event.kind in TRENDS:
            short, long = self.trend.setdefault(
                event.kind, (DecayingCount(limits.short_s), DecayingCount(limits.long_s))
            )
            short.add(event.count, event.at)
            long.add(event.count, event.at)
            self._keep(f"trend/{event.kind.value}", line, limits)

    def _keep(self, rule: str, line: str, limits: Limits) -> None:
        self.evidence.setdefault(rule, deque(maxlen=limits.evidence)).append(line)

    def recent(self, rule: str) -> tuple[str, ...]:
        """The rule's evidence lines, newest first."""
        return tuple(reversed(self.evidence.get(rule, ())))


def rule_name(kind: EventKind, severity: Severity) -> str:
    """The evidence rule an event feeds: error/<kind> or rate/<kind>/<severity>."""
    if severity is Severity.ERROR:
        return f"error/{kind.value}"
    return f"rate/{kind.value}/{severity.name.lower()}"


def _evidence_line(event: HealthEvent) -> str:
    line = f"{event.describe()} at {event.at:.1f}"
    return f"{line}: {event.message[:200]}" if event.message else line


def evaluate(state: DeviceState, limits: Limits, now: float) -> list[Finding]:
    """Every rule that lowers the device's score at `now` (efficiency and snapshot aside)."""
    found: list[Finding] = []
    if state.fatal_at is not None and now - state.fatal_at < limits.fatal_hold_s:
        until = state.fatal_at + limits.fatal_hold_s
        detail = f"{state.fatal_what.split(': ', 1)[0]}: fatal, held at 0 until {until:.1f}"
        found.append(Finding("fatal", detail, state.recent("fatal"), limits.fatal_hold_s, cap=0))
    for (kind, severity), rate in state.short.items():
        per_min = rate.per_minute(now)
        rule = rule_name(kind, severity)
        if severity is Severity.ERROR:
            finding = _error_finding(kind, per_min, limits, rule)
        else:
            finding = _rate_finding(kind, severity, per_min, limits, rule)
        if finding is not None:
            found.append(
                Finding(
                    rule,
                    finding.detail,
                    state.recent(rule),
                    limits.short_s,
                    finding.cap,
                    finding.penalty,
                )
            )
    for kind, (short, long) in state.trend.items():
        finding = _trend_finding(kind, short, long, now - state.first_seen, limits, now)
        if finding is not None:
            rule = f"trend/{kind.value}"
            found.append(
                Finding(
                    rule, finding.detail, state.recent(rule), limits.long_s, penalty=finding.penalty
                )
            )
    return found


def _error_finding(kind: EventKind, per_min: float, limits: Limits, rule: str) -> Finding | None:
    spec = CAPS.get(kind, DEFAULT_CAP)
    if per_min < limits.floor:
        return None
    burst = per_min >= limits.burst
    cap = spec.burst_cap if burst else spec.one_cap
    level = f"burst >= {limits.burst:g}/min" if burst else f">= {limits.floor:g}/min"
    detail = (
        f"{LABELS[kind]} errors {per_min:.1f}/min over the last {limits.short_s:g} s "
        f"({level}): capped at {cap}"
    )
    return Finding(rule, detail, (), limits.short_s, cap=cap)


def _rate_finding(
    kind: EventKind, severity: Severity, per_min: float, limits: Limits, rule: str
) -> Finding | None:
    spec = penalty_rule(kind, severity)
    penalty = min(float(spec.cap), spec.per_event_min * per_min)
    if penalty < 0.5:
        return None
    detail = (
        f"{LABELS[kind]} ({severity.name}) {per_min:.1f}/min over the last "
        f"{limits.short_s:g} s: -{penalty:.0f}"
    )
    return Finding(rule, detail, (), limits.short_s, penalty=penalty)


def _trend_finding(
    kind: EventKind,
    short: DecayingCount,
    long: DecayingCount,
    watched_s: float,
    limits: Limits,
    now: float,
) -> Finding | None:
    spec = TRENDS[kind]
    short_rate = short.per_minute(now)
    # Warm-up corrected long rate, over at least one short half-life (never over zero seconds):
    # in a device's first minute the long rate is then at least the short one, so no trend.
    span = max(watched_s, limits.short_s)
    long_rate = long.per_minute(now) / warmup_fraction(span, limits.long_s)
    if short_rate < spec.min_per_min or short_rate < limits.factor * long_rate:
        return None
    ratio = short_rate / long_rate if long_rate > 0 else float("inf")
    detail = (
        f"{LABELS[kind]} {short_rate:.1f}/min over the last {limits.short_s:g} s, rising "
        f"{ratio:.1f}x against the {limits.long_s / 60:g} min average "
        f"{long_rate:.1f}/min: -{spec.penalty}"
    )
    return Finding("", detail, (), limits.long_s, penalty=spec.penalty)
