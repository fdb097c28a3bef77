"""fits_on (the simulator's one-node check) and device_fit answer alike, at every boundary."""

import numpy as np
import pytest

from hcs_api import TopologyPreference
from hcs_scheduler import Allocation, NodeSpec, build_cluster, uniform_request
from hcs_scheduler.fit import device_fit, explain, fits_on
from hcs_scheduler.request import PlacementRequest

GI = 1024**3
A100, T4 = 0, 1
"""Model indices in a cluster holding both (models are sorted by name)."""


def _mixed(make_node, name):
    """A node with two A100s and two T4s (the general fit path, not the one-model one)."""
    a, t4 = make_node(name, devices=2), make_node(name, model="T4", devices=2, vram=16 * GI)
    return NodeSpec(name=name, devices=a.devices + t4.devices)


def _per_model(whole: tuple[int, int]) -> PlacementRequest:
    """Whole devices per model (A100, T4): a request whose plan differs by model."""
    request = uniform_request("per-model", 2, whole=1)
    request.whole[:] = whole
    return request


def _required(whole: int) -> PlacementRequest:
    """Whole devices that must all be directly linked (hcs.io/topology: required)."""
    base = uniform_request("required", 1, whole=whole)
    return PlacementRequest(**{**base.__dict__, "topology": TopologyPreference.REQUIRED})


