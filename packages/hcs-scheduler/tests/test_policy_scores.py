"""Each baseline policy's score, exactly as its formula gives it, on clusters small enough to
compute by hand (binary fractions, so the floats are exact)."""

import numpy as np
import pytest

from hcs_scheduler import Allocation, NodeSpec, build_cluster, uniform_request
from hcs_scheduler.cluster import UNLIMITED
from hcs_scheduler.placement import score_nodes
from hcs_scheduler.policies import (
    BestFit,
    Binpack,
    DotProduct,
    GpuClustering,
    GpuPacking,
    Health,
    Spread,
    Weighted,
    normalise,
)
from hcs_scheduler.request import PlacementRequest


def _scores(cluster, request, policy):
    _, scored = score_nodes(cluster, request, policy, np.random.default_rng(0))
    return scored.scores.tolist()


def _limited_and_unlimited(make_node):
    # "limited": 4 devices, 64 cores; "unlimited": 2 devices, no CPU or memory limit.
    return build_cluster(
        [
            make_node("limited", devices=4, cpu=64_000, memory=1024),
            make_node("unlimited", devices=2, cpu=UNLIMITED, memory=UNLIMITED),
        ]
    )


HALF_WITH_CPU = uniform_request("r", 1, share=500, cpu_milli=16_000, memory_mib=256)

FREE_AFTER = [
    # (case, policy, expected scores of limited, unlimited): free devices after are 3.5, 1.5
    # best-fit: -(free CPU after / 128 cores + free devices after / 8); no CPU limit: no CPU term
    ("best-fit", BestFit(), [-(48_000 / 128_000 + 3.5 / 8), -(1.5 / 8)]),
    ("binpack", Binpack(), [-3.5, -1.5]),
    ("spread", Spread(), [3.5, 1.5]),
]


@pytest.mark.parametrize(
    ("policy", "expected"), [c[1:] for c in FREE_AFTER], ids=[c[0] for c in FREE_AFTER]
)
def test_free_resource_policies_score_what_is_left_after_the_placement(make_node, policy, expected):
    assert _scores(_limited_and_unlimited(make_node), HALF_WITH_CPU, policy) == expected


def test_dot_product_of_normalised_free_resources_and_demand(make_node):
    # limited: 2 devices, 64 cores, 1024 MiB; one device node without CPU or memory limits.
    cluster = build_cluster(
        [
            make_node("limited", devices=2, cpu=64_000, memory=1024),
            make_node("unlimited", devices=1, cpu=UNLIMITED, memory=UNLIMITED),
        ]
    )
    # limited: devices 2/2 x 0.5/2 + CPU 1 x 16/64 + memory 1 x 256/1024 = 0.75
    # unlimited: devices 1/1 x 0.5/1, and nothing for the resources without a limit
    assert _scores(cluster, HALF_WITH_CPU, DotProduct()) == [-0.75, -0.5]


def test_gpu_packing_tiers_shared_device_then_used_node_then_idle(make_node):
    cluster = build_cluster([make_node(n, devices=2) for n in ("idle", "whole-used", "shared")])
    cluster.allocate(Allocation(node=1, devices=(0,), share=1000, vram=0))
    cluster.allocate(Allocation(node=2, devices=(0,), share=300, vram=0))
    request = uniform_request("r", 1, share=300)
    assert _scores(cluster, request, GpuPacking()) == [0.0, 1.0, 2.0]


def test_gpu_clustering_counts_placements_of_the_same_share(make_node):
    # Two per node placements of the request's share count 2 each; being in use adds 1.
    cluster = build_cluster([make_node(n, devices=4) for n in ("idle", "other", "same")])
    cluster.allocate(Allocation(node=1, devices=(0,), share=500, vram=0))
    cluster.allocate(Allocation(node=2, devices=(0,), share=300, vram=0))
    cluster.allocate(Allocation(node=2, devices=(1,), share=300, vram=0))
    request = uniform_request("r", 1, share=300)
    assert _scores(cluster, request, GpuClustering()) == [0.0, 1.0, 5.0]


