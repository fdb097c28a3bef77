"""hcs-health inside the agent: a collection's readings reach the analyzer, and the analyzer's
score is the health the ComputeNode reports."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from hcs_agent.collect import Collection
from hcs_agent.computenode import build
from hcs_agent.healthloop import Guarded, baselines, device_refs, efficiency, samples
from hcs_agent.model import Detection, DeviceInfo, HealthSignals
from hcs_exchange import load_database
from hcs_health import (
    Analyzer,
    EventKind,
    HealthEvent,
    HealthMetrics,
    HealthMonitor,
    Severity,
    Source,
)

DB = load_database()
AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def collection(*signals: HealthSignals, **each: object) -> Collection:
    """H100s on consecutive buses, one per `signals`; `each` (DeviceInfo fields) per device:
    a value or a function of the device's index."""
    infos = tuple(
        DeviceInfo(
            "nvidia",
            str(i),
            f"GPU-{i}",
            "NVIDIA H100 80GB HBM3",
            pci_bus_id=f"0000:{0x3B + i:02x}:00.0",
            health=s,
            **{k: v(i) if callable(v) else v for k, v in each.items()},
        )
        for i, s in enumerate(signals)
    )
    return Collection((Detection("nvidia", infos),), at=AT)


def test_a_collection_becomes_samples_refs_and_baselines() -> None:
    col = collection(HealthSignals(ecc_correctable=3, xids=(48,)), HealthSignals())
    built = build("gpu-1", col, DB)
    assert [(r.id, r.pci) for r in device_refs(built)] == [
        ("nvidia-0", "0000:3b:00.0"),
        ("nvidia-1", "0000:3c:00.0"),
    ]
    first = samples(col, now=5.0)[0]
    assert (first.device, first.ecc_correctable, first.xids, first.at) == (
        "nvidia-0",
        3,
        (48,),
        5.0,
    )
    assert baselines(built)["nvidia-0"].score == 30
    assert baselines(built)["nvidia-0"].reasons == ("Xid 48", "3 correctable ECC errors")


def test_the_analyzers_score_is_the_reported_health() -> None:
    monitor = HealthMonitor(Analyzer(), [], HealthMetrics(CollectorRegistry()))
    guarded = Guarded(monitor)
    col = collection(HealthSignals(), HealthSignals())
    built = build("gpu-1", col, DB)
    assert guarded.on_built(col, built, now=1.0) == {"nvidia-0": 100, "nvidia-1": 100}
    with guarded.hold() as held:  # a kernel line between two collections
        held.handle(
            [
                HealthEvent(
                    2.0,
                    EventKind.FALLEN_OFF_BUS,
                    Severity.FATAL,
                    Source.KMSG,
                    pci="0000:3c:00.0",
                    code=79,
                )
            ],
            now=2.0,
        )
    scores = guarded.on_built(col, built, now=3.0)
    assert scores["nvidia-1"] == 0
    rebuilt = build("gpu-1", col, DB, analyzed=scores)
    health = {d.id: d.health for d in rebuilt.node.spec.devices}
    assert health == {"nvidia-0": 100, "nvidia-1": 0}
    assert rebuilt.node.status is not None
    assert rebuilt.node.status.allocatable is not None
    assert rebuilt.node.status.allocatable.devices == 1


def test_a_busy_device_slower_than_its_peers_for_five_minutes_turns_degraded() -> None:
    """The efficiency rule fed from NVML's utilization and SM clocks (inventory stands in)."""
    monitor = HealthMonitor(Analyzer(), [], HealthMetrics(CollectorRegistry()))
    guarded = Guarded(monitor)

    def reading(slow_ratio: float, busy: float = 95) -> Collection:
        ratios = {2: slow_ratio}
        return collection(
            *[HealthSignals()] * 3,
            utilization_pct=busy,
            sm_clock_ratio=lambda i: ratios.get(i, 0.98),
        )

    scores: dict[str, int] = {}
    for second in range(0, 400, 10):  # 0.45 of its peers' clock, at 95 % busy
        col = reading(0.45)
        scores = guarded.on_built(col, build("gpu-1", col, DB), now=float(second))
        if second < 290:
            assert scores["nvidia-2"] >= 80, f"not yet 5 minutes at {second} s"
    assert 50 <= scores["nvidia-2"] < 80
    idle = reading(0.1, busy=5)
    assert "nvidia-2" not in efficiency(idle, build("gpu-1", idle, DB)), "idle says nothing"
