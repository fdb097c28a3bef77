"""PCIe scope, link bandwidth and NUMA from a sysfs tree, merged with vendor links into Links."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hcs_agent.collect import Collector
from hcs_agent.computenode import build
from hcs_agent.detect.inventory import InventoryDetector
from hcs_agent.topology import PciPlace, SysfsPci, pcie_bandwidth, pcie_scope
from hcs_api.v1alpha1 import LinkType, PcieScope
from hcs_exchange import load_database

HB0, HB1 = "pci0000:00", "pci0000:80"


def place(*chain: str, numa: int | None = 0) -> PciPlace:
    return PciPlace(chain=chain, numa_node=numa, bandwidth=None)


@pytest.mark.parametrize(
    ("a", "b", "scope"),
    [
        (
            place(HB0, "0000:00:01.0", "0000:01:00.0", "0000:02:00.0", "0000:03:00.0"),
            place(HB0, "0000:00:01.0", "0000:01:00.0", "0000:02:01.0", "0000:04:00.0"),
            PcieScope.SWITCH,
        ),
        (
            place(
                HB0,
                "0000:00:01.0",
                "0000:01:00.0",
                "0000:02:00.0",
                "0000:03:00.0",
                "0000:04:00.0",
                "0000:05:00.0",
            ),
            place(HB0, "0000:00:01.0", "0000:01:00.0", "0000:02:01.0", "0000:06:00.0"),
            PcieScope.MULTI_SWITCH,
        ),
        (
            place(HB0, "0000:00:01.0", "0000:01:00.0"),
            place(HB0, "0000:00:02.0", "0000:02:00.0"),
            PcieScope.HOST_BRIDGE,
        ),
        (
            place(HB0, "0000:00:01.0", "0000:01:00.0"),
            place(HB1, "0000:80:01.0", "0000:81:00.0"),
            PcieScope.NUMA,
        ),
        (
            place(HB0, "0000:00:01.0", "0000:01:00.0", numa=0),
            place(HB1, "0000:80:01.0", "0000:81:00.0", numa=1),
            PcieScope.SYSTEM,
        ),
    ],
    ids=[
        "same-switch-PIX",
        "switch-behind-switch-PXB",
        "host-bridge-PHB",
        "two-host-bridges-NODE",
        "two-numa-nodes-SYS",
    ],
)
def test_pcie_scope(a: PciPlace, b: PciPlace, scope: PcieScope) -> None:
    assert pcie_scope(a, b) is scope
    assert pcie_scope(b, a) is scope


@pytest.mark.parametrize(
    ("speed", "width", "bytes_per_s"),
    [
        ("16.0 GT/s PCIe", "16", 31_507_692_307),  # Gen4 x16: 16e9 x 16 x 128/130 / 8
        ("32.0 GT/s PCIe", "16", 63_015_384_615),  # Gen5 x16
        ("8 GT/s", "8", 7_876_923_076),  # Gen3 x8, older kernels print no "PCIe"
        ("2.5 GT/s PCIe", "1", 250_000_000),  # Gen1 x1, 8b/10b
        ("Unknown", "16", None),
        (None, "16", None),
    ],
    ids=["gen4-x16", "gen5-x16", "gen3-x8-old-format", "gen1-x1", "unknown-speed", "absent"],
)
def test_pcie_bandwidth(speed: str | None, width: str | None, bytes_per_s: int | None) -> None:
    assert pcie_bandwidth(speed, width) == bytes_per_s


def test_sysfs_tree_gives_chain_numa_and_link(tmp_path: Path, add_pci: Callable[..., None]) -> None:
    add_pci(tmp_path, [HB0, "0000:00:01.0", "0000:01:00.0"], numa=1, speed="32.0 GT/s PCIe")
    add_pci(tmp_path, [HB0, "0000:00:02.0", "0000:02:00.0"], numa=-1, speed=None, width=None)
    pci = SysfsPci(tmp_path)
    found = pci.place("0000:01:00.0")
    assert found is not None
    assert found.chain == (HB0, "0000:00:01.0", "0000:01:00.0")
    assert (found.numa_node, found.bandwidth) == (1, 63_015_384_615)
    assert pci.numa_node("0000:02:00.0") is None  # -1: no NUMA information (a VM, one socket)
    assert pci.place("0000:99:00.0") is None


INVENTORY = """
devices:
  - {vendor: nvidia, id: "0", uuid: GPU-0, name: NVIDIA A10, pciBusId: "0000:03:00.0"}
  - {vendor: nvidia, id: "1", uuid: GPU-1, name: NVIDIA A10, pciBusId: "0000:04:00.0"}
  - {vendor: nvidia, id: "2", uuid: GPU-2, name: NVIDIA A10, pciBusId: "0000:81:00.0"}
  - {vendor: ascend, id: "3", uuid: NPU-3, name: 910B3, pciBusId: "0000:c1:00.0",
     links: [{type: hccs, peers: ["4"], p2p: true}]}
  - {vendor: ascend, id: "4", uuid: NPU-4, name: 910B3, pciBusId: "0000:c2:00.0",
     links: [{type: hccs, peers: ["3"], p2p: true}]}
"""


def test_links_merge_vendor_links_and_pcie_scopes(
    tmp_path: Path, add_pci: Callable[..., None]
) -> None:
    switch = [HB0, "0000:00:01.0", "0000:01:00.0"]
    add_pci(tmp_path, [*switch, "0000:02:00.0", "0000:03:00.0"], numa=0)
    add_pci(tmp_path, [*switch, "0000:02:01.0", "0000:04:00.0"], numa=0, speed="8.0 GT/s PCIe")
    add_pci(tmp_path, [HB1, "0000:80:01.0", "0000:81:00.0"], numa=1)
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY)
    collection = Collector([InventoryDetector(inventory)], SysfsPci(tmp_path)).collect()
    spec = build("node-a", collection, load_database()).node.spec
    links = {(link.type, link.pcie_scope): link for link in spec.device("nvidia-0").links}
    switch_link = links[(LinkType.PCIE, PcieScope.SWITCH)]
    assert switch_link.peers == ["nvidia-1"]
    assert switch_link.bandwidth is not None
    assert int(switch_link.bandwidth.value) == 15_753_846_153  # the slower end: Gen3 x16
    assert links[(LinkType.PCIE, PcieScope.SYSTEM)].peers == ["nvidia-2"]
    (hccs,) = spec.device("ascend-3").links  # NPUs have no sysfs entry here: the HCCS link only
    assert (hccs.type, hccs.peers, hccs.p2p) == (LinkType.HCCS, ["ascend-4"], True)
    assert str(hccs.bandwidth) == "28G"  # 910B3 profile: 56 GB/s per link, both directions
