"""The PCIe tree and NUMA placement from sysfs, and how far apart two devices sit on it.

sysfs layout (Linux Documentation/ABI/testing/sysfs-bus-pci): /sys/bus/pci/devices/<address> is
a link into /sys/devices/pci<domain>:<bus>/<root port>/.../<address>, so the resolved path lists
the bridges between the host bridge and the device; `numa_node` holds the node or -1;
`current_link_speed` ("16.0 GT/s PCIe") and `current_link_width` ("16") give the link.
Every reader takes a root, so tests point it at a fixture tree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hcs_api.v1alpha1 import PcieScope

PCI_DEVICES = Path("sys/bus/pci/devices")


@dataclass(frozen=True)
class PciPlace:
    """Where one device sits: its host bridge and bridges (outermost first), NUMA node, link."""

    chain: tuple[str, ...]
    numa_node: int | None
    bandwidth: int | None
    """Bytes per second, one direction, of the device's own PCIe link."""


class SysfsPci:
    """Reads PCI placement under `root` (/ in production)."""

    def __init__(self, root: Path = Path("/")) -> None:
        self._root = root

    def place(self, bus_id: str) -> PciPlace | None:
        """None when the device is not in sysfs (a container without /sys, a fixture without it)."""
        link = self._root / PCI_DEVICES / bus_id
        if not link.exists():
            return None
        parts = Path(os.path.realpath(link)).parts
        start = next((i for i, part in enumerate(parts) if part.startswith("pci")), None)
        chain = tuple(parts[start:]) if start is not None else (bus_id,)
        return PciPlace(
            chain=chain,
            numa_node=self.numa_node(bus_id),
            bandwidth=pcie_bandwidth(
                _read(link / "current_link_speed"), _read(link / "current_link_width")
            ),
        )

    def numa_node(self, bus_id: str) -> int | None:
        text = _read(self._root / PCI_DEVICES / bus_id / "numa_node")
        if text is None or not text.lstrip("-").isdigit():
            return None
        value = int(text)
        return value if value >= 0 else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def pcie_bandwidth(speed: str | None, width: str | None) -> int | None:
    """Bytes/s in one direction: GT/s x lanes x line-code efficiency / 8 bits.

    PCIe 1.x and 2.x (2.5, 5 GT/s) use 8b/10b, 3.0 to 5.0 (8, 16, 32 GT/s) 128b/130b (PCI-SIG
    specifications); 6.0's FLIT mode is counted as 128b/130b too, a small overestimate.
    """
    if not speed or not width or not width.isdigit():
        return None
    try:
        rate = float(speed.split()[0])
    except ValueError:
        return None
    efficiency = 8 / 10 if rate <= 5 else 128 / 130
    return int(rate * 1e9 * int(width) * efficiency / 8)


def pcie_scope(a: PciPlace, b: PciPlace) -> PcieScope:
    """nvidia-smi topo's PIX/PXB/PHB/NODE/SYS for two devices, from their sysfs chains.

    Different NUMA nodes: SYS. Different host bridges: NODE. Sharing only the host bridge (or
    its root port): PHB. Otherwise the bridges below the deepest shared one decide: each
    device one downstream port away is one switch (PIX), deeper is several (PXB).
    """
    if a.numa_node != b.numa_node:
        return PcieScope.SYSTEM
    if a.chain[0] != b.chain[0]:
        return PcieScope.NUMA
    shared = 0
    for left, right in zip(a.chain[:-1], b.chain[:-1], strict=False):
        if left != right:
            break
        shared += 1
    if shared <= 2:  # the host bridge, and at most its root port
        return PcieScope.HOST_BRIDGE
    below = max(len(a.chain) - shared, len(b.chain) - shared)
    return PcieScope.SWITCH if below <= 2 else PcieScope.MULTI_SWITCH
