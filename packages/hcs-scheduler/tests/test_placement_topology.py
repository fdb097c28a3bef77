"""`hcs.io/topology: required` places a multi-device request on a fully direct-linked set."""

import numpy as np
import pytest

from hcs_api import TopologyPreference
from hcs_scheduler import (
    Allocation,
    NodeSpec,
    Placement,
    Rejection,
    build_cluster,
    place,
    uniform_request,
)
from hcs_scheduler.policies import Spread
from hcs_scheduler.request import PlacementRequest


def _required(whole):
    base = uniform_request("r", 1, whole=whole)
    return PlacementRequest(**{**base.__dict__, "topology": TopologyPreference.REQUIRED})


def _islands(make_node, name="islands"):
    # Devices 0-3 and 4-7 are direct-linked inside each group, PCIe host bridge across.
    spec = make_node(name, devices=8)
    quality = tuple(
        tuple(0 if i == j else (100 if (i < 4) == (j < 4) else 40) for j in range(8))
        for i in range(8)
    )
    return NodeSpec(
        name=name,
        devices=spec.devices,
        cpu_milli=spec.cpu_milli,
        memory_mib=spec.memory_mib,
        link_quality=quality,
    )


def _place(cluster, request):
    return place(cluster, request, Spread(), np.random.default_rng(0))


def test_required_topology_is_placed_where_every_pair_is_direct_linked(make_node):
    cluster = build_cluster([make_node("nvlink", devices=4, links=100)])
    outcome = _place(cluster, _required(2))
    assert isinstance(outcome, Placement)
    assert (outcome.node, outcome.device_ids, outcome.link_quality) == ("nvlink", ("0", "1"), 100)


def test_required_topology_takes_the_direct_linked_group_that_is_still_free(make_node):
    # Two devices of the first group are taken: three devices fully linked are only in 4-7.
    cluster = build_cluster([_islands(make_node)])
    cluster.allocate(Allocation(node=0, devices=(0, 1), share=1000, vram=0))
    outcome = _place(cluster, _required(3))
    assert isinstance(outcome, Placement)
    assert (outcome.device_ids, outcome.link_quality) == (("4", "5", "6"), 300)


@pytest.mark.parametrize(("links", "whole"), [(99, 2), (40, 4)], ids=["just-below-direct", "pcie"])
def test_required_topology_refuses_a_node_without_a_direct_linked_set(make_node, links, whole):
    cluster = build_cluster([make_node("box", devices=4, links=links)])
    outcome = _place(cluster, _required(whole))
    assert outcome == Rejection(
        (
            f"box: needs {whole} whole A100-SXM4-80G devices all directly linked "
            "(hcs.io/topology: required); no such set is free",
        )
    )


def test_required_topology_does_not_constrain_a_single_device(make_node):
    cluster = build_cluster([make_node("pcie", devices=2, links=40)])
    assert _place(cluster, _required(1)).device_ids == ("0",)


def test_required_topology_is_placed_on_the_node_that_has_the_links(make_node):
    # Spread prefers the PCIe box (more free devices); only the NVLink box can serve the request.
    cluster = build_cluster(
        [make_node("pcie-box", devices=8, links=40), make_node("nvlink-box", devices=4)]
    )
    outcome = _place(cluster, _required(2))
    assert isinstance(outcome, Placement)
    assert outcome.node == "nvlink-box"


def test_a_linked_set_is_found_where_the_strongest_set_is_not_all_direct(make_node):
    # 0-1 and 0-2 are NVLink x3 (300), 1-2 only PCIe: {0,1,2} sums highest, yet is not fully
    # direct; {3,4,5} (100 each pair) is the set a required request must get.
    spec = make_node("box", devices=6)
    strong = {(0, 1): 300, (0, 2): 300, (1, 2): 40}
    quality = tuple(
        tuple(
            0 if i == j else strong.get((min(i, j), max(i, j)), 100 if i >= 3 and j >= 3 else 40)
            for j in range(6)
        )
        for i in range(6)
    )
    box = NodeSpec(name="box", devices=spec.devices, link_quality=quality)
    outcome = _place(build_cluster([box]), _required(3))
    assert isinstance(outcome, Placement)
    assert outcome.device_ids == ("3", "4", "5")
