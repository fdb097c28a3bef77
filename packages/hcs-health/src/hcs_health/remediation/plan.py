"""What to do about one node's devices, given their assessments: pure, no I/O.

Rules (README "Remediation"):
- cordon a device whose score falls below `cordon_below` (UNHEALTHY), at once: the extender
  skips cordoned devices, so no new work lands there;
- uncordon only a device HCS cordoned (its reason starts with `CORDON_PREFIX`; an operator's
  cordon is never lifted) and only after it scored at least `uncordon_at` for `quiet_period_s`
  without a break: the gap between the two thresholds and the quiet period are the hysteresis
  that keeps a device from flapping;
- evict every pod holding a share of a device HCS cordoned for sickness, once per pod (the
  eviction itself retries when a PodDisruptionBudget says not yet);
- taint the node `hcs.io/unhealthy:NoExecute` when none of its devices is usable any more, else
  `hcs.io/degraded:PreferNoSchedule` while any device is cordoned by HCS or below `uncordon_at`;
  no HCS taint otherwise. A degraded node still serves work on its healthy devices (the device
  cordons do the precise part), so its taint only steers new work elsewhere first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hcs_api.names import Taint
from hcs_health.analyzer import Assessment
from hcs_health.errors import AnalyzerConfigError

CORDON_PREFIX = "hcs-health: "
"""Every cordon reason HCS writes starts with this, so it lifts only its own cordons."""
NO_EXECUTE = "NoExecute"
PREFER_NO_SCHEDULE = "PreferNoSchedule"


class RemediationConfig(BaseModel):
    """Thresholds and switches of the remediation (the agent's settings carry them)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    cordon: bool = True
    """Cordon sick devices in the ComputeNode spec; false only reports scores."""
    evict: bool = True
    """Evict the pods on a cordoned device (Eviction API, PodDisruptionBudgets respected)."""
    taint: bool = True
    """Keep the node's `hcs.io/degraded` / `hcs.io/unhealthy` taints true."""
    cordon_below: int = Field(default=50, ge=1, le=100)
    """A device scoring below this is cordoned (the scheduler's health floor is 50 too)."""
    uncordon_at: int = Field(default=80, ge=1, le=100)
    """A device HCS cordoned must score at least this for the whole quiet period to return."""
    quiet_period_s: float = Field(default=600.0, ge=0, le=86400)
    """Seconds a cordoned device must stay healthy before HCS lifts its cordon."""

    @model_validator(mode="after")
    def _hysteresis(self) -> RemediationConfig:
        if self.uncordon_at < self.cordon_below:
            raise ValueError(
                f"uncordon_at ({self.uncordon_at}) must be at least cordon_below "
                f"({self.cordon_below}), or a device would flap"
            )
        return self


def remediation_config(**values: object) -> RemediationConfig:
    """A RemediationConfig, or AnalyzerConfigError naming the bad key."""
    try:
        return RemediationConfig.model_validate(values)
    except ValidationError as error:
        item = error.errors()[0]
        key = ".".join(str(part) for part in item["loc"]) or "(remediation)"
        raise AnalyzerConfigError(f"invalid remediation setting {key}: {item['msg']}") from None


@dataclass(frozen=True)
class DeviceView:
    """A device as the ComputeNode spec shows it now."""

    id: str
    cordoned: bool = False
    cordon_reason: str | None = None

    @property
    def cordoned_by_hcs(self) -> bool:
        return self.cordoned and (self.cordon_reason or "").startswith(CORDON_PREFIX)


@dataclass(frozen=True)
class PodView:
    """A pod holding a share of some of the node's devices."""

    namespace: str
    name: str
    uid: str
    devices: frozenset[str]


@dataclass(frozen=True)
class Cordon:
    device: str
    reason: str
    """Starts with CORDON_PREFIX; the assessment's one-line description follows."""


@dataclass(frozen=True)
class Eviction:
    pod: PodView
    devices: tuple[str, ...]
    """The pod's devices HCS cordoned."""
    reason: str


@dataclass(frozen=True)
class Plan:
    cordon: tuple[Cordon, ...] = ()
    uncordon: tuple[str, ...] = ()
    evict: tuple[Eviction, ...] = ()
    taints: Mapping[str, str] | None = None
    """The HCS taints the node must carry (key -> effect); None = leave the taints alone."""

    def empty(self) -> bool:
        return not (self.cordon or self.uncordon or self.evict) and self.taints is None


@dataclass
class Memory:
    """What the planner remembers between calls (one per node, kept by the monitor)."""

    healthy_since: dict[str, float] = field(default_factory=dict)
    """Device -> since when it scored at least uncordon_at without a break."""
    evicted: set[str] = field(default_factory=set)
    """Uids of pods already handed to the eviction path."""
    taints: dict[str, str] | None = None
    """The HCS taints last applied (None = not known yet: apply once)."""


def plan(
    assessments: Mapping[str, Assessment],
    devices: Iterable[DeviceView],
    pods: Iterable[PodView],
    memory: Memory,
    now: float,
    config: RemediationConfig,
) -> Plan:
    """The actions that make the node's cordons, evictions and taints match the assessments.
    Updates `memory` (healthy streaks, pods handed to eviction, taints applied)."""
    views = {device.id: device for device in devices}
    cordon, uncordon = _cordons(assessments, views, memory, now, config)
    sick = {d.id for d in views.values() if d.cordoned_by_hcs} | {c.device for c in cordon}
    sick -= set(uncordon)
    evict = _evictions(pods, sick, assessments, memory) if config.evict and config.cordon else ()
    taints = _taints(assessments, views, sick, config) if config.taint else None
    if taints is not None and taints == memory.taints:
        taints = None
    elif taints is not None:
        memory.taints = dict(taints)
    return Plan(tuple(cordon), tuple(uncordon), evict, taints)


def _cordons(
    assessments: Mapping[str, Assessment],
    views: Mapping[str, DeviceView],
    memory: Memory,
    now: float,
    config: RemediationConfig,
) -> tuple[list[Cordon], list[str]]:
    cordon: list[Cordon] = []
    uncordon: list[str] = []
    for device, assessment in sorted(assessments.items()):
        view = views.get(device)
        if view is None:  # not in the ComputeNode (yet): nothing to cordon
            continue
        if assessment.score >= config.uncordon_at:
            memory.healthy_since.setdefault(device, now)
        else:
            memory.healthy_since.pop(device, None)
        if not config.cordon:
            continue
        if assessment.score < config.cordon_below and not view.cordoned:
            cordon.append(Cordon(device, CORDON_PREFIX + assessment.describe()))
        elif view.cordoned_by_hcs and _quiet(device, memory, now, config):
            uncordon.append(device)
    return cordon, uncordon


def _quiet(device: str, memory: Memory, now: float, config: RemediationConfig) -> bool:
    since = memory.healthy_since.get(device)
    return since is not None and now - since >= config.quiet_period_s


def _evictions(
    pods: Iterable[PodView],
    sick: set[str],
    assessments: Mapping[str, Assessment],
    memory: Memory,
) -> tuple[Eviction, ...]:
    evictions = []
    for pod in sorted(pods, key=lambda p: (p.namespace, p.name)):
        hit = sorted(pod.devices & sick)
        if not hit or pod.uid in memory.evicted:
            continue
        memory.evicted.add(pod.uid)
        why = "; ".join(assessments[d].describe() for d in hit if d in assessments)
        evictions.append(Eviction(pod, tuple(hit), why or f"{', '.join(hit)} cordoned by HCS"))
    return tuple(evictions)


def _taints(
    assessments: Mapping[str, Assessment],
    views: Mapping[str, DeviceView],
    sick: set[str],
    config: RemediationConfig,
) -> dict[str, str]:
    if not views:
        return {}
    # An operator's own cordon (maintenance) does not make the node unhealthy: only sickness.
    unusable = sick | {
        d for d, a in assessments.items() if d in views and a.score < config.cordon_below
    }
    if unusable >= set(views):
        return {Taint.UNHEALTHY.value: NO_EXECUTE}
    below = {d for d, a in assessments.items() if d in views and a.score < config.uncordon_at}
    if sick or below:
        return {Taint.DEGRADED.value: PREFER_NO_SCHEDULE}
    return {}
