"""Prometheus metrics of the health loop, in the registry it is given (the agent's own), so
`/metrics` shows which event source is active and what the remediation did."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class HealthMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.source_active = Gauge(
            "hcs_health_source_active",
            "1 for each event source in use (ebpf-printk, kmsg, sysfs-aer...)",
            ["source"],
            registry=r,
        )
        self.source_errors = Gauge(
            "hcs_health_source_unavailable",
            "1 for each source that could not start (the agent's log says why)",
            ["source"],
            registry=r,
        )
        self.events = Counter(
            "hcs_health_events",
            "Health events read, by kind and source",
            ["kind", "source"],
            registry=r,
        )
        self.score = Gauge(
            "hcs_health_device_score",
            "Analyzer score 0-100 (hcs-health README)",
            ["device"],
            registry=r,
        )
        self.cordons = Counter("hcs_health_cordons", "Devices cordoned by HCS", registry=r)
        self.evictions = Counter(
            "hcs_health_evictions",
            "Pods moved off sick devices, by outcome",
            ["outcome"],
            registry=r,
        )
        self.detect_to_cordon = Histogram(
            "hcs_health_detect_to_cordon_seconds",
            "From an event's arrival to its device's cordon written to the API server",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
