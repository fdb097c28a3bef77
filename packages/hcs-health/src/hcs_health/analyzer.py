"""The health analyzer: a stream of HealthEvents in, a graded 0-100 score per device out.

Pure decision code: no I/O and no clock (every call takes `now`), so the agent, the simulator and
the tests drive the same code. The score starts at 100; rules set ceilings (caps) or take points
off (penalties); the result is min(caps, 100 - penalties), clamped to 0..100 and rounded, and
never above the agent's snapshot score for the same collection (`set_baseline`). The numbers of
each rule live in `_rules.py`'s tables; `rules_markdown()` prints them for the README.

- fatal: any FATAL event (Xid 79 fallen off the bus, Xid 95, AER uncorrectable fatal, vendor
  status Critical) holds the score at 0 for `fatal_hold_s` (600 s) after the last one. A device
  that stays gone keeps producing FATAL readings and the agent's snapshot keeps it at 0 too;
  `forget(device)` (the device was reset and re-enumerated) ends the hold.
- error/<kind>: an ERROR event caps the score while its class's short-EWMA rate (half-life 60 s)
  is >= 0.1/min: one event lifts after about 3 minutes, so one bad sample does not cordon the
  device; at >= 1.3/min (two at once, three within a minute) the lower burst cap applies.
  Caps (one / burst): uncorrectable ECC 30/30, row remap 30/30, link 45/30, AER non-fatal
  60/40, driver error 65/40, reset 60/40, others 65/40.
- rate/<kind>/<severity>: WARNING and INFO events take points off in proportion to their
  short-EWMA rate per minute, capped per class (correctable ECC -2 per event/min, at most -10;
  throttle -5, at most -15; ...).
- trend/<kind>: correctable ECC, AER correctable and link retraining take 20 more points off
  while the short rate is >= 2x the (warm-up corrected) 30 min rate and >= 3/min (retraining:
  1/min): a rising rate lowers the score before the device fails, a steady trickle does not.
- efficiency: a device below 70 % of its peers' median (>= 2 same-model peers on this node, or
  a reference from `set_peer_reference`) for 300 s without a break is capped at 70 (DEGRADED).
- snapshot: min(score, the agent's snapshot score); its reasons become evidence.

Grades: score >= 80 HEALTHY, < 50 UNHEALTHY (the scheduler's HEALTH_FLOOR), DEGRADED between.
Memory per device is a fixed set of EWMAs and `evidence_events` lines per rule.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

from hcs_health._rules import DeviceState, Finding, Limits, evaluate, rules_markdown
from hcs_health.errors import AnalyzerConfigError, HealthError
from hcs_health.events import EventKind, HealthEvent

__all__ = ["Analyzer", "AnalyzerConfig", "Assessment", "Evidence", "Grade", "rules_markdown"]


@dataclass(frozen=True)
class AnalyzerConfig:
    """How fast rates forget, where the grades begin, and how long conditions must hold."""

    short_half_life_s: float = 60.0
    """Half-life of the short EWMA: how fast one bad event stops counting."""
    long_half_life_s: float = 1800.0
    """Half-life of the long EWMA: the "usual" rate a trend is measured against."""
    healthy_at: int = 80
    """A score at or above this is HEALTHY."""
    unhealthy_below: int = 50
    """A score below this is UNHEALTHY (the scheduler's HEALTH_FLOOR, the agent's HEALTHY)."""
    efficiency_ratio: float = 0.7
    """A device below this fraction of its peers' median efficiency counts as slow."""
    efficiency_window_s: float = 300.0
    """How long a device must stay slow, without a break, before it is capped."""
    efficiency_cap: int = 70
    """The ceiling for a slow device: DEGRADED, never UNHEALTHY on efficiency alone."""
    evidence_events: int = 5
    """How many of the most recent events each rule keeps as evidence."""
    fatal_hold_s: float = 600.0
    """How long a FATAL event keeps the score at 0 before rates decide again."""
    trend_factor: float = 2.0
    """A trend needs the short rate at least this many times the long rate."""
    error_floor_per_min: float = 0.1
    """An ERROR class caps the score while its short rate is at or above this (1 event: ~3 min)."""
    error_burst_per_min: float = 1.3
    """At or above this short rate an ERROR class applies its burst cap (3 within a minute)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            wanted = int if f.type in ("int", int) else float
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise AnalyzerConfigError(f"{f.name} must be a number, got {value!r}")
            if wanted is int and not isinstance(value, int):
                raise AnalyzerConfigError(f"{f.name} must be a whole number, got {value!r}")
            if not math.isfinite(value):
                raise AnalyzerConfigError(f"{f.name} must be finite, got {value!r}")
        self._check_ranges()

    def _check_ranges(self) -> None:
        checks: tuple[tuple[str, bool, str], ...] = (
            ("short_half_life_s", self.short_half_life_s > 0, "> 0"),
            (
                "long_half_life_s",
                self.long_half_life_s > self.short_half_life_s,
                "> short_half_life_s",
            ),
            ("unhealthy_below", 0 < self.unhealthy_below <= 100, "in 1..100"),
            (
                "healthy_at",
                self.unhealthy_below <= self.healthy_at <= 100,
                "in unhealthy_below..100",
            ),
            ("efficiency_ratio", 0 < self.efficiency_ratio < 1, "between 0 and 1"),
            ("efficiency_window_s", self.efficiency_window_s > 0, "> 0"),
            ("efficiency_cap", 0 <= self.efficiency_cap <= 100, "in 0..100"),
            ("evidence_events", 1 <= self.evidence_events <= 100, "in 1..100"),
            ("fatal_hold_s", self.fatal_hold_s >= 0, ">= 0"),
            ("trend_factor", self.trend_factor > 1, "> 1"),
            ("error_floor_per_min", self.error_floor_per_min > 0, "> 0"),
            (
                "error_burst_per_min",
                self.error_burst_per_min > self.error_floor_per_min,
                "> error_floor_per_min",
            ),
        )
        for key, ok, rule in checks:
            if not ok:
                raise AnalyzerConfigError(f"{key} must be {rule}, got {getattr(self, key)!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> AnalyzerConfig:
        """Build from a settings file's section; an unknown key is an error, not a silent no-op."""
        known = {f.name for f in fields(cls)}
        for key in values:
            if key not in known:
                options = ", ".join(sorted(known))
                raise AnalyzerConfigError(f"{key} is not an analyzer setting ({options})")
        return cls(**values)  # type: ignore[arg-type]


