"""ComputeNode (cluster-scoped, one per Kubernetes node): a node's accelerators and their state.

The agent writes spec (what the hardware is) and status (heartbeat, conditions, capacity); the
scheduler reads both and keeps its allocations on pods, which it sums into status.devices.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from hcs_api._quantity import Quantity, QuantityFormat
from hcs_api.names import API_VERSION, Vendor, vendor_index
from hcs_api.v1alpha1 import _legacy_ids
from hcs_api.v1alpha1._base import (
    LIST_MAP_BY_ID,
    LIST_MAP_BY_TYPE,
    Condition,
    ObjectMeta,
    WireModel,
)
from hcs_api.v1alpha1._fields import ByteQuantity, NonNegativeQuantity

PCI_BUS_ID_PATTERN = r"^[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$"


class LinkType(enum.StrEnum):
    """The kind of path between two devices."""

    NVLINK = "nvlink"
    HCCS = "hccs"
    XGMI = "xgmi"
    PCIE = "pcie"
    ROCE = "roce"


class PcieScope(enum.StrEnum):
    """How far apart two devices sit on PCIe (nvidia-smi topo's PIX, PXB, PHB, NODE, SYS)."""

    SWITCH = "switch"
    """Behind the same PCIe switch (PIX)."""
    MULTI_SWITCH = "multiSwitch"
    """Across several PCIe switches, not through the host bridge (PXB)."""
    HOST_BRIDGE = "hostBridge"
    """Through one PCIe host bridge (PHB)."""
    NUMA = "numa"
    """Across host bridges within one NUMA node (NODE)."""
    SYSTEM = "system"
    """Across NUMA nodes, over the CPU interconnect (SYS)."""


class Throughput(WireModel):
    """Dense (not sparse) throughput per precision. Unknown stays unset, never guessed."""

    fp16: NonNegativeQuantity | None = None
    """FP16 TFLOPS."""
    bf16: NonNegativeQuantity | None = None
    """BF16 TFLOPS."""
    fp32: NonNegativeQuantity | None = None
    """FP32 TFLOPS."""
    int8: NonNegativeQuantity | None = None
    """INT8 TOPS."""

    def __add__(self, other: Throughput) -> Throughput:
        def add(a: Quantity | None, b: Quantity | None) -> Quantity | None:
            if a is None or b is None:
                return a if b is None else b
            return a + b

        return Throughput(
            fp16=add(self.fp16, other.fp16),
            bf16=add(self.bf16, other.bf16),
            fp32=add(self.fp32, other.fp32),
            int8=add(self.int8, other.int8),
        )


class Link(WireModel):
    """A path from this device to peer devices on the same node (or, for RoCE, to its NIC)."""

    type: LinkType
    """nvlink, hccs, xgmi, pcie or roce."""
    peers: list[str] = Field(min_length=1)
    """Ids (`<vendor>-<index>`) of the devices at the other end; for roce, the NICs' names."""
    bandwidth: NonNegativeQuantity | None = None
    """Bytes per second in one direction, over all lanes of this link (e.g. 450G)."""
    latency: NonNegativeQuantity | None = None
    """One-way latency in seconds (e.g. 2u)."""
    pcie_scope: PcieScope | None = None
    """For pcie links: how far apart the devices sit on the PCIe tree."""
    # Spelled out: the camelCase generator would make it "p2P".
    p2p: bool | None = Field(default=None, alias="p2p")
    """Whether the devices can read each other's memory directly over this link."""


class Device(WireModel):
    """One accelerator, as the agent fingerprinted it."""

    # No pattern in the schema: agents before hcs-api 0.3 write a bare index ("0") until they are
    # upgraded, and the API server must keep taking it (the model reads it qualified).
    id: str = Field(min_length=1, max_length=64)
    """`<vendor>-<index>` (e.g. nvidia-0), the index as the vendor's *_VISIBLE_DEVICES takes it."""
    uuid: str = Field(min_length=1, max_length=128)
    """The vendor's stable identifier (GPU-..., the NPU's chip serial...)."""
    vendor: Vendor
    """nvidia, ascend, hygon or cambricon."""
    model: str = Field(min_length=1, max_length=128)
    """The hcs-exchange profile name (e.g. H100-SXM5-80G)."""
    vram: ByteQuantity
    """Total device memory in bytes."""
    compute: Throughput = Field(default_factory=Throughput)
    """Dense throughput of this device (datasheet, or measured where calibrated)."""
    memory_bandwidth: NonNegativeQuantity | None = None
    """Device memory bandwidth in bytes per second (e.g. 3350G)."""
    numa_node: int | None = Field(default=None, ge=0)
    """NUMA node the device hangs off; unset where the platform has none."""
    pci_bus_id: str | None = Field(default=None, pattern=PCI_BUS_ID_PATTERN)
    """PCI address (domain:bus:device.function)."""
    links: list[Link] = Field(default_factory=list)
    """Paths to other devices."""
    health: int = Field(default=100, ge=0, le=100)
    """Health score, 100 = healthy, 0 = failed."""
    cordoned: bool = False
    """A cordoned device gets no new work."""
    cordon_reason: str | None = Field(default=None, max_length=1024)
    """Why the device was cordoned; required when cordoned."""

    @model_validator(mode="before")
    @classmethod
    def _qualify_legacy_ids(cls, data: Any) -> Any:
        """Read a bare index ("0", and link peers "1"), as agents before the rule wrote it, as
        `<vendor>-<index>`."""
        return _legacy_ids.device(data)

    @model_validator(mode="after")
    def _cordon_has_reason(self) -> Self:
        if self.cordoned and not self.cordon_reason:
            raise ValueError(f"device {self.id} is cordoned without a cordonReason")
        return self


class ComputeTotals(WireModel):
    """Totals over a node's devices."""

    devices: int = Field(ge=0)
    """Number of devices."""
    vram: ByteQuantity
    """Device memory in bytes."""
    compute: Throughput = Field(default_factory=Throughput)
    """Dense throughput per precision."""


class ComputeNodeSpec(WireModel):
    """What the node's accelerators are."""

    node_name: str = Field(min_length=1, max_length=253)
    """The Kubernetes node this describes."""
    vendors: list[Vendor] = Field(default_factory=list)
    """Vendors of the node's devices (each once)."""
    devices: list[Device] = Field(default_factory=list, json_schema_extra=LIST_MAP_BY_ID)
    """The node's accelerators."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = [device.id for device in self.devices]
        for device in self.devices:  # here, not per Device: one Python call per node, not 8
            if not device.id.startswith(f"{device.vendor}-"):
                raise ValueError(
                    f"device id {device.id} does not start with its vendor ({device.vendor}-)"
                )
            vendor_index(device.id)  # the index part must be one *_VISIBLE_DEVICES takes
        _reject_duplicates("device id", ids)
        _reject_duplicates("device uuid", [device.uuid for device in self.devices])
        _reject_duplicates("vendor", list(self.vendors))
        known = set(ids)
        for device in self.devices:
            for link in device.links:
                for peer in link.peers:
                    if peer == device.id:
                        raise ValueError(f"device {device.id} has a {link.type} link to itself")
                    if link.type is not LinkType.ROCE and peer not in known:
                        raise ValueError(
                            f"device {device.id} has a {link.type} link to unknown device {peer}"
                        )
        used = {device.vendor for device in self.devices}
        if used != set(self.vendors):
            raise ValueError(
                f"vendors {sorted(self.vendors)} do not match the devices' vendors {sorted(used)}"
            )
        return self

    def device(self, device_id: str) -> Device:
        """The device with this id (KeyError naming it if there is none)."""
        for device in self.devices:
            if device.id == device_id:
                return device
        raise KeyError(f"node {self.node_name} has no device {device_id}")

    def capacity(self) -> ComputeTotals:
        """Totals over all devices, cordoned ones included."""
        compute = Throughput()
        vram = 0
        for device in self.devices:
            compute = compute + device.compute
            vram += device.vram.ceil()
        return ComputeTotals(
            devices=len(self.devices),
            vram=Quantity.from_value(vram, QuantityFormat.BINARY_SI),
            compute=compute,
        )


class NodePhase(enum.StrEnum):
    PENDING = "Pending"
    """Registered, no report from the agent yet."""
    READY = "Ready"
    """Reporting, and every device is healthy."""
    DEGRADED = "Degraded"
    """Reporting, with some devices sick or cordoned."""
    NOT_READY = "NotReady"
    """The agent stopped reporting (heartbeat too old) or every device is unusable."""


class DeviceAllocation(WireModel):
    """What is allocated on one device."""

    id: str = Field(min_length=1, max_length=64)
    """The device id (spec.devices[].id, `<vendor>-<index>`)."""
    vram: ByteQuantity
    """Allocated device memory in bytes."""
    compute: Throughput = Field(default_factory=Throughput)
    """Allocated throughput."""
    pods: int = Field(default=0, ge=0)
    """Number of pods holding a share of this device."""


class ComputeNodeStatus(WireModel):
    """The node's observed state."""

    phase: NodePhase = NodePhase.PENDING
    """Pending, Ready, Degraded or NotReady."""
    conditions: list[Condition] = Field(default_factory=list, json_schema_extra=LIST_MAP_BY_TYPE)
    """Ready, DevicesHealthy and the like, in Kubernetes' condition shape."""
    last_heartbeat: datetime | None = None
    """When the agent last reported."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The spec generation this status was computed from."""
    capacity: ComputeTotals | None = None
    """Totals over all devices."""
    allocatable: ComputeTotals | None = None
    """Totals over healthy, uncordoned devices, less what is allocated."""
    devices: list[DeviceAllocation] = Field(default_factory=list, json_schema_extra=LIST_MAP_BY_ID)
    """Allocations per device (devices with nothing allocated may be left out)."""


class ComputeNode(WireModel):
    """A node's accelerators: spec written by hcs-agent, status by hcs-agent and hcs-scheduler."""

    model_config = ConfigDict(title="ComputeNode")

    api_version: Literal["hcs.io/v1alpha1"] = API_VERSION
    kind: Literal["ComputeNode"] = "ComputeNode"
    metadata: ObjectMeta
    spec: ComputeNodeSpec
    status: ComputeNodeStatus | None = None

    @model_validator(mode="before")
    @classmethod
    def _qualify_legacy_status_ids(cls, data: Any) -> Any:
        """Read status.devices ids an extender before the rule wrote (bare indexes) as the spec
        devices they name."""
        return _legacy_ids.node(data)


def _reject_duplicates(what: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value} appears more than once")
        seen.add(value)
