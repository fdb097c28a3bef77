"""A placement names node, model, vendor and device ids; a rejection says why in plain words."""

import numpy as np
import pytest
import yaml

from hcs_api import TopologyPreference, parse_resource
from hcs_scheduler import (
    PolicyFactory,
    Rejection,
    WorkloadMix,
    build_cluster,
    cluster_from_computenodes,
    place,
    uniform_request,
)
from hcs_scheduler.request import PlacementRequest

GI = 1024**3


def _factory(cluster):
    return PolicyFactory(
        WorkloadMix.from_requests([uniform_request("m", len(cluster.models), share=500)]), cluster
    )


def test_placement_carries_what_the_extender_writes(make_node):
    cluster = build_cluster([make_node("n1", devices=2)])
    outcome = place(
        cluster,
        uniform_request("r", 1, share=250, vram=10 * GI),
        _factory(cluster).make("default"),
        np.random.default_rng(0),
    )
    assert (outcome.node, outcome.model, outcome.vendor) == ("n1", "A100-SXM4-80G", "nvidia")
    assert outcome.device_ids in (("0",), ("1",))
    assert (outcome.allocation.share, outcome.allocation.vram) == (250, 10 * GI)


def test_whole_devices_take_all_their_vram_and_the_best_links(make_node):
    node = make_node("n1", devices=8)
    quality = [
        [0 if i == j else (100 if (i < 4) == (j < 4) else 10) for j in range(8)] for i in range(8)
    ]
    node = type(node)(
        name="n1",
        devices=node.devices,
        cpu_milli=node.cpu_milli,
        memory_mib=node.memory_mib,
        link_quality=tuple(tuple(r) for r in quality),
    )
    cluster = build_cluster([node])
    outcome = place(
        cluster,
        uniform_request("r", 1, whole=4),
        _factory(cluster).make("default"),
        np.random.default_rng(0),
    )
    assert outcome.device_ids == ("0", "1", "2", "3")
    assert outcome.allocation.vram == 80 * GI
    assert outcome.link_quality == 6 * 100


def test_required_topology_refuses_a_set_without_direct_links(make_node):
    cluster = build_cluster([make_node("pcie-box", devices=4, links=40)])
    base = uniform_request("r", 1, whole=2)
    strict = PlacementRequest(**{**base.__dict__, "topology": TopologyPreference.REQUIRED})
    outcome = place(cluster, strict, _factory(cluster).make("default"), np.random.default_rng(0))
    assert isinstance(outcome, Rejection)
    assert outcome.reasons == (
        "pcie-box: needs 2 whole A100-SXM4-80G devices all directly linked "
        "(hcs.io/topology: required); no such set is free",
    )


def test_rejection_explains_per_node(make_node):
    cluster = build_cluster([make_node("t4-a", model="T4", devices=2, vram=16 * GI)])
    outcome = place(
        cluster,
        uniform_request("r", 1, share=100, vram=40 * GI),
        _factory(cluster).make("default"),
        np.random.default_rng(0),
    )
    assert outcome.reasons == ("t4-a: needs 40Gi on one device; largest free here is 16Gi",)


def test_snapshot_from_a_computenode(repo_root):
    document = yaml.safe_load(
        (repo_root / "deploy" / "examples" / "computenode-h100.yaml").read_text()
    )
    cluster = cluster_from_computenodes([parse_resource(document)])
    assert cluster.models == ["H100-SXM5-80G"]
    assert (
        cluster.dev_usable[0].tolist() == [True] * 5 + [False] + [True] * 2
    )  # device 5 is cordoned
    assert int(cluster.link[0, 0, 1]) == 100
    # status.devices says device 0 holds 40Gi and 400 of its 989.5 FP16 TFLOPS.
    assert int(cluster.dev_share_free[0, 0]) == 1000 - 405
    assert int(cluster.dev_vram_free[0, 0]) == (81559 - 40 * 1024) * 2**20
    outcome = place(
        cluster,
        uniform_request("r", 1, whole=8),
        _factory(cluster).make("default"),
        np.random.default_rng(0),
    )
    assert isinstance(outcome, Rejection)
    assert outcome.reasons == ("gpu-h100-01: needs 8 whole H100-SXM5-80G devices; 6 free",)


@pytest.fixture
def repo_root():
    from pathlib import Path

    return Path(__file__).absolute().parents[3]