class Grade(enum.StrEnum):
    """What the score means to the scheduler and the remediation."""

    HEALTHY = "HEALTHY"
    DEGRADED = "DEGRADED"
    UNHEALTHY = "UNHEALTHY"


@dataclass(frozen=True)
class Evidence:
    """Why one rule lowered the score: a sentence with the numbers and the events behind it."""

    rule: str
    """fatal, error/<kind>, rate/<kind>/<severity>, trend/<kind>, efficiency or snapshot."""
    detail: str
    events: tuple[str, ...]
    """The most recent events (newest first): HealthEvent.describe(), time and raw message."""
    window_s: float
    """The time span the rule looks at (a half-life, the fatal hold, the efficiency streak)."""


@dataclass(frozen=True)
class Assessment:
    """One device's score at one moment, with the evidence for everything that lowered it."""

    device: str
    score: int
    grade: Grade
    evidence: tuple[Evidence, ...]
    """Worst first."""
    at: float
    baseline: int
    """The agent's snapshot score the result was capped by (100 when none was given)."""

    def describe(self) -> str:
        """One line for a Kubernetes Event message."""
        why = "; ".join(e.detail for e in self.evidence) or "no findings"
        return f"{self.device} {self.grade.value} (score {self.score}): {why}"


@dataclass
class _Baseline:
    score: int
    reasons: tuple[str, ...]
    at: float


@dataclass
class _Efficiency:
    model: str
    value: float
    at: float
    median: float | None = None
    slow_since: float | None = None
    slow_last: float | None = None


