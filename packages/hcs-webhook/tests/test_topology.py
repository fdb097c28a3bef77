"""Peer-to-peer switches: set only when every candidate node of a vendor has no P2P pair."""

from hcs_api.names import Vendor
from hcs_api.v1alpha1 import ComputeNode
from hcs_webhook.topology import vendors_without_p2p


def node(name, vendor="nvidia", model="H100-SXM5-80G", devices=4, link=None):
    items = []
    for i in range(devices):
        device = {
            "id": f"{vendor}-{i}",
            "uuid": f"{name}-{i}",
            "vendor": vendor,
            "model": model,
            "vram": "80Gi",
        }
        peers = [f"{vendor}-{j}" for j in range(devices) if j != i]
        if link and peers:
            device["links"] = [{"peers": peers, **link}]
        items.append(device)
    return ComputeNode.model_validate(
        {
            "metadata": {"name": name},
            "spec": {"nodeName": name, "vendors": [vendor], "devices": items},
        }
    )


PCIE_NO_P2P = {"type": "pcie", "p2p": False}


def test_single_device_pods_need_no_switch():
    assert vendors_without_p2p([node("a", link=PCIE_NO_P2P)], [Vendor.NVIDIA], 1) == []


def test_every_node_without_p2p_sets_the_switch():
    nodes = [node("a", link=PCIE_NO_P2P), node("b")]
    assert vendors_without_p2p(nodes, [Vendor.NVIDIA], 2) == [Vendor.NVIDIA]


def test_one_node_with_nvlink_leaves_the_library_its_choice():
    nodes = [node("a", link=PCIE_NO_P2P), node("b", link={"type": "nvlink"})]
    assert vendors_without_p2p(nodes, [Vendor.NVIDIA], 2) == []


def test_pcie_marked_p2p_counts_and_unknown_vendors_are_left_alone():
    nodes = [node("a", link={"type": "pcie", "p2p": True})]
    assert vendors_without_p2p(nodes, [Vendor.NVIDIA, Vendor.ASCEND], 2) == []
    hccs_off = node("n", vendor="ascend", model="Ascend-910B3", link={"type": "hccs", "p2p": False})
    assert vendors_without_p2p([hccs_off], [Vendor.ASCEND], 2) == [Vendor.ASCEND]


def test_nodes_too_small_for_the_pod_are_not_candidates():
    nodes = [
        node("small", devices=2, link=PCIE_NO_P2P),
        node("big", devices=8, link={"type": "nvlink"}),
    ]
    assert vendors_without_p2p(nodes, [Vendor.NVIDIA], 4) == []
    assert vendors_without_p2p(nodes[:1], [Vendor.NVIDIA], 4) == []
