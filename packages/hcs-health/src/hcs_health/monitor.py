"""The health loop of one node: events from the active sources, mapped to devices, scored by the
analyzer, acted on by the remediation, counted in metrics.

`step` is what the agent's health thread calls in a loop: it waits at most `timeout_s` for
events, so a driver line reaches the cordon in one poll interval plus the API call (the 1 s
budget; bench/health/detect_to_cordon.py measures it). `on_collection` is called by the agent's
periodic cycle with the vendor tools' readings and the devices it found.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from hcs_health.analyzer import Analyzer, Assessment
from hcs_health.errors import SourceError
from hcs_health.events import HealthEvent
from hcs_health.metrics import HealthMetrics
from hcs_health.remediation.act import Outcome, Remediator
from hcs_health.samples import VendorSample, events_from_samples

log = logging.getLogger("hcs_health")


class EventSource(Protocol):
    name: str

    def poll(self, timeout_s: float) -> list[HealthEvent]:
        """Events that arrived, waiting at most `timeout_s` for the first."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DeviceRef:
    """A device the agent found: its ComputeNode id, vendor and PCI address."""

    id: str
    vendor: str
    pci: str | None = None


@dataclass(frozen=True)
class Baseline:
    """The agent's snapshot score of one device and the rules that lowered it."""

    score: int
    reasons: tuple[str, ...] = ()


class HealthMonitor:
    def __init__(
        self,
        analyzer: Analyzer,
        sources: Sequence[EventSource],
        metrics: HealthMetrics,
        remediator: Remediator | None = None,
        clock: Callable[[], float] = time.monotonic,
        fallback: Callable[[], Sequence[EventSource]] | None = None,
    ) -> None:
        """`fallback` opens the sources to use when one stops (the eBPF loader died): the
        polling ones, say; sources of a name already running are not added twice."""
        self._fallback = fallback
        self.analyzer = analyzer
        self.sources = list(sources)
        self.metrics = metrics
        self.remediator = remediator
        self._clock = clock
        self._devices: dict[str, DeviceRef] = {}
        self._by_pci: dict[str, str] = {}
        self._samples: dict[str, VendorSample] = {}
        self.assessments: dict[str, Assessment] = {}
        self.last_outcome: Outcome | None = None
        self.unmapped = 0
        """Events naming no device of this node (another card's line, a bridge's AER)."""
        for source in self.sources:
            self.metrics.source_active.labels(source.name).set(1)

    def set_devices(self, devices: Iterable[DeviceRef]) -> None:
        self._devices = {d.id: d for d in devices}
        self._by_pci = {}
        for device in self._devices.values():
            if device.pci:
                self._by_pci[device.pci] = device.id
                self._by_pci.setdefault(_slot(device.pci), device.id)
        for gone in set(self.analyzer.devices()) - set(self._devices):
            self.analyzer.forget(gone)
            self.assessments.pop(gone, None)

    def step(self, timeout_s: float) -> Outcome | None:
        """One poll of every source; acts on what arrived."""
        events: list[HealthEvent] = []
        share = timeout_s / max(1, len(self.sources))
        for source in list(self.sources):
            try:
                events += source.poll(share)
            except SourceError as error:
                self._replace(source, error)
        return self.handle(events, self._clock()) if events else None

    def _replace(self, source: EventSource, error: SourceError) -> None:
        """A source that stopped is dropped (and said so, once); the fallback takes over."""
        log.warning("health source %s stopped: %s", source.name, error)
        self.sources.remove(source)
        source.close()
        self.metrics.source_active.labels(source.name).set(0)
        self.metrics.source_errors.labels(source.name).set(1)
        if self._fallback is None:
            return
        running = {s.name for s in self.sources}
        for spare in self._fallback():
            if spare.name in running:
                spare.close()
                continue
            self.sources.append(spare)
            self.metrics.source_active.labels(spare.name).set(1)
            log.info("health source %s takes over", spare.name)

    def handle(self, events: Iterable[HealthEvent], now: float) -> Outcome | None:
        mapped = 0
        first: float | None = None
        for event in events:
            self.metrics.events.labels(event.kind.value, event.source.value).inc(event.count)
            device = self._device_of(event)
            if device is None:
                self.unmapped += 1
                continue
            mapped += 1
            first = event.at if first is None else min(first, event.at)
            self.analyzer.observe(_with_device(event, device))
        return self.reconcile(now, detected_at=first) if mapped else None

    def on_collection(
        self,
        samples: Iterable[VendorSample],
        baselines: Mapping[str, Baseline],
        now: float,
        efficiency: Mapping[str, tuple[str, float]] | None = None,
    ) -> Outcome | None:
        """The agent's periodic reading: counter deltas become events, snapshot scores cap,
        and `efficiency` (device -> (model, value), busy devices only) is compared to peers."""
        for device, (model, value) in (efficiency or {}).items():
            self.analyzer.observe_efficiency(device, model, value, now)
        events: list[HealthEvent] = []
        for sample in samples:
            events += events_from_samples(self._samples.get(sample.device), sample)
            self._samples[sample.device] = sample
        for device, baseline in baselines.items():
            self.analyzer.set_baseline(device, baseline.score, baseline.reasons, now)
        for event in events:
            self.metrics.events.labels(event.kind.value, event.source.value).inc(event.count)
            self.analyzer.observe(event)
        if self.remediator is not None:
            self.remediator.refresh()
            self.remediator.release(self._devices, now)
        return self.reconcile(now)

    def reconcile(self, now: float, detected_at: float | None = None) -> Outcome | None:
        """Assess every device and act; `detected_at` (the first event's arrival) times the
        detection-to-cordon latency."""
        assessed = self.analyzer.assess_all(now)
        self.assessments = {d: a for d, a in assessed.items() if d in self._devices}
        for device, assessment in self.assessments.items():
            self.metrics.score.labels(device).set(assessment.score)
        if self.remediator is None:
            return None
        outcome = self.remediator.reconcile(self.assessments, now)
        for line in outcome.actions:
            log.info("%s", line)
        for _pod, result in outcome.evictions:
            self.metrics.evictions.labels(result.value).inc()
        for _device in outcome.cordoned_at:
            self.metrics.cordons.inc()
            if detected_at is not None:
                self.metrics.detect_to_cordon.observe(max(0.0, self._clock() - detected_at))
        self.last_outcome = outcome
        return outcome

    def scores(self) -> dict[str, int]:
        return {device: a.score for device, a in self.assessments.items()}

    def close(self) -> None:
        for source in self.sources:
            source.close()
            self.metrics.source_active.labels(source.name).set(0)

    def _device_of(self, event: HealthEvent) -> str | None:
        if event.device is not None:
            return event.device if event.device in self._devices else None
        if event.pci is not None:
            return self._by_pci.get(event.pci) or self._by_pci.get(_slot(event.pci))
        if event.vendor is not None:  # a line naming the driver but no card: only if unique
            candidates = [d.id for d in self._devices.values() if d.vendor == event.vendor]
            return candidates[0] if len(candidates) == 1 else None
        return None


def _slot(pci: str) -> str:
    """0000:3b:00.0 -> 0000:3b:00 (NVRM's Xid lines name the slot without the function)."""
    return pci.rsplit(".", 1)[0]


def _with_device(event: HealthEvent, device: str) -> HealthEvent:
    return event if event.device == device else replace(event, device=device)
