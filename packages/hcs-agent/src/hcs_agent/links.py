"""Per-device links: vendor links (NVLink, HCCS, xGMI) from the detectors, PCIe from sysfs. Pure.

A peer joined by a vendor link gets that link only (nvidia-smi topo shows NV# rather than the
PCIe path for such pairs); every other device of the same vendor gets a PCIe link with its
scope. Detectors name peers by the vendor's own index; links name them by device id
(`<vendor>-<index>`, the peer being of the device's own vendor), as the ComputeNode does.
Bandwidth is bytes/s in one direction:
- vendor links: links to the peer x the profile's per-link figure, halved where the profile
  states it bidirectionally; unknown where the profile does not say;
- PCIe: the slower of the two devices' own links (the path may be slower still; sysfs shows
  only the endpoints).
"""

from __future__ import annotations

from decimal import Decimal

from hcs_agent.model import DeviceInfo, PeerLink
from hcs_agent.topology import PciPlace, pcie_scope
from hcs_api import HcsApiError, Quantity, QuantityFormat
from hcs_api.names import device_id
from hcs_api.v1alpha1 import Link, LinkType, PcieScope
from hcs_exchange import Profile


def device_links(
    info: DeviceInfo,
    infos: list[DeviceInfo],
    profiles: dict[str, Profile | None],
    places: dict[str, PciPlace],
) -> list[Link]:
    """`info`'s links; `profiles` is by device id."""
    Key = tuple[LinkType, int | None, bool | None, PcieScope | None]
    grouped: dict[Key, list[str]] = {}
    linked = set()
    for peer in info.links:
        if peer.peer == info.index:
            continue
        linked.add(peer.peer)
        profile = profiles.get(device_id(info.vendor, info.index))
        key: Key = (peer.type, _vendor_bandwidth(peer, profile), peer.p2p, None)
        grouped.setdefault(key, []).append(peer.peer)
    here = places.get(info.pci_bus_id or "")
    for other in infos:
        if other.index in linked or other.index == info.index or other.vendor != info.vendor:
            continue
        there = places.get(other.pci_bus_id or "")
        if here is None or there is None:
            continue
        speeds = [b for b in (here.bandwidth, there.bandwidth) if b is not None]
        key = (LinkType.PCIE, min(speeds) if speeds else None, None, pcie_scope(here, there))
        grouped.setdefault(key, []).append(other.index)
    links = []
    for (kind, bandwidth, p2p, scope), indexes in grouped.items():
        peers = _peer_ids(info.vendor, indexes)
        if peers:
            links.append(
                Link(
                    type=kind,
                    peers=peers,
                    bandwidth=None if bandwidth is None else _bytes(bandwidth),
                    pcie_scope=scope,
                    p2p=p2p,
                )
            )
    return links


def _peer_ids(vendor: str, indexes: list[str]) -> list[str]:
    """Peers' device ids; an index no id can be made of names no reported device, so it goes
    (the builder leaves that device out and says why)."""
    out = []
    for index in indexes:
        try:
            out.append(device_id(vendor, index))
        except HcsApiError:
            continue
    return out


def _vendor_bandwidth(peer: PeerLink, profile: Profile | None) -> int | None:
    interconnect = profile.interconnect if profile else None
    if interconnect is None or interconnect.type.value != peer.type.value:
        return None
    per_link = interconnect.link_bandwidth_gbps
    if per_link is None and interconnect.total_bandwidth_gbps and interconnect.links:
        per_link = interconnect.total_bandwidth_gbps / interconnect.links
    if per_link is None or interconnect.direction == "unknown":
        return None
    one_way = per_link / 2 if interconnect.direction == "bidirectional" else per_link
    return int(one_way * Decimal(10**9)) * peer.links


def _bytes(value: int) -> Quantity:
    return Quantity.from_value(value, QuantityFormat.DECIMAL_SI)
