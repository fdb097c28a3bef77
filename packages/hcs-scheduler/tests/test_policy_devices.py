"""Which device a share lands on: the policy's own choice, also inside a weighted mix."""

import numpy as np
import pytest

from hcs_scheduler import (
    Allocation,
    PolicyFactory,
    WorkloadMix,
    build_cluster,
    place,
    uniform_request,
)
from hcs_scheduler.policies import GpuPacking, RandomFit, Weighted

SHARE_100 = uniform_request("r", 1, share=100)


def _place(cluster, request, policy, seed=0):
    return place(cluster, request, policy, np.random.default_rng(seed))


@pytest.mark.parametrize("spec", ["fgd", "fgd:1", "default", "default:1,spread:0"])
def test_fragmentation_policies_keep_a_device_that_still_fits_the_mix(make_node, spec):
    # Device 1 has 550 free: taking 100 there leaves 450, too little for the mix's 500 shares.
    # Best fit would take it; FGD takes device 0, also when composed in a weighted mix.
    cluster = build_cluster([make_node("n", devices=2)])
    cluster.allocate(Allocation(node=0, devices=(1,), share=450, vram=0))
    mix = WorkloadMix.from_requests([uniform_request("m", 1, share=500)])
    policy = PolicyFactory(mix, cluster).make(spec)
    assert _place(cluster, SHARE_100, policy).device_ids == ("0",)


@pytest.mark.parametrize(
    "policy", [GpuPacking(), Weighted([(GpuPacking(), 1.0)])], ids=["alone", "weighted"]
)
def test_gpu_packing_joins_the_device_already_shared(make_node, policy):
    cluster = build_cluster([make_node("n", devices=3)])
    cluster.allocate(Allocation(node=0, devices=(2,), share=300, vram=0))
    assert _place(cluster, SHARE_100, policy).device_ids == ("2",)


def test_gpu_packing_takes_the_fullest_used_device(make_node):
    # Device 1 holds two placements (300 free); device 2 one (200 free): the fullest wins.
    cluster = build_cluster([make_node("n", devices=3)])
    cluster.allocate(Allocation(node=0, devices=(1,), share=300, vram=0))
    cluster.allocate(Allocation(node=0, devices=(1,), share=400, vram=0))
    cluster.allocate(Allocation(node=0, devices=(2,), share=800, vram=0))
    assert _place(cluster, SHARE_100, GpuPacking()).device_ids == ("2",)


def test_random_fit_in_a_weighted_mix_still_picks_devices_at_random(make_node):
    cluster = build_cluster([make_node("n", devices=4)])
    policy = Weighted([(RandomFit(), 1.0)])
    picked = {_place(cluster, SHARE_100, policy, seed).device_ids for seed in range(20)}
    assert len(picked) > 1


def test_an_empty_weighted_mix_ties_every_node_and_takes_the_first(make_node):
    cluster = build_cluster([make_node("a", devices=1), make_node("b", devices=4)])
    outcome = _place(cluster, SHARE_100, Weighted([]))
    assert (outcome.node, outcome.device_ids) == ("a", ("0",))
