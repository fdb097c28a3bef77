"""Each policy picks the node its description says, on clusters built to tell them apart."""

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
from hcs_scheduler.errors import ConfigError
from hcs_scheduler.placement import score_nodes
from hcs_scheduler.policies import normalise
from hcs_scheduler.request import PlacementRequest


def _setup(make_node):
    nodes = [
        make_node("empty", devices=4),
        make_node("half-used", devices=4),
        make_node("shared-300", devices=4),
        make_node("sick", devices=4, health=(60, 60, 60, 60)),
    ]
    cluster = build_cluster(nodes)
    models = len(cluster.models)
    cluster.allocate(Allocation(node=1, devices=(0, 1), share=1000, vram=0))
    cluster.allocate(Allocation(node=2, devices=(0,), share=300, vram=0))
    cluster.allocate(Allocation(node=3, devices=(0,), share=1000, vram=0))
    mix = WorkloadMix.from_requests(
        [uniform_request("m", models, share=300), uniform_request("w", models, whole=1)]
    )
    return cluster, PolicyFactory(mix, cluster), models


CASES = [
    # (case, policy, request kwargs, expected node)
    ("best-fit-takes-the-fullest", "best-fit", {"share": 300}, "half-used"),
    ("binpack-takes-the-fullest", "binpack", {"share": 300}, "half-used"),
    ("spread-takes-the-emptiest", "spread", {"share": 300}, "empty"),
    ("gpu-packing-joins-a-shared-device", "gpu-packing", {"share": 300}, "shared-300"),
    ("gpu-clustering-joins-the-same-share", "gpu-clustering", {"share": 300}, "shared-300"),
    ("dot-product-packs", "dot-product", {"share": 300}, "half-used"),
    ("health-avoids-the-sick-node", "health", {"share": 300}, "empty"),
    ("fgd-fills-the-stranded-share", "fgd", {"share": 300}, "shared-300"),
    ("default-fills-the-stranded-share", "default", {"share": 300}, "shared-300"),
    ("fgd-whole-ties-to-the-lowest-index", "fgd", {"whole": 2}, "empty"),
]


@pytest.mark.parametrize(
    ("policy", "kwargs", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_policy_choice(make_node, policy, kwargs, expected):
    cluster, factory, models = _setup(make_node)
    outcome = place(
        cluster,
        uniform_request("r", models, **kwargs),
        factory.make(policy),
        np.random.default_rng(0),
    )
    assert outcome.node == expected


def test_random_fit_is_seeded_and_only_picks_feasible_nodes(make_node):
    cluster, factory, models = _setup(make_node)
    request = uniform_request("r", models, whole=3)
    picks = {
        place(cluster, request, factory.make("random-fit"), np.random.default_rng(s)).node
        for s in range(20)
    }
    assert picks <= {"empty", "shared-300", "sick"}  # half-used has only two whole devices
    assert len(picks) > 1
    again = [
        place(cluster, request, factory.make("random-fit"), np.random.default_rng(7)).node
        for _ in range(3)
    ]
    assert len(set(again)) == 1


def test_default_keeps_a_scarce_model_for_the_requests_that_need_it(make_node):
    nodes = [make_node("a100", devices=2), make_node("t4", model="T4", devices=2, vram=16 * 2**30)]
    cluster = build_cluster(nodes)
    t4 = cluster.models.index("T4")
    anywhere = uniform_request("any", 2, whole=1)
    t4_only = uniform_request("t4", 2, whole=1, allowed=[t4])
    factory = PolicyFactory(WorkloadMix.from_requests([anywhere, t4_only, t4_only]), cluster)
    assert factory.pressure[t4] > factory.pressure[cluster.models.index("A100-SXM4-80G")]
    assert (
        place(cluster, anywhere, factory.make("default"), np.random.default_rng(0)).node == "a100"
    )


def test_composed_policy_and_normalised_scores(make_node):
    cluster, factory, models = _setup(make_node)
    composed = factory.make("spread:1,health:3")
    assert (
        place(
            cluster, uniform_request("r", models, share=300), composed, np.random.default_rng(0)
        ).node
        == "empty"
    )
    assert normalise(np.array([2.0, 4.0, 3.0])).tolist() == [0.0, 100.0, 50.0]
    assert normalise(np.array([5.0, 5.0])).tolist() == [100.0, 100.0]


@pytest.mark.parametrize(
    ("spec", "message"), [("best-fitt", "unknown policy 'best-fitt'"), ("fgd:x", "not a number")]
)
def test_bad_policy_names_are_config_errors(make_node, spec, message):
    _, factory, _ = _setup(make_node)
    with pytest.raises(ConfigError, match=message):
        factory.make(spec)


def test_default_does_not_strand_devices_for_want_of_cpu(make_node):
    # Both nodes can take the CPU-only task; on "gpu-box" it would leave its 4 idle devices
    # without the CPU they need (the mix uses 8 cores per device), on "cpu-rich" it would not.
    # FGD sees no change (the GPU type still fits one device's worth) and ties to gpu-box.
    nodes = [
        make_node("gpu-box", devices=4, cpu=40_000),
        make_node("cpu-rich", devices=1, cpu=200_000),
    ]
    cluster = build_cluster(nodes)
    gpu_work = uniform_request("gpu", 1, whole=1, cpu_milli=8_000)
    cpu_task = uniform_request("cpu", 1, cpu_milli=24_000)
    factory = PolicyFactory(WorkloadMix.from_requests([gpu_work]), cluster)
    assert factory.cpu_per_device == 8_000
    assert place(cluster, cpu_task, factory.make("fgd"), np.random.default_rng(0)).node == "gpu-box"
    assert (
        place(cluster, cpu_task, factory.make("default"), np.random.default_rng(0)).node
        == "cpu-rich"
    )


def test_demand_on_a_node_mixing_models_uses_the_fitting_model(make_node):
    # One node with an A100 and two T4s: a whole-device plan on T4 only is two devices there.
    a100, t4 = make_node("x", devices=1), make_node("x", model="T4", devices=2, vram=16 * 2**30)
    mixed = type(a100)(
        name="mixed", devices=a100.devices + t4.devices, cpu_milli=64_000, memory_mib=10**6
    )
    cluster = build_cluster([mixed])
    t4_index = cluster.models.index("T4")
    # Per-model plans differ: a half share on an A100 (not allowed here), two whole T4s.
    base = uniform_request("r", 2, whole=2, allowed=[t4_index])
    request = PlacementRequest(
        **{
            **base.__dict__,
            "whole": np.array([0, 2], dtype=np.int32),
            "share": np.array([500, 1000], dtype=np.int32),
        }
    )
    factory = PolicyFactory(WorkloadMix.from_requests([request]), cluster)
    outcome = place(cluster, request, factory.make("default"), np.random.default_rng(0))
    assert (outcome.model, outcome.allocation.devices) == ("T4", (1, 2))
    decision, _ = score_nodes(cluster, request, factory.make("best-fit"), np.random.default_rng(0))
    assert decision.demand.tolist() == [2.0]
