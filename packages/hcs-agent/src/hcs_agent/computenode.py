"""From a collection to the node's ComputeNode and its `ai.compute/*` extended resources. Pure.

Names map to hcs-exchange profiles (NVML's "NVIDIA H100 80GB HBM3" -> H100-SXM5-80G); the
profile gives throughput, memory bandwidth and, where the tool does not report it, VRAM. A name
no profile knows keeps the tool's name, no throughput, and a ModelsKnown=False condition.

Device ids are `<vendor>-<index>` (hcs_api.names.device_id): detectors report each vendor's own
index, and a node carrying two vendors has two of each index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from hcs_agent import health
from hcs_agent.collect import Collection
from hcs_agent.links import device_links
from hcs_agent.model import DeviceInfo
from hcs_api import HcsApiError, Quantity, QuantityFormat
from hcs_api.names import Resource, device_id
from hcs_api.v1alpha1 import (
    ComputeNode,
    ComputeNodeSpec,
    ComputeNodeStatus,
    ComputeTotals,
    Condition,
    ConditionStatus,
    Device,
    NodePhase,
    ObjectMeta,
    Throughput,
)
from hcs_exchange import Precision, Profile, ProfileDatabase, UnknownModelError


@dataclass(frozen=True)
class Built:
    node: ComputeNode
    scores: dict[str, health.Score]
    """By device id (`<vendor>-<index>`)."""
    problems: tuple[str, ...]
    """Vendor errors and devices left out, as a human reads them."""


def build(
    node_name: str,
    collection: Collection,
    database: ProfileDatabase,
    previous: list[Condition] | None = None,
    analyzed: Mapping[str, int] | None = None,
) -> Built:
    """`analyzed`: hcs-health's scores by device id (rates, trends, peers); a device's reported
    health is the lower of that and the snapshot score."""
    problems = [f"{d.vendor}: {d.error}" for d in collection.detections if d.error and not d.absent]
    infos = _distinct(collection, problems)
    # One lookup per name: an unknown name costs hcs-exchange a fuzzy search for its error.
    by_name = {name: _profile(database, name) for name in {info.name for info in infos}}
    profiles = {_id(info): by_name[info.name] for info in infos}
    unknown = sorted({i.name for i in infos if profiles[_id(i)] is None})
    devices, scores = [], {}
    for info in infos:
        score = scores[_id(info)] = health.score(info.health, info.temperature_c)
        value = min(score.value, (analyzed or {}).get(_id(info), 100))
        device = _device(info, profiles, value, collection, infos)
        if device is None:
            problems.append(f"{info.vendor} device {info.index} ({info.name}): VRAM unknown")
        else:
            devices.append(device)
    kept = {d.id for d in devices}
    for device in devices:  # a peer left out must not leave a dangling link
        device.links = [link for link in device.links if set(link.peers) <= kept]
    spec = ComputeNodeSpec(
        node_name=node_name, vendors=sorted({d.vendor for d in devices}), devices=devices
    )
    status = _status(spec, collection.at, problems, unknown, previous or [])
    node = ComputeNode(metadata=ObjectMeta(name=node_name), spec=spec, status=status)
    return Built(node, scores, tuple(problems))


def _id(info: DeviceInfo) -> str:
    return device_id(info.vendor, info.index)


def _distinct(collection: Collection, problems: list[str]) -> list[DeviceInfo]:
    """Every detected device once, by qualified id (one vendor cannot report an index twice
    on purpose; two vendors' equal indexes are different devices)."""
    infos: dict[str, DeviceInfo] = {}
    for info in (d for detection in collection.detections for d in detection.devices):
        try:
            qualified = _id(info)
        except HcsApiError as error:  # a tool printed an index no *_VISIBLE_DEVICES takes
            problems.append(f"{info.vendor} device {info.index!r} left out: {error}")
            continue
        if qualified in infos:
            problems.append(f"{info.vendor} device {info.index}: id {qualified} already used")
        else:
            infos[qualified] = info
    return list(infos.values())


def _profile(database: ProfileDatabase, name: str) -> Profile | None:
    try:
        return database.get(name)
    except UnknownModelError:
        return None


def _device(
    info: DeviceInfo,
    profiles: dict[str, Profile | None],
    score: int,
    collection: Collection,
    infos: list[DeviceInfo],
) -> Device | None:
    profile = profiles[_id(info)]
    vram = info.vram_bytes
    if vram is None and profile is not None and profile.vram.value is not None:
        vram = profile.vram.value.ceil()
    if vram is None:
        return None
    return Device(
        id=_id(info),
        uuid=info.uuid,
        vendor=info.vendor,
        model=profile.model if profile else info.name,
        vram=Quantity.from_value(vram, QuantityFormat.BINARY_SI),
        compute=_throughput(profile),
        memory_bandwidth=_gbps(profile.memory_bandwidth_gbps.value) if profile else None,
        numa_node=info.numa_node,
        pci_bus_id=info.pci_bus_id,
        links=device_links(info, infos, profiles, collection.places),
        health=score,
    )


def _gbps(value: Decimal | None) -> Quantity | None:
    return None if value is None else Quantity.from_value(value * 10**9, QuantityFormat.DECIMAL_SI)


def _tflops(profile: Profile, precision: Precision) -> Quantity | None:
    value = profile.tflops(precision)
    return None if value is None else Quantity(value)


def _throughput(profile: Profile | None) -> Throughput:
    if profile is None:
        return Throughput()
    return Throughput(
        fp16=_tflops(profile, Precision.FP16),
        bf16=_tflops(profile, Precision.BF16),
        fp32=_tflops(profile, Precision.FP32),
        int8=_tflops(profile, Precision.INT8),
    )


def usable(device: Device) -> bool:
    return device.health >= health.HEALTHY and not device.cordoned


def _status(
    spec: ComputeNodeSpec,
    at: datetime,
    problems: list[str],
    unknown: list[str],
    previous: list[Condition],
) -> ComputeNodeStatus:
    healthy = [d for d in spec.devices if usable(d)]
    sick = [f"{d.id} ({d.health})" for d in spec.devices if not usable(d)]
    if not healthy:
        phase = NodePhase.NOT_READY
    elif sick or problems:
        phase = NodePhase.DEGRADED
    else:
        phase = NodePhase.READY
    usable_note = f"{len(healthy)} of {len(spec.devices)} devices usable"
    sick_note = "health below threshold: " + ", ".join(sick) if sick else "every device healthy"
    models_note = "no hcs-exchange profile for " + ", ".join(unknown) if unknown else ""
    states = [
        ("Ready", bool(healthy), "DevicesUsable" if healthy else "NoUsableDevice", usable_note),
        ("DevicesHealthy", not sick, "AllHealthy" if not sick else "DevicesSick", sick_note),
        ("DetectorsSucceeded", not problems, "DetectorErrors" if problems else "Detected",
         "; ".join(problems)[:32768]),
        ("ModelsKnown", not unknown, "UnknownModels" if unknown else "ProfilesFound", models_note),
    ]  # fmt: skip
    before = {c.type: c for c in previous}
    return ComputeNodeStatus(
        phase=phase,
        conditions=[_condition(*state, at, before.get(state[0])) for state in states],
        last_heartbeat=at,
        capacity=spec.capacity(),
        allocatable=_totals(healthy),
    )


def _condition(
    kind: str, ok: bool, reason: str, message: str, at: datetime, old: Condition | None
) -> Condition:
    """A condition whose transition time moves only when its status changes."""
    status = ConditionStatus.TRUE if ok else ConditionStatus.FALSE
    since = old.last_transition_time if old is not None and old.status == status else at
    return Condition(
        type=kind, status=status, last_transition_time=since, reason=reason, message=message
    )


def _totals(devices: list[Device]) -> ComputeTotals:
    compute = Throughput()
    for device in devices:
        compute = compute + device.compute
    vram = sum(device.vram.ceil() for device in devices)
    return ComputeTotals(
        devices=len(devices),
        vram=Quantity.from_value(vram, QuantityFormat.BINARY_SI),
        compute=compute,
    )


def extended_resources(totals: ComputeTotals) -> dict[str, str]:
    """`ai.compute/*` for the Node's status: whole numbers, as extended resources must be."""
    resources = {Resource.VRAM: totals.vram.ceil(), Resource.DEVICES: totals.devices}
    for name, value in (
        (Resource.TFLOPS_FP16, totals.compute.fp16),
        (Resource.TFLOPS_FP32, totals.compute.fp32),
        (Resource.TOPS_INT8, totals.compute.int8),
    ):
        if value is not None:
            resources[name] = int(value.value)  # rounded down: never advertise more than there is
    return {str(name): str(value) for name, value in resources.items()}
