"""The KFD topology in sysfs (/sys/class/kfd/kfd/topology/nodes/N/properties): `name value` lines.

Written by the amdkfd driver (Linux drivers/gpu/drm/amd/amdkfd/kfd_topology.c), which Hygon's DCU
driver inherits. A discrete accelerator is a node with SIMDs and no CPU cores; `location_id`
packs the PCI bus (high byte) and device/function (low byte); `domain` is the PCI domain (absent
on old kernels, where it is 0).
"""

from __future__ import annotations

from dataclasses import dataclass

from hcs_agent.errors import ParseError


def parse_properties(text: str) -> dict[str, int]:
    """Every `name value` line of a properties file, values as integers."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if len(words) != 2:
            raise ParseError(f"kfd properties: expected 'name value', got {line!r}")
        try:
            values[words[0]] = int(words[1])
        except ValueError:
            raise ParseError(f"kfd properties: {words[0]} is not a number: {words[1]!r}") from None
    return values


@dataclass(frozen=True)
class KfdNode:
    node: int
    vendor_id: int
    device_id: int
    pci_bus_id: str
    unique_id: int | None
    simd_count: int


def gpu_node(node: int, properties: dict[str, int]) -> KfdNode | None:
    """The accelerator a node describes; None for CPU nodes and APUs (CPU cores and SIMDs)."""
    if properties.get("simd_count", 0) == 0 or properties.get("cpu_cores_count", 0) > 0:
        return None
    for key in ("vendor_id", "device_id", "location_id"):
        if key not in properties:
            raise ParseError(f"kfd node {node}: no {key}")
    location = properties["location_id"]
    bus, device, function = location >> 8, (location >> 3) & 0x1F, location & 0x7
    return KfdNode(
        node=node,
        vendor_id=properties["vendor_id"],
        device_id=properties["device_id"],
        pci_bus_id=f"{properties.get('domain', 0):04x}:{bus:02x}:{device:02x}.{function}",
        unique_id=properties.get("unique_id") or None,
        simd_count=properties["simd_count"],
    )
