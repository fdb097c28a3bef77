"""Building the ComputeNode: profile mapping, status, conditions, allocatable, last good devices,
and vendor-qualified ids, so a node carrying two vendors keeps every device."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hcs_agent.collect import Collection, keep_last_good
from hcs_agent.computenode import build, extended_resources
from hcs_agent.model import Detection, DeviceInfo, HealthSignals, PeerLink
from hcs_api.v1alpha1 import ComputeNode, ConditionStatus, LinkType, NodePhase
from hcs_exchange import load_database

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DB = load_database()


def npu(index: str, name: str = "910B3", **kw: object) -> DeviceInfo:
    return DeviceInfo(
        vendor="ascend", index=index, uuid=f"NPU-{index}", name=name, vram_bytes=64 * 2**30, **kw
    )  # type: ignore[arg-type]


def conditions(node: ComputeNode) -> dict[str, ConditionStatus]:
    assert node.status is not None
    return {c.type: c.status for c in node.status.conditions}


def test_names_map_to_profiles_with_their_throughput() -> None:
    gpu = DeviceInfo("nvidia", "0", "GPU-0", "NVIDIA H100 80GB HBM3", vram_bytes=81559 * 2**20)
    built = build("n", Collection((Detection("nvidia", (gpu,)),), at=T0), DB)
    device = built.node.spec.device("nvidia-0")
    assert device.model == "H100-SXM5-80G"
    assert str(device.compute.fp16) == "989500m"  # dense, from the datasheet via hcs-exchange
    assert str(device.memory_bandwidth) == "3350G"
    assert device.vram.ceil() == 81559 * 2**20  # what NVML measured, not the datasheet's 80Gi


def test_vram_falls_back_to_the_profile_and_unknown_models_are_flagged() -> None:
    dcu = DeviceInfo("hygon", "0", "DCU-0", "K100_AI")  # hy-smi reports no total
    mlu = DeviceInfo("cambricon", "1", "MLU-1", "MLUXXX-XX", vram_bytes=2**30)
    z100 = DeviceInfo("hygon", "2", "DCU-2", "Z100")  # neither tool nor profile knows its VRAM
    collection = Collection(
        (Detection("hygon", (dcu, z100)), Detection("cambricon", (mlu,))), at=T0
    )
    built = build("n", collection, DB)
    assert built.node.spec.device("hygon-0").vram.ceil() == 64 * 2**30
    assert built.node.spec.device("cambricon-1").model == "MLUXXX-XX"
    assert [d.id for d in built.node.spec.devices] == ["hygon-0", "cambricon-1"]
    assert any("2 (Z100): VRAM unknown" in p for p in built.problems)
    assert conditions(built.node)["ModelsKnown"] is ConditionStatus.FALSE


def test_sick_device_leaves_allocatable_and_degrades_the_node() -> None:
    devices = (npu("0"), npu("1", health=HealthSignals(vendor_status="Alarm")))
    built = build("n", Collection((Detection("ascend", devices),), at=T0), DB)
    status = built.node.status
    assert status is not None
    assert status.phase is NodePhase.DEGRADED
    assert status.capacity is not None
    assert status.allocatable is not None
    assert (status.capacity.devices, status.allocatable.devices) == (2, 1)
    assert conditions(built.node)["DevicesHealthy"] is ConditionStatus.FALSE
    resources = extended_resources(status.allocatable)
    assert resources == {"ai.compute/vram": str(64 * 2**30), "ai.compute/devices": "1"}


def test_vendor_error_degrades_and_no_device_is_not_ready() -> None:
    collection = Collection((Detection("ascend", error="npu-smi did not answer"),), at=T0)
    built = build("n", collection, DB)
    assert built.node.status is not None
    assert built.node.status.phase is NodePhase.NOT_READY
    assert conditions(built.node)["DetectorsSucceeded"] is ConditionStatus.FALSE
    absent = build("n", Collection((Detection("nvidia", absent=True, error="none"),), at=T0), DB)
    assert conditions(absent.node)["DetectorsSucceeded"] is ConditionStatus.TRUE


def test_condition_transition_time_moves_only_on_change() -> None:
    first = build("n", Collection((Detection("ascend", (npu("0"),)),), at=T0), DB)
    assert first.node.status is not None
    later = T0 + timedelta(seconds=10)
    same = build(
        "n",
        Collection((Detection("ascend", (npu("0"),)),), at=later),
        DB,
        first.node.status.conditions,
    )
    assert same.node.status is not None
    ready = next(c for c in same.node.status.conditions if c.type == "Ready")
    assert (ready.last_transition_time, same.node.status.last_heartbeat) == (T0, later)


def test_failed_vendor_keeps_its_last_good_devices() -> None:
    good = {"ascend": Detection("ascend", (npu("0"), npu("1")))}
    now = (
        Detection("ascend", error="'npu-smi info' did not answer within 5 s"),
        Detection("nvidia", absent=True),
    )
    kept = keep_last_good(now, good)
    assert [d.index for d in kept[0].devices] == ["0", "1"]
    assert kept[0].error is not None
    built = build("n", Collection(kept, at=T0), DB)
    assert len(built.node.spec.devices) == 2
    assert built.node.status is not None
    assert built.node.status.phase is NodePhase.DEGRADED


def _gpu(index: str) -> DeviceInfo:
    return DeviceInfo("nvidia", index, f"GPU-{index}", "NVIDIA A10", vram_bytes=24 * 2**30)


MIXED = [
    # (case, NVIDIA indexes, Ascend indexes, ids in the ComputeNode)
    ("one-each", ["0"], ["0"], ["nvidia-0", "ascend-0"]),
    (
        "8-nvidia-8-ascend",
        [str(i) for i in range(8)],
        [str(i) for i in range(8)],
        [f"nvidia-{i}" for i in range(8)] + [f"ascend-{i}" for i in range(8)],
    ),
    ("disjoint-indexes", ["0", "1"], ["4"], ["nvidia-0", "nvidia-1", "ascend-4"]),
]


@pytest.mark.parametrize(("gpus", "npus", "ids"), [m[1:] for m in MIXED], ids=[m[0] for m in MIXED])
def test_a_node_with_two_vendors_keeps_every_device(
    gpus: list[str], npus: list[str], ids: list[str]
) -> None:
    detections = (
        Detection("nvidia", tuple(_gpu(i) for i in gpus)),
        Detection("ascend", tuple(npu(i) for i in npus)),
    )
    built = build("n", Collection(detections, at=T0), DB)
    assert [d.id for d in built.node.spec.devices] == ids
    assert built.problems == ()
    assert built.node.status is not None
    assert built.node.status.allocatable is not None
    assert built.node.status.allocatable.devices == len(ids)
    assert sorted(built.scores) == sorted(ids)


def test_links_name_qualified_peers_of_their_own_vendor() -> None:
    hccs = (PeerLink(LinkType.HCCS, "1"),)
    npus = (npu("0", links=hccs), npu("1", links=(PeerLink(LinkType.HCCS, "0"),)))
    detections = (Detection("nvidia", (_gpu("1"),)), Detection("ascend", npus))
    spec = build("n", Collection(detections, at=T0), DB).node.spec
    assert [link.peers for link in spec.device("ascend-0").links] == [["ascend-1"]]
    assert spec.device("nvidia-1").links == []  # no sysfs here: no PCIe links, no stray peers


def test_the_same_device_reported_twice_is_kept_once() -> None:
    twice = (Detection("ascend", (npu("0"),)), Detection("ascend", (npu("0"),)))
    built = build("n", Collection(twice, at=T0), DB)
    assert [d.id for d in built.node.spec.devices] == ["ascend-0"]
    assert any("ascend device 0: id ascend-0 already used" in p for p in built.problems)


def test_an_index_no_visible_devices_list_takes_is_left_out_and_said() -> None:
    odd = (npu("0"), npu("1,2"))
    built = build("n", Collection((Detection("ascend", odd),), at=T0), DB)
    assert [d.id for d in built.node.spec.devices] == ["ascend-0"]
    assert any("ascend device '1,2' left out" in p for p in built.problems)
