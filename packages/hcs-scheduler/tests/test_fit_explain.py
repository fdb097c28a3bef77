"""The filter reason a user reads for a node that cannot take the pod, one per branch."""

import pytest

from hcs_api import TopologyPreference
from hcs_scheduler import Allocation, NodeSpec, build_cluster, uniform_request
from hcs_scheduler.fit import explain, fits_on
from hcs_scheduler.request import PlacementRequest

GI = 1024**3


def _mixed(m):
    """Two A100s and two T4s on one node."""
    a, t4 = m("mixed", devices=2), m("mixed", model="T4", devices=2, vram=16 * GI)
    return NodeSpec(name="mixed", devices=a.devices + t4.devices)


def _with(request, **fields):
    return PlacementRequest(**{**request.__dict__, **fields})


NONE_ALLOWED = uniform_request("r", 2, share=100, allowed=[])
REQUIRED = TopologyPreference.REQUIRED

# (case, node(make_node), allocation held on it, request, the reason)
CASES = [
    (
        "cpu-exactly-free-is-not-the-reason",
        lambda m: m("t4", model="T4", devices=1, vram=16 * GI, cpu=8_000),
        None,
        uniform_request("r", 1, cpu_milli=8_000, share=100, vram=40 * GI),
        "needs 40Gi on one device; largest free here is 16Gi",
    ),
    (
        "memory-exactly-free-is-not-the-reason",
        lambda m: m("t4", model="T4", devices=1, vram=16 * GI, memory=1024),
        None,
        uniform_request("r", 1, memory_mib=1024, share=100, vram=40 * GI),
        "needs 40Gi on one device; largest free here is 16Gi",
    ),
    (
        "memory-short",
        lambda m: m("a", devices=1, memory=1024),
        None,
        uniform_request("r", 1, memory_mib=1025, share=100),
        "needs 1025Mi memory; 1024Mi free",
    ),
    (
        "no-devices",
        lambda m: m("bare", devices=0),
        None,
        uniform_request("r", 1, share=100),
        "has no accelerators",
    ),
    (
        "each-of-the-node-s-models-ruled-out-with-its-reason",
        _mixed,
        None,
        _with(NONE_ALLOWED, reasons=("A100-SXM4-80G: lacks fp64", "H100: n/a", "T4: lacks fp64")),
        "A100-SXM4-80G: lacks fp64; T4: lacks fp64",
    ),
    (
        "the-node-s-models-ruled-out-without-a-reason",
        _mixed,
        None,
        NONE_ALLOWED,
        "its models (A100-SXM4-80G, T4) cannot serve the request",
    ),
    (
        "every-device-cordoned-or-sick",
        lambda m: m("c", devices=2, cordoned=(0,), health=(100, 10)),
        None,
        uniform_request("r", 1, share=100),
        "every device is cordoned or unhealthy",
    ),
    (
        "required-topology-but-too-few-devices-at-all",
        lambda m: m("a", devices=2),
        None,
        _with(uniform_request("r", 1, whole=4), topology=REQUIRED),
        "needs 4 whole A100-SXM4-80G devices; 2 free",
    ),
    (
        "required-topology-and-enough-devices-but-not-linked",
        lambda m: m("pcie", devices=2, links=40),
        None,
        _with(uniform_request("r", 1, whole=2), topology=REQUIRED),
        "needs 2 whole A100-SXM4-80G devices all directly linked (hcs.io/topology: required); "
        "no such set is free",
    ),
    (
        "vram-exactly-free-so-the-share-is-the-reason",
        lambda m: m("a", devices=1),
        Allocation(0, (0,), share=600, vram=0),
        uniform_request("r", 1, share=500, vram=80 * GI),
        "needs 50% of one device; most free here is 40%",
    ),
]


@pytest.mark.parametrize(
    ("node", "held", "request_", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_explain_names_what_the_node_lacks(make_node, node, held, request_, reason):
    cluster = build_cluster([node(make_node)])
    if held is not None:
        cluster.allocate(held)
    assert not fits_on(cluster, request_, 0)
    assert explain(cluster, request_, 0) == reason
