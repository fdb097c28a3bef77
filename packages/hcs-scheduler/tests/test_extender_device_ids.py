"""The extender speaks vendor-qualified device ids: on a node carrying two vendors a bind records
`ascend-0` and gives the container ASCEND_VISIBLE_DEVICES=0, and what old agents and old
extenders wrote (bare ids) is read as qualified and still held."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hcs_api import read_allocation
from hcs_exchange import Exchange, load_database
from hcs_scheduler.extender.binder import Binder
from hcs_scheduler.extender.decide import Decider
from hcs_scheduler.extender.kube import EventType, InMemoryKube, Kind
from hcs_scheduler.extender.state import ClusterState
from hcs_scheduler.extender.status import device_allocations
from hcs_scheduler.extender.sync import Syncer
from hcs_scheduler.extender.wire import ExtenderBindingArgs

pytestmark = pytest.mark.timeout(30)
GI = 1 << 30
EXCHANGE = Exchange(load_database())
MODELS = {"nvidia": "A100-SXM4-80G", "ascend": "Ascend-910B1"}


def device(vendor: str, index: int, legacy: bool = False) -> dict[str, Any]:
    ident = str(index) if legacy else f"{vendor}-{index}"
    entry = {"id": ident, "uuid": f"{vendor}-uuid-{index}", "vendor": vendor, "vram": "64Gi"}
    return entry | {"model": MODELS[vendor], "compute": {"fp16": "300"}}


def computenode(devices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    vendors = sorted({d["vendor"] for d in devices})
    spec = {"nodeName": "node-1", "vendors": vendors, "devices": devices}
    return {"metadata": {"name": "node-1"}, "spec": spec, **extra}


def pod(name: str, vram: str, annotations: dict[str, str] | None = None, **asks: str) -> Any:
    requests = {"ai.compute/vram": vram, **asks}
    metadata = {"name": name, "namespace": "ml", "uid": name, "annotations": annotations or {}}
    return {
        "metadata": metadata,
        "spec": {"containers": [{"name": "main", "resources": {"requests": requests}}]},
    }


def extender(nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> tuple[Any, ...]:
    """State fed through the watch path (raw API objects, as listed), and a binder over it."""
    kube, state = InMemoryKube(), ClusterState()
    syncer = Syncer(state, kube)
    for node in nodes:
        syncer.apply(Kind.COMPUTE_NODE, EventType.ADDED, node)
    for obj in pods:
        kube.apply(Kind.POD, obj)
        syncer.apply(Kind.POD, EventType.ADDED, obj)
    decider = Decider(state, EXCHANGE)
    return kube, state, decider, Binder(state, decider, kube, assume_ttl=30)


async def bind(kube: InMemoryKube, binder: Binder, obj: dict[str, Any]) -> dict[str, str]:
    kube.apply(Kind.POD, obj)
    name = obj["metadata"]["name"]
    args = ExtenderBindingArgs(PodName=name, PodNamespace="ml", PodUID=name, Node="node-1")
    result = await binder.bind(args)
    assert result.error == ""
    stored = kube.stored(Kind.POD, "ml", name)
    assert stored is not None
    return dict(stored["metadata"]["annotations"])


MIXED = [device(v, i) for v in ("nvidia", "ascend") for i in range(2)]
TWO = {"ai.compute/devices": "2"}
CHOICES = [
    # (case, pod's asks and preferences, allocation JSON ids, hcs.io/devices.main)
    ("one-ascend-share", ("16Gi", "ascend", {}), ["ascend-0"], "0"),
    ("both-ascend-devices", ("32Gi", "ascend", TWO), ["ascend-0", "ascend-1"], "0,1"),
    ("one-nvidia-share", ("16Gi", "nvidia", {}), ["nvidia-0"], "0"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("asks", "ids", "visible"), [c[1:] for c in CHOICES], ids=[c[0] for c in CHOICES]
)
async def test_a_mixed_node_binds_either_vendor_with_its_own_numbering(
    asks: tuple[str, str, dict[str, str]], ids: list[str], visible: str
) -> None:
    vram, vendor, extra = asks
    kube, state, decider, binder = extender([computenode(MIXED)], [])
    assert len(state.cluster().nodes[0].devices) == 4  # no vendor's devices were dropped
    chosen = decider.choose(pod("p", vram, {"hcs.io/vendors": vendor}, **extra), "node-1")
    assert chosen.device_ids() == ids
    annotations = await bind(kube, binder, pod("p", vram, {"hcs.io/vendors": vendor}, **extra))
    recorded = json.loads(annotations["hcs.io/allocation"])
    assert recorded["containers"][0]["devices"] == ids
    assert annotations["hcs.io/devices.main"] == visible  # what ASCEND/NVIDIA_VISIBLE_DEVICES get


def old_allocation(devices: list[str]) -> dict[str, str]:
    """Annotations as an extender before the rule wrote them: bare ids in the JSON too."""
    record = {
        "node": "node-1",
        "vendor": "nvidia",
        "model": MODELS["nvidia"],
        "vram": 64 * GI,
        "share": 1000,
        "containers": [{"container": "main", "devices": devices, "vram": 64 * GI, "share": 1000}],
    }
    return {
        "hcs.io/node": "node-1",
        "hcs.io/vendor": "nvidia",
        "hcs.io/allocation": json.dumps(record),
        "hcs.io/bind-phase": "bound",
        "hcs.io/devices.main": ",".join(d.rpartition("-")[2] for d in devices),
    }


def bound(name: str, annotations: dict[str, str]) -> dict[str, Any]:
    obj = pod(name, "64Gi", annotations)
    obj["spec"]["nodeName"] = "node-1"
    return obj


OLD_STATUS = {"status": {"devices": [{"id": "1", "vram": "64Gi", "pods": 1}]}}
UPGRADES = [
    # (case, node's ids legacy?, node's extra fields, held pod's recorded ids)
    ("old-agent-old-pod", True, OLD_STATUS, ["1"]),
    ("old-agent-new-pod", True, {}, ["nvidia-1"]),
    ("new-agent-old-pod", False, {}, ["1"]),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("legacy", "extra", "held"), [u[1:] for u in UPGRADES], ids=[u[0] for u in UPGRADES]
)
async def test_objects_from_before_the_rule_are_read_qualified_and_held(
    legacy: bool, extra: dict[str, Any], held: list[str]
) -> None:
    devices = [device("nvidia", i, legacy) for i in range(2)]
    devices[0]["links"] = [{"type": "nvlink", "peers": ["1" if legacy else "nvidia-1"]}]
    node = computenode(devices, **extra)
    kube, state, _, binder = extender([node], [bound("old", old_allocation(held))])
    assert [d.id for d in state.nodes["node-1"].spec.devices] == ["nvidia-0", "nvidia-1"]
    allocation = state.holds("old")
    assert allocation is not None
    assert allocation.device_ids() == ["nvidia-1"]
    cluster = state.cluster()
    assert cluster.dev_vram_free[0, :2].tolist() == [64 * GI, 0]  # the old pod's device is taken
    assert [d["id"] for d in device_allocations(state.nodes["node-1"], [allocation])] == [
        "nvidia-1"
    ]
    # A new pod gets the other device, recorded qualified, with NVML's own index for its env.
    annotations = await bind(kube, binder, pod("new", "64Gi"))
    assert read_allocation(annotations).device_ids() == ["nvidia-0"]  # type: ignore[union-attr]
    assert annotations["hcs.io/devices.main"] == "0"