def test_gpu_clustering_uses_the_share_the_request_takes_on_the_nodes_model(make_node):
    # 500 on an A100 (model 0), 300 on a T4 (model 1): the T4 node holds two 300 placements.
    cluster = build_cluster(
        [make_node("a100", devices=2), make_node("t4", model="T4", devices=2, vram=16 * 2**30)]
    )
    cluster.allocate(Allocation(node=1, devices=(0,), share=300, vram=0))
    cluster.allocate(Allocation(node=1, devices=(1,), share=300, vram=0))
    base = uniform_request("r", 2, share=500)
    request = PlacementRequest(**{**base.__dict__, "share": np.array([500, 300], np.int32)})
    assert _scores(cluster, request, GpuClustering()) == [0.0, 5.0]


def test_health_is_the_mean_over_usable_devices_only(make_node):
    cluster = build_cluster(
        [
            # device 2 is below the health floor, device 3 cordoned: mean of 90 and 70
            make_node("partly", devices=4, health=(90, 70, 30, 100), cordoned=(3,)),
            make_node("one-usable", devices=2, health=(60, 100), cordoned=(1,)),
        ]
    )
    assert _scores(cluster, uniform_request("r", 1, share=100), Health()) == [80.0, 60.0]


def test_weighted_sums_each_part_normalised(make_node):
    cluster = build_cluster(
        [
            make_node("a", devices=4),
            make_node("b", devices=2),
            make_node("c", devices=4, health=(60, 60, 60, 60)),
        ]
    )
    # spread: 3.5, 1.5, 3.5 -> 100, 0, 100; health: 100, 100, 60 -> 100, 100, 0 (x3)
    policy = Weighted([(Spread(), 1.0), (Health(), 3.0)])
    assert _scores(cluster, uniform_request("r", 1, share=500), policy) == [400.0, 300.0, 100.0]


NORMALISED = [
    ("spread-to-0-100", [2.0, 4.0, 3.0], [0.0, 100.0, 50.0]),
    ("all-equal-all-100", [5.0, 5.0], [100.0, 100.0]),
    ("small-range-still-spread", [0.0, 0.5], [0.0, 100.0]),
    ("range-of-exactly-1e-12-is-spread", [0.0, 1e-12], [0.0, pytest.approx(100.0)]),
    ("below-1e-12-is-equal", [0.0, 0.5e-12], [100.0, 100.0]),
    ("no-candidates", [], []),
]


@pytest.mark.parametrize(
    ("scores", "expected"), [c[1:] for c in NORMALISED], ids=[c[0] for c in NORMALISED]
)
def test_normalise(scores, expected):
    assert normalise(np.array(scores)).tolist() == expected


def _mixed_node_cluster(make_node):
    # One node: an A100 (model 0) in slot 0, T4s (model 1) in slots 1 and 2; two 300 shares
    # on the T4s.
    a100, t4 = make_node("x", devices=1), make_node("x", model="T4", devices=2, vram=16 * 2**30)
    mixed = NodeSpec(name="mixed", devices=a100.devices + t4.devices, cpu_milli=64_000)
    cluster = build_cluster([mixed])
    cluster.allocate(Allocation(node=0, devices=(1,), share=300, vram=0))
    cluster.allocate(Allocation(node=0, devices=(2,), share=300, vram=0))
    base = uniform_request("r", 2, share=500)
    request = PlacementRequest(**{**base.__dict__, "share": np.array([500, 300], np.int32)})
    return cluster, request


def test_gpu_clustering_on_a_mixed_node_counts_the_share_of_the_model_it_takes(make_node):
    # The A100 has room (one 500 share on it): the request takes 500 there, held once.
    cluster, request = _mixed_node_cluster(make_node)
    cluster.allocate(Allocation(node=0, devices=(0,), share=500, vram=0))
    assert _scores(cluster, request, GpuClustering()) == [1 * 2 + 1.0]


def test_gpu_clustering_on_a_mixed_node_whose_first_model_is_full(make_node):
    # The A100 is taken whole: the request would take 300 on a T4, and two 300s are there.
    cluster, request = _mixed_node_cluster(make_node)
    cluster.allocate(Allocation(node=0, devices=(0,), share=1000, vram=0))
    assert _scores(cluster, request, GpuClustering()) == [2 * 2 + 1.0]
