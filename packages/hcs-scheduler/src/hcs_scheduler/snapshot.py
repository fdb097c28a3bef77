"""A cluster snapshot from the API: ComputeNode objects (and what is allocated on them)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from hcs_api.v1alpha1 import ComputeNode
from hcs_scheduler.cluster import (
    FULL_SHARE,
    Allocation,
    Cluster,
    DeviceSpec,
    NodeSpec,
    build_cluster,
)
from hcs_scheduler.topology import link_matrix


def node_from_computenode(node: ComputeNode) -> NodeSpec:
    """The NodeSpec of one ComputeNode: its devices (by vendor-qualified id, as placements and
    allocations name them), their health and cordons, their links."""
    devices = tuple(
        DeviceSpec(
            id=device.id,
            model=device.model,
            vendor=str(device.vendor),
            vram=device.vram.ceil(),
            health=device.health,
            cordoned=device.cordoned,
            numa_node=device.numa_node,
        )
        for device in node.spec.devices
    )
    return NodeSpec(name=node.spec.node_name, devices=devices, link_quality=link_matrix(node.spec))


def cluster_from_computenodes(nodes: Iterable[ComputeNode]) -> Cluster:
    """A snapshot of these ComputeNodes, with what their status says is allocated applied."""
    listed = list(nodes)
    cluster = build_cluster([node_from_computenode(n) for n in listed])
    for index, node in enumerate(listed):
        for allocation in _status_allocations(node, index):
            cluster.allocate(allocation)
    return cluster


def _status_allocations(node: ComputeNode, index: int) -> list[Allocation]:
    """status.devices as allocations: VRAM as reported, compute share from the throughput
    allocated over the device's own (the first precision both state)."""
    if node.status is None:
        return []
    slots = {device.id: slot for slot, device in enumerate(node.spec.devices)}
    allocations = []
    for used in node.status.devices:
        if used.id not in slots:
            continue  # a device the spec no longer lists: nothing to hold
        device = node.spec.devices[slots[used.id]]
        share = 0
        for precision in ("fp16", "bf16", "fp32", "int8"):
            taken, total = getattr(used.compute, precision), getattr(device.compute, precision)
            if taken is not None and total:
                share = min(FULL_SHARE, math.ceil(taken.value / total.value * FULL_SHARE))
                break
        allocations.append(Allocation(index, (slots[used.id],), share, used.vram.ceil()))
    return allocations