class Analyzer:
    """Per-device rates, trends and efficiency streaks; ask `assess` for the score at any time."""

    def __init__(self, config: AnalyzerConfig | None = None) -> None:
        self.config = config or AnalyzerConfig()
        c = self.config
        self._limits = Limits(
            short_s=c.short_half_life_s,
            long_s=c.long_half_life_s,
            floor=c.error_floor_per_min,
            burst=c.error_burst_per_min,
            factor=c.trend_factor,
            fatal_hold_s=c.fatal_hold_s,
            evidence=c.evidence_events,
        )
        self._states: dict[str, DeviceState] = {}
        self._baselines: dict[str, _Baseline] = {}
        self._efficiency: dict[str, _Efficiency] = {}
        self._references: dict[str, float] = {}
        self.ignored = 0
        """Events without a device (the monitor maps PCI addresses before calling)."""

    def observe(self, event: HealthEvent) -> None:
        """Fold one event in; EFFICIENCY events go to observe_efficiency (model: the vendor)."""
        if event.device is None:
            self.ignored += 1
            return
        _check_time(event.at, "event time")
        if event.count < 0:
            raise HealthError(f"event count must be >= 0, got {event.count} ({event.describe()})")
        if event.kind is EventKind.EFFICIENCY:
            if event.value is None:
                raise HealthError(f"efficiency event without a value ({event.describe()})")
            self.observe_efficiency(event.device, event.vendor or "", event.value, event.at)
            return
        self._state(event.device, event.at).observe(event, self._limits)

    def set_baseline(self, device: str, score: int, reasons: tuple[str, ...], now: float) -> None:
        """The agent's snapshot score for this collection: the analyzer never scores above it."""
        _check_time(now, "now")
        if isinstance(score, bool) or not 0 <= score <= 100:
            raise HealthError(f"baseline score of {device} must be in 0..100, got {score!r}")
        self._state(device, now)
        self._baselines[device] = _Baseline(score, tuple(reasons), now)

    def set_peer_reference(self, model: str, median: float) -> None:
        """A cluster-wide median efficiency for `model`; it replaces the node's own peers."""
        _check_value(median, f"peer reference of {model}")
        self._references[model] = median

    def observe_efficiency(self, device: str, model: str, value: float, now: float) -> None:
        """One periodic efficiency sample; compares it with the peers' median right away."""
        _check_time(now, "now")
        _check_value(value, f"efficiency of {device}")
        self._state(device, now)
        median = self._peer_median(device, model, now)
        eff = self._efficiency.get(device)
        if eff is None or eff.model != model or now - eff.at > self.config.efficiency_window_s:
            eff = _Efficiency(model, value, now)  # a gap longer than the window is a break
        eff.value, eff.at, eff.median = value, max(eff.at, now), median
        if median is not None and value < self.config.efficiency_ratio * median:
            eff.slow_since = now if eff.slow_since is None else eff.slow_since
            eff.slow_last = now
        else:
            eff.slow_since = eff.slow_last = None
        self._efficiency[device] = eff

    def forget(self, device: str) -> None:
        """Drop everything about a device (removed, or reset and re-enumerated)."""
        for table in (self._states, self._baselines, self._efficiency):
            table.pop(device, None)

    def devices(self) -> list[str]:
        """Every device the analyzer holds state for, sorted."""
        return sorted(self._states)

    def footprint(self, device: str) -> int:
        """Stored items for a device; constant under any event rate (see the memory test)."""
        state = self._states.get(device)
        return 0 if state is None else state.size()

    def assess(self, device: str, now: float) -> Assessment:
        """The device's score, grade and evidence at `now` (a device never seen scores 100)."""
        _check_time(now, "now")
        state = self._states.get(device)
        found = [] if state is None else evaluate(state, self._limits, now)
        found.extend(self._efficiency_finding(device, now))
        caps = min((f.cap for f in found), default=100)
        score = min(caps, round(100 - sum(f.penalty for f in found)))
        baseline = self._baselines.get(device)
        base = 100 if baseline is None else baseline.score
        if baseline is not None and (base < 100 or baseline.reasons):
            reasons = "; ".join(baseline.reasons) or "no reason given"
            found.append(
                Finding(
                    "snapshot",
                    f"agent snapshot score {base}: {reasons}",
                    baseline.reasons,
                    0.0,
                    cap=base,
                )
            )
        score = max(0, min(100, score, base))
        found.sort(key=lambda f: (f.cap - f.penalty, f.rule))
        evidence = tuple(Evidence(f.rule, f.detail, f.events, f.window_s) for f in found)
        return Assessment(device, score, self._grade(score), evidence, now, base)

    def assess_all(self, now: float) -> dict[str, Assessment]:
        """Every known device's assessment at `now`."""
        return {device: self.assess(device, now) for device in self.devices()}

    def _grade(self, score: int) -> Grade:
        if score >= self.config.healthy_at:
            return Grade.HEALTHY
        if score < self.config.unhealthy_below:
            return Grade.UNHEALTHY
        return Grade.DEGRADED

    def _state(self, device: str, at: float) -> DeviceState:
        state = self._states.get(device)
        if state is None:
            state = self._states[device] = DeviceState(first_seen=at)
        return state

    def _peer_median(self, device: str, model: str, now: float) -> float | None:
        if model in self._references:
            return self._references[model]
        window = self.config.efficiency_window_s
        peers = sorted(
            e.value
            for d, e in self._efficiency.items()
            if d != device and e.model == model and now - e.at <= window
        )
        if len(peers) < 2:
            return None
        mid = len(peers) // 2
        return peers[mid] if len(peers) % 2 else (peers[mid - 1] + peers[mid]) / 2

    def _efficiency_finding(self, device: str, now: float) -> list[Finding]:
        eff = self._efficiency.get(device)
        window = self.config.efficiency_window_s
        if eff is None or eff.slow_since is None or eff.slow_last is None or eff.median is None:
            return []
        streak = eff.slow_last - eff.slow_since
        if streak < window or now - eff.at > window:
            return []
        cap = self.config.efficiency_cap
        detail = (
            f"efficiency {eff.value:.3g} below {self.config.efficiency_ratio:.0%} of the "
            f"peers' median {eff.median:.3g} for {streak:.0f} s: capped at {cap}"
        )
        return [Finding("efficiency", detail, (), streak, cap=cap)]


def _check_time(value: float, what: str) -> None:
    if not math.isfinite(value):
        raise HealthError(f"{what} must be a finite number of seconds, got {value!r}")


def _check_value(value: float, what: str) -> None:
    if not math.isfinite(value) or value < 0:
        raise HealthError(f"{what} must be a finite number >= 0, got {value!r}")
