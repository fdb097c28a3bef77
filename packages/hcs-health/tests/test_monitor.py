"""The health loop: events are mapped to the node's devices (by PCI address, slot, or the only
device of a vendor), scored, and acted on at once; vendor readings count as events; what the
loop did shows in its metrics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from hcs_health import (
    Analyzer,
    DeviceRef,
    EventKind,
    HealthEvent,
    HealthMetrics,
    HealthMonitor,
    Remediator,
    Severity,
    Source,
    VendorSample,
)
from hcs_health.errors import SourceError
from hcs_health.monitor import Baseline
from hcs_health.remediation.plan import RemediationConfig
from hcs_health.remediation.port import InMemoryRemediation

NODE = "gpu-1"


class ListSource:
    """An event source handing out prepared batches, one per poll."""

    name = "test"

    def __init__(self) -> None:
        self.batches: list[list[HealthEvent]] = []
        self.closed = False

    def poll(self, timeout_s: float) -> list[HealthEvent]:
        return self.batches.pop(0) if self.batches else []

    def close(self) -> None:
        self.closed = True


def xid79(pci: str | None = None, vendor: str | None = None, at: float = 1.0) -> HealthEvent:
    return HealthEvent(
        at, EventKind.FALLEN_OFF_BUS, Severity.FATAL, Source.KMSG, pci=pci, vendor=vendor, code=79
    )


@pytest.fixture
def setup() -> Iterator[tuple[HealthMonitor, ListSource, InMemoryRemediation, CollectorRegistry]]:
    port = InMemoryRemediation()
    devices = [{"id": "nvidia-0"}, {"id": "nvidia-1"}, {"id": "ascend-0"}]
    port.nodes[NODE] = {"metadata": {"name": NODE}, "spec": {"devices": devices}}
    remediator = Remediator(NODE, port, RemediationConfig())
    remediator.refresh()
    registry = CollectorRegistry()
    source = ListSource()
    clock = iter(x / 10 for x in range(10, 10_000))
    monitor = HealthMonitor(
        Analyzer(), [source], HealthMetrics(registry), remediator, clock=lambda: next(clock)
    )
    monitor.set_devices(
        [
            DeviceRef("nvidia-0", "nvidia", "0000:3b:00.0"),
            DeviceRef("nvidia-1", "nvidia", "0000:86:00.0"),
            DeviceRef("ascend-0", "ascend", None),
        ]
    )
    yield monitor, source, port, registry
    monitor.close()
    assert source.closed


@pytest.mark.parametrize(
    ("event", "device"),
    [
        (xid79(pci="0000:86:00.0"), "nvidia-1"),
        (xid79(pci="0000:86:00"), "nvidia-1"),
        (xid79(vendor="ascend"), "ascend-0"),
    ],
    ids=["pci-address", "nvrm-slot-without-function", "only-device-of-its-vendor"],
)
def test_an_event_reaches_its_device_and_cordons_it_in_one_step(setup, event, device):
    monitor, source, port, registry = setup
    source.batches.append([event])
    outcome = monitor.step(0.1)
    assert outcome is not None
    assert list(outcome.cordoned_at) == [device]
    assert port.cordons[NODE][device].startswith(f"hcs-health: {device} UNHEALTHY (score 0)")
    assert monitor.scores()[device] == 0
    text = generate_latest(registry).decode()
    assert "hcs_health_cordons_total 1.0" in text
    assert "hcs_health_detect_to_cordon_seconds_count 1.0" in text
    assert f'hcs_health_device_score{{device="{device}"}} 0.0' in text


@pytest.mark.parametrize(
    "event",
    [xid79(pci="0000:99:00.0"), xid79(vendor="nvidia"), xid79()],
    ids=["another-cards-address", "vendor-with-two-devices", "no-address-no-vendor"],
)
def test_an_event_naming_no_device_of_this_node_is_counted_not_acted_on(setup, event):
    monitor, source, port, _ = setup
    source.batches.append([event])
    assert monitor.step(0.1) is None
    assert monitor.unmapped == 1
    assert port.cordons == {}


def test_vendor_readings_and_snapshot_scores_count(setup):
    monitor, _, port, _ = setup
    before = VendorSample("nvidia-0", "nvidia", 1.0, 0, 0, None, (), (), None)
    after = VendorSample("nvidia-0", "nvidia", 11.0, 0, 0, None, (), (79,), None)
    monitor.on_collection([before], {"nvidia-1": Baseline(40, ("Xid 48",))}, now=1.0)
    assert monitor.scores()["nvidia-1"] == 40, "the agent's snapshot caps the analyzer"
    assert "nvidia-1" in port.cordons[NODE]
    monitor.on_collection([after], {}, now=11.0)
    assert monitor.scores()["nvidia-0"] == 0, "an Xid 79 read through NVML counts as well"


def test_a_device_gone_from_the_node_is_forgotten(setup):
    monitor, source, _, _ = setup
    source.batches.append([xid79(pci="0000:86:00.0")])
    monitor.step(0.1)
    monitor.set_devices([DeviceRef("nvidia-0", "nvidia", "0000:3b:00.0")])
    assert "nvidia-1" not in monitor.scores()
    assert "nvidia-1" not in monitor.analyzer.devices()


class Stopped(ListSource):
    name = "ebpf"

    def poll(self, timeout_s: float) -> list[HealthEvent]:
        raise SourceError("hcs-ebpf-loader stopped: killed")


def test_a_source_that_stops_gives_way_to_the_fallback_once(setup, caplog):
    monitor, _, _, registry = setup
    dead = Stopped()
    spare, duplicate = ListSource(), ListSource()
    spare.name, duplicate.name = "kmsg", "test"
    monitor.sources.append(dead)
    monitor._fallback = lambda: [spare, duplicate]
    with caplog.at_level("INFO", logger="hcs_health"):
        monitor.step(0.1)
        monitor.step(0.1)
    assert [s.name for s in monitor.sources] == ["test", "kmsg"]
    assert dead.closed, "the dead source is closed"
    assert duplicate.closed, "a second source of a running name is closed, not added"
    assert [m for m in caplog.messages if "stopped" in m] == [
        "health source ebpf stopped: hcs-ebpf-loader stopped: killed"
    ]
    text = generate_latest(registry).decode()
    assert 'hcs_health_source_active{source="ebpf"} 0.0' in text
    assert 'hcs_health_source_unavailable{source="ebpf"} 1.0' in text
    assert 'hcs_health_source_active{source="kmsg"} 1.0' in text
