"""Every field of the Placement the extender writes onto the pod is set, and set right."""

import numpy as np
import pytest

from hcs_scheduler import (
    Allocation,
    NodeSpec,
    Placement,
    build_cluster,
    node_scores,
    place,
    uniform_request,
)
from hcs_scheduler.policies import Spread
from hcs_scheduler.request import PlacementRequest

GI = 1024**3
A100 = ("A100-SXM4-80G", "nvidia")


def _downgraded(request: PlacementRequest) -> PlacementRequest:
    """The request as resolved when the user consented to less throughput on every model."""
    return PlacementRequest(**{**request.__dict__, "downgraded": np.ones(1, dtype=bool)})


# (case, nodes(make_node), allocations already held, request, expected Placement)
CASES = [
    (
        "share-on-the-fullest-device-that-fits",
        lambda m: [m("n1", devices=2)],
        [Allocation(0, (1,), share=300, vram=10 * GI)],
        uniform_request("r", 1, share=250, vram=10 * GI, cpu_milli=2_000, memory_mib=4096),
        Placement(Allocation(0, (1,), 250, 10 * GI, 2_000, 4096), "n1", *A100, ("1",), 0, False),
    ),
    (
        "one-whole-device-takes-all-its-vram",
        lambda m: [m("n1", devices=2)],
        [],
        uniform_request("r", 1, whole=1, vram=GI, cpu_milli=500, memory_mib=64),
        Placement(Allocation(0, (0,), 1000, 80 * GI, 500, 64), "n1", *A100, ("0",), 0, False),
    ),
    (
        "two-whole-devices-sum-their-links",
        lambda m: [m("n1", devices=2, links=100)],
        [],
        uniform_request("r", 1, whole=2),
        Placement(Allocation(0, (0, 1), 1000, 80 * GI, 0, 0), "n1", *A100, ("0", "1"), 100, False),
    ),
    (
        "cpu-only-on-a-node-without-devices",
        lambda m: [m("gpu", devices=1, cpu=1_000), m("bare", devices=0)],
        [],
        _downgraded(uniform_request("r", 1, cpu_milli=2_000, memory_mib=128)),
        Placement(Allocation(1, (), 0, 0, 2_000, 128), "bare", "", "", (), 0, False),
    ),
    (
        "one-device-has-no-link-quality-even-if-listed-as-its-own-peer",
        lambda m: [NodeSpec("n1", m("n1", devices=1).devices, link_quality=((100,),))],
        [],
        uniform_request("r", 1, whole=1),
        Placement(Allocation(0, (0,), 1000, 80 * GI, 0, 0), "n1", *A100, ("0",), 0, False),
    ),
    (
        "a-share-the-user-consented-to-downgrade",
        lambda m: [m("n1", devices=1)],
        [],
        _downgraded(uniform_request("r", 1, share=600, vram=GI)),
        Placement(Allocation(0, (0,), 600, GI, 0, 0), "n1", *A100, ("0",), 0, True),
    ),
]


@pytest.mark.parametrize(
    ("nodes", "held", "request_", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_placement_fields_are_what_the_extender_writes(make_node, nodes, held, request_, expected):
    cluster = build_cluster(nodes(make_node))
    for allocation in held:
        cluster.allocate(allocation)
    assert place(cluster, request_, Spread(), np.random.default_rng(0)) == expected


def test_a_placement_without_devices_is_never_downgraded(make_node):
    # The request's plan is marked downgraded for the A100, but a CPU-only pod gets no device.
    cluster = build_cluster([make_node("gpu", devices=1)])
    request = _downgraded(uniform_request("r", 1, cpu_milli=1_000))
    outcome = place(cluster, request, Spread(), np.random.default_rng(0))
    assert (outcome.allocation.devices, outcome.downgraded) == ((), False)


def test_node_scores_are_empty_when_no_node_fits(make_node):
    cluster = build_cluster([make_node("small", devices=1, cpu=1_000)])
    request = uniform_request("r", 1, share=100, cpu_milli=2_000)
    assert node_scores(cluster, request, Spread(), np.random.default_rng(0)) == {}
