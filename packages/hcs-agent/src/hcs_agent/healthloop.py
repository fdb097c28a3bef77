"""hcs-health inside the agent: what a collection tells the health monitor, and the loop that
polls the kernel event sources between collections.

The monitor is shared by two threads (the collection cycle and the event loop's poller), so
every call into it goes through `Guarded`'s lock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry

from hcs_agent.collect import Collection
from hcs_agent.computenode import Built
from hcs_agent.model import reported_id
from hcs_agent.settings import AgentSettings
from hcs_health import (
    Analyzer,
    AnalyzerConfig,
    Baseline,
    DeviceRef,
    EventSource,
    HealthMetrics,
    HealthMonitor,
    Remediator,
    VendorSample,
    remediation_config,
)
from hcs_health.sources.select import SourceMode, open_sources

log = logging.getLogger("hcs_agent")


class Guarded:
    """The monitor behind a lock: one thread at a time."""

    def __init__(self, monitor: HealthMonitor) -> None:
        self.monitor = monitor
        self._lock = threading.Lock()

    @contextmanager
    def hold(self) -> Iterator[HealthMonitor]:
        with self._lock:
            yield self.monitor

    def on_built(self, collection: Collection, built: Built, now: float) -> dict[str, int]:
        """Feed one collection; the analyzer's scores by device id."""
        with self._lock:
            self.monitor.set_devices(device_refs(built))
            self.monitor.on_collection(
                samples(collection, now), baselines(built), now, efficiency(collection, built)
            )
            return self.monitor.scores()

    def step(self, timeout_s: float) -> None:
        with self._lock:
            self.monitor.step(timeout_s)


def device_refs(built: Built) -> list[DeviceRef]:
    return [DeviceRef(d.id, d.vendor.value, d.pci_bus_id) for d in built.node.spec.devices]


def baselines(built: Built) -> dict[str, Baseline]:
    return {device: Baseline(s.value, s.reasons) for device, s in built.scores.items()}


def samples(collection: Collection, now: float) -> list[VendorSample]:
    out = []
    for info in (d for detection in collection.detections for d in detection.devices):
        qualified = reported_id(info)
        if qualified is None:
            continue
        signals = info.health
        out.append(
            VendorSample(
                device=qualified,
                vendor=info.vendor,
                at=now,
                ecc_correctable=signals.ecc_correctable,
                ecc_uncorrectable=signals.ecc_uncorrectable,
                retired_pages=signals.retired_pages,
                throttle_reasons=signals.throttle_reasons,
                xids=signals.xids,
                vendor_status=signals.vendor_status,
            )
        )
    return out


BUSY_PCT = 50.0
"""Efficiency is compared only while a device is busy: an idle device keeps its clock low on
purpose, and one doing little says nothing about how fast it can work."""


def efficiency(collection: Collection, built: Built) -> dict[str, tuple[str, float]]:
    """Busy devices' SM clock over its maximum, with their model: a device that keeps well under
    its same-model peers' clock under load is throttling itself (hcs-health's efficiency rule)."""
    models = {d.id: d.model for d in built.node.spec.devices}
    out = {}
    for info in (d for detection in collection.detections for d in detection.devices):
        if info.sm_clock_ratio is None or (info.utilization_pct or 0.0) < BUSY_PCT:
            continue
        qualified = reported_id(info)
        if qualified in models:
            out[qualified] = (models[qualified], info.sm_clock_ratio)
    return out


def make_monitor(
    settings: AgentSettings,
    node: str,
    registry: CollectorRegistry,
    api_client: Any | None,
    addresses: Callable[[], list[str]],
) -> Guarded | None:
    """The monitor the settings ask for; None when health monitoring is off entirely."""
    if not settings.health:
        return None
    metrics = HealthMetrics(registry)
    config = remediation_config(
        cordon=settings.health_cordon,
        evict=settings.health_evict,
        taint=settings.health_taint,
        quiet_period_s=settings.health_quiet_period_s,
    )

    def opened(mode: SourceMode) -> list[EventSource]:
        return open_sources(
            mode,
            metrics,
            addresses,
            loader=settings.ebpf_loader,
            ioctl_slow_ms=settings.ioctl_slow_ms,
            kmsg_path=settings.kmsg_path,
            sysfs_root=settings.sysfs_root,
        ).sources

    sources = opened(SourceMode(settings.health_source))
    remediator = None
    if api_client is not None and (config.cordon or config.taint):
        from hcs_health.remediation.kube import KubernetesRemediation

        remediator = Remediator(
            node, KubernetesRemediation(api_client), config, kubelet_root=settings.kubelet_root
        )
        remediator.refresh()
    # The eBPF loader that dies later gives way to the polling sources, not to silence.
    fallback = None if settings.health_source == "off" else (lambda: opened(SourceMode.POLL))
    monitor = HealthMonitor(
        Analyzer(AnalyzerConfig()), sources, metrics, remediator, fallback=fallback
    )
    return Guarded(monitor)


async def health_loop(guarded: Guarded, stop: asyncio.Event, poll_s: float) -> None:
    """Poll the event sources until `stop`; a failed step is logged and the loop goes on."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            await asyncio.to_thread(guarded.step, poll_s)
        except Exception:
            log.exception("health step failed")
        if time.monotonic() - started < poll_s / 10:  # sources that return at once: no spin
            await asyncio.sleep(poll_s)
