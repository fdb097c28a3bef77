"""Prometheus metrics of one agent, in its own registry (no process-wide state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from hcs_agent.collect import Collection
from hcs_agent.computenode import Built
from hcs_agent.model import DeviceInfo, reported_id
from hcs_api.v1alpha1 import Device

_DEVICE = ("vendor", "device", "model", "uuid")
"""`device` is the ComputeNode's device id (`<vendor>-<index>`), so a series joins its device."""


class AgentMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.vram = Gauge(
            "hcs_agent_device_vram_bytes", "Device memory, total", _DEVICE, registry=r
        )
        self.vram_free = Gauge(
            "hcs_agent_device_vram_free_bytes", "Device memory, free", _DEVICE, registry=r
        )
        self.health = Gauge(
            "hcs_agent_device_health_score", "Health score 0-100 (README)", _DEVICE, registry=r
        )
        self.temperature = Gauge(
            "hcs_agent_device_temperature_celsius", "Device temperature", _DEVICE, registry=r
        )
        self.detector_up = Gauge(
            "hcs_agent_detector_up",
            "1 when the vendor's detection succeeded",
            ["vendor"],
            registry=r,
        )
        self.duration = Histogram(
            "hcs_agent_collection_duration_seconds",
            "Time of one full collection",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.report_failures = Counter(
            "hcs_agent_report_failures", "Reports the API server did not take", registry=r
        )

    def update(self, collection: Collection, built: Built) -> None:
        self.duration.observe(collection.duration_s)
        reported = {d.id: d for d in built.node.spec.devices}
        for gauge in (self.vram, self.vram_free, self.health, self.temperature):
            gauge.clear()  # devices that vanished must not linger with their last value
        for detection in collection.detections:
            self.detector_up.labels(detection.vendor).set(
                0 if detection.error and not detection.absent else 1
            )
            for info in detection.devices:
                qualified = reported_id(info)
                device = reported.get(qualified) if qualified is not None else None
                if device is not None and device.uuid == info.uuid:
                    self._device(info, device, built)

    def _device(self, info: DeviceInfo, device: Device, built: Built) -> None:
        """A device as reported: its model, and VRAM (the profile's where the tool is silent)."""
        labels = (info.vendor, device.id, device.model, info.uuid)
        self.vram.labels(*labels).set(device.vram.ceil())
        if info.vram_free_bytes is not None:
            self.vram_free.labels(*labels).set(info.vram_free_bytes)
        if info.temperature_c is not None:
            self.temperature.labels(*labels).set(info.temperature_c)
        score = built.scores.get(device.id)
        if score is not None:
            self.health.labels(*labels).set(score.value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
