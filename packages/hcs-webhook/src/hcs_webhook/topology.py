"""Whether a multi-device pod's candidate devices have a peer-to-peer path: pure, no I/O.

Collective libraries probe P2P themselves; the switches matter where the probe is wrong or
the path is missing (PCIe behind ACS or a hypervisor, which the agent records as `p2p: false`).
HCS sets them only when it knows: every candidate node of a vendor lacks any P2P pair among
that vendor's usable devices. Where some node has one, the library keeps its own choice.
"""

from __future__ import annotations

from collections.abc import Iterable

from hcs_api.names import Vendor
from hcs_api.v1alpha1 import ComputeNode, Device, LinkType

# Direct device-to-device fabrics: P2P unless the agent says otherwise.
_DIRECT = {LinkType.NVLINK, LinkType.HCCS, LinkType.XGMI}


def has_p2p(a: Device, b: Device) -> bool:
    """A link between the two that carries P2P (as recorded, or by the link's kind)."""
    for source, peer in ((a, b), (b, a)):
        for link in source.links:
            carries = link.p2p is True or (link.p2p is None and link.type in _DIRECT)
            if carries and peer.id in link.peers:
                return True
    return False


def _usable(node: ComputeNode, vendor: Vendor, model: str | None) -> list[Device]:
    return [
        d
        for d in node.spec.devices
        if d.vendor is vendor and not d.cordoned and (model is None or d.model == model)
    ]


def vendors_without_p2p(
    nodes: Iterable[ComputeNode], vendors: Iterable[Vendor], devices: int, model: str | None = None
) -> list[Vendor]:
    """Vendors among `vendors` whose every node able to give `devices` devices has no P2P pair."""
    if devices < 2:
        return []
    nodes = list(nodes)
    out = []
    for vendor in vendors:
        candidates = [_usable(n, vendor, model) for n in nodes]
        candidates = [c for c in candidates if len(c) >= devices]
        if not candidates:
            continue  # nothing known about this vendor's devices: leave the library alone
        if not any(has_p2p(a, b) for c in candidates for i, a in enumerate(c) for b in c[i + 1 :]):
            out.append(vendor)
    return out