# (case, nodes(make_node), allocations, request, names of the nodes that fit)
CASES = [
    (
        "cpu-exactly-free",
        lambda m: [m("a", devices=1, cpu=8_000)],
        [],
        uniform_request("r", 1, cpu_milli=8_000, share=100),
        ["a"],
    ),
    (
        "memory-exactly-free",
        lambda m: [m("a", devices=1, memory=1024)],
        [],
        uniform_request("r", 1, memory_mib=1024, share=100),
        ["a"],
    ),
    (
        "one-milli-cpu-short",
        lambda m: [m("a", devices=1, cpu=8_000)],
        [],
        uniform_request("r", 1, cpu_milli=8_001, share=100),
        [],
    ),
    (
        "cpu-only-on-any-node",
        lambda m: [m("a", devices=1), m("none", devices=0)],
        [],
        uniform_request("r", 1, cpu_milli=1_000),
        ["a", "none"],
    ),
    (
        "device-request-skips-a-node-without-devices",
        lambda m: [m("a", devices=1), m("none", devices=0)],
        [],
        uniform_request("r", 1, share=100),
        ["a"],
    ),
    (
        "share-exactly-a-whole-device",
        lambda m: [m("a", devices=1)],
        [],
        uniform_request("r", 1, share=1000),
        ["a"],
    ),
    (
        "share-exactly-what-is-left",
        lambda m: [m("a", devices=1), m("b", devices=1)],
        [Allocation(0, (0,), share=600, vram=GI), Allocation(1, (0,), share=601, vram=GI)],
        uniform_request("r", 1, share=400),
        ["a"],
    ),
    (
        "vram-exactly-the-device",
        lambda m: [m("a", devices=1)],
        [],
        uniform_request("r", 1, share=100, vram=80 * GI),
        ["a"],
    ),
    (
        "vram-over-the-device",
        lambda m: [m("a", devices=2)],
        [],
        uniform_request("r", 1, share=100, vram=80 * GI + 1),
        [],
    ),
    (
        "shorter-node-padded-slots",
        lambda m: [m("a", devices=2), m("b", devices=4)],
        [],
        uniform_request("r", 1, share=100),
        ["a", "b"],
    ),
    (
        "share-only-on-the-allowed-model",
        lambda m: [m("a", devices=2), m("t4", model="T4", devices=2, vram=16 * GI)],
        [],
        uniform_request("r", 2, share=100, allowed=[T4]),
        ["t4"],
    ),
    (
        "share-never-on-cordoned-or-sick",
        lambda m: [m("c", devices=2, cordoned=(0,), health=(100, 10))],
        [],
        uniform_request("r", 1, share=100),
        [],
    ),
    (
        "one-whole",
        lambda m: [m("a", devices=1)],
        [],
        uniform_request("r", 1, whole=1),
        ["a"],
    ),
    (
        "two-whole-exactly-two-devices",
        lambda m: [m("a", devices=2), m("b", devices=1)],
        [],
        uniform_request("r", 1, whole=2),
        ["a"],
    ),
    (
        "whole-skips-a-cordoned-device",
        lambda m: [m("a", devices=2, cordoned=(1,))],
        [],
        uniform_request("r", 1, whole=2),
        [],
    ),
    (
        "whole-skips-a-device-with-a-share-taken",
        lambda m: [m("a", devices=2)],
        [Allocation(0, (1,), share=100, vram=GI)],
        uniform_request("r", 1, whole=2),
        [],
    ),
    (
        "whole-skips-a-device-with-only-compute-taken",
        lambda m: [m("a", devices=1)],
        [Allocation(0, (0,), share=300, vram=0)],
        uniform_request("r", 1, whole=1),
        [],
    ),
    (
        "whole-needs-a-device-holding-its-vram",
        lambda m: [m("a", devices=1, vram=16 * GI), m("b", devices=1)],
        [],
        uniform_request("r", 1, whole=1, vram=40 * GI),
        ["b"],
    ),
    (
        "whole-vram-exactly-the-device",
        lambda m: [m("a", devices=1, vram=16 * GI), m("b", devices=1)],
        [],
        uniform_request("r", 1, whole=1, vram=16 * GI),
        ["a", "b"],
    ),
    (
        "whole-skips-a-device-with-only-vram-taken",
        lambda m: [m("a", devices=1)],
        [Allocation(0, (0,), share=0, vram=GI)],
        uniform_request("r", 1, whole=1),
        [],
    ),
    (
        "mixed-node-whole-of-one-model",
        lambda m: [_mixed(m, "mixed"), m("t4", model="T4", devices=2, vram=16 * GI)],
        [],
        uniform_request("r", 2, whole=2),
        ["mixed", "t4"],
    ),
    (
        "mixed-node-three-whole-spans-no-model",
        lambda m: [_mixed(m, "mixed"), m("t4", model="T4", devices=3, vram=16 * GI)],
        [Allocation(0, (0,), share=100, vram=GI)],
        uniform_request("r", 2, whole=3),
        ["t4"],
    ),
    (
        "mixed-cluster-one-whole-on-a-single-model-node",
        lambda m: [_mixed(m, "mixed"), m("t4", model="T4", devices=1, vram=16 * GI)],
        [],
        uniform_request("r", 2, whole=1),
        ["mixed", "t4"],
    ),
    (
        "mixed-cluster-whole-count-of-each-nodes-model",
        lambda m: [_mixed(m, "mixed"), m("t4", model="T4", devices=2, vram=16 * GI)],
        [],
        _per_model((1, 4)),
        ["mixed"],
    ),
    (
        "required-two-whole-directly-linked",
        lambda m: [m("nvlink", devices=2, links=100), m("pcie", devices=2, links=40)],
        [],
        _required(2),
        ["nvlink"],
    ),
    (
        "required-one-whole-needs-no-link",
        lambda m: [m("pcie", devices=2, links=40)],
        [],
        _required(1),
        ["pcie"],
    ),
    (
        "only-mixed-nodes",
        lambda m: [_mixed(m, "mixed")],
        [],
        uniform_request("r", 2, whole=2, allowed=[T4]),
        ["mixed"],
    ),
    (
        "mixed-cluster-share-exactly-what-is-left",
        lambda m: [_mixed(m, "x"), _mixed(m, "y")],
        [Allocation(0, (0, 1), share=600, vram=GI), Allocation(1, (0, 1), share=601, vram=GI)],
        uniform_request("r", 2, share=400, allowed=[A100]),
        ["x"],
    ),
    (
        "mixed-cluster-whole-vram-exactly-the-device",
        lambda m: [_mixed(m, "mixed")],
        [],
        uniform_request("r", 2, whole=1, vram=16 * GI, allowed=[T4]),
        ["mixed"],
    ),
    (
        "mixed-cluster-host-short-despite-free-devices",
        lambda m: [_mixed(m, "mixed"), NodeSpec("small", m("s", devices=1).devices, cpu_milli=1)],
        [],
        uniform_request("r", 2, share=100, cpu_milli=2),
        ["mixed"],
    ),
    (
        "mixed-cluster-share-on-the-allowed-model",
        lambda m: [_mixed(m, "mixed"), m("a", devices=2)],
        [Allocation(0, (2, 3), share=1000, vram=GI)],
        uniform_request("r", 2, share=100, allowed=[T4]),
        [],
    ),
]


@pytest.mark.parametrize(
    ("nodes", "allocations", "request_", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_fits_on_and_device_fit_name_the_same_nodes(
    make_node, nodes, allocations, request_, expected
):
    cluster = build_cluster(nodes(make_node))
    for allocation in allocations:
        cluster.allocate(allocation)
    names = [n.name for n in cluster.nodes]
    one_by_one = [names[n] for n in range(cluster.size) if fits_on(cluster, request_, n)]
    assert one_by_one == expected
    assert [names[n] for n in np.flatnonzero(device_fit(cluster, request_).nodes)] == expected


def test_explain_does_not_count_a_device_holding_vram_as_free_for_whole_devices(make_node):
    cluster = build_cluster([make_node("a", devices=1)])
    cluster.allocate(Allocation(0, (0,), share=0, vram=70 * GI))  # a VRAM-only pod's booking
    request = uniform_request("r", 1, whole=1)
    assert not fits_on(cluster, request, 0)
    assert explain(cluster, request, 0) == "needs 1 whole A100-SXM4-80G devices; 0 free"
