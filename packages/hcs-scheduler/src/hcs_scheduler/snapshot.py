"""A cluster snapshot from the API: ComputeNode objects (and what is allocated on them)."""

from __future__ import annotations

from collections.abc import Iterable

from hcs_api.v1alpha1 import ComputeNode
from hcs_scheduler.cluster import Cluster, DeviceSpec, NodeSpec, build_cluster
from hcs_scheduler.topology import link_matrix


def node_from_computenode(node: ComputeNode) -> NodeSpec:
    """The NodeSpec of one ComputeNode: its devices, their health and cordons, their links."""
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
    """A snapshot of these ComputeNodes with nothing allocated (the caller applies allocations)."""
    return build_cluster([node_from_computenode(n) for n in nodes])
