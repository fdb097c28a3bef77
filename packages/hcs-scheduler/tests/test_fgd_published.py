"""fgd-published scores, ties, GPU choice and workload model as the FGD paper's artifact does."""

import numpy as np
import pytest

from hcs_scheduler import Allocation, PolicyFactory, WorkloadMix, build_cluster, uniform_request
from hcs_scheduler.catalog import NAMES
from hcs_scheduler.fgd_published import (
    PublishedFgd,
    PublishedMeasure,
    published_score,
    typical_from_mix,
    typical_from_requests,
    typical_types,
)
from hcs_scheduler.placement import Placement, place
from hcs_scheduler.policies import Fragmentation

SCORES = [
    # (case, fragmentation increase in thousandths of a GPU, artifact score)
    ("no-change-is-half", 0.0, 50),
    ("small-decrease-ties-with-no-change", -10.0, 50),
    ("small-increase-drops-a-point", 10.0, 49),
    ("one-gpu-decrease", -1000.0, 73),
    ("one-gpu-increase", 1000.0, 26),
    ("half-gpu-increase", 500.0, 37),
    ("three-gpus-decrease", -3000.0, 95),
    ("huge-increase-is-zero", 1e9, 0),
]


@pytest.mark.parametrize(("delta", "expected"), [c[1:] for c in SCORES], ids=[c[0] for c in SCORES])
def test_score_is_truncated_sigmoid_of_the_increase(delta, expected):
    assert published_score(delta) == expected


def _policy(requests, models=1):
    return PublishedFgd(PublishedMeasure.from_types(typical_from_requests(requests), models))


HALF = uniform_request("half", 1, share=500, cpu_milli=1000)
WHOLE = uniform_request("whole", 1, whole=1, cpu_milli=1000)


def _chosen(make_node, seed):
    cluster = build_cluster([make_node(f"n{i}", devices=1, vram=0) for i in range(8)])
    outcome = place(cluster, HALF, _policy([HALF]), np.random.default_rng(seed))
    assert isinstance(outcome, Placement)
    return outcome.node


def test_ties_go_to_the_same_node_for_the_same_seed(make_node):
    assert _chosen(make_node, 7) == _chosen(make_node, 7)


def test_ties_go_to_other_nodes_for_other_seeds(make_node):
    # Eight identical nodes all score alike: the winner is the run's first node in its random
    # order, so ten seeds cannot all pick the same one (index order would: always n0).
    assert len({_chosen(make_node, seed) for seed in range(10)}) > 1


def test_node_order_is_fixed_within_a_run():
    policy = _policy([HALF])
    rng = np.random.default_rng(3)
    first = policy.node_rank(rng, 50).copy()
    assert np.array_equal(policy.node_rank(rng, 50), first)
    assert np.array_equal(_policy([HALF]).node_rank(np.random.default_rng(3), 50), first)
    assert not np.array_equal(_policy([HALF]).node_rank(np.random.default_rng(4), 50), first)


DEVICES = [
    # (case, share already taken per slot, request share, expected slot)
    ("equal-scores-take-slot-0-used", (400, 0), 100, 0),
    ("equal-scores-take-slot-0-free", (0, 400), 100, 0),
    ("better-score-beats-lower-index", (400, 0), 300, 1),
]


@pytest.mark.parametrize(
    ("taken", "share", "slot"), [c[1:] for c in DEVICES], ids=[c[0] for c in DEVICES]
)
def test_share_goes_to_lowest_index_gpu_with_the_best_score(make_node, taken, share, slot):
    # Mix: share-500 pods only. A 100 share leaves both devices >= 500 free either way (equal
    # scores); a 300 share on the 600-free device strands 300 (score 42 against 50).
    cluster = build_cluster([make_node("n", devices=2, vram=0)])
    for s, amount in enumerate(taken):
        if amount:
            cluster.allocate(Allocation(node=0, devices=(s,), share=amount, vram=0))
    request = uniform_request("r", 1, share=share, cpu_milli=1000)
    outcome = place(cluster, request, _policy([HALF]), np.random.default_rng(0))
    assert isinstance(outcome, Placement)
    assert outcome.allocation.devices == (slot,)


def test_types_are_keyed_without_memory():
    small = uniform_request("a", 1, share=500, cpu_milli=1000, memory_mib=1024)
    large = uniform_request("b", 1, share=500, cpu_milli=1000, memory_mib=65536)
    types = typical_from_requests([small, large])
    assert [(k[:3], w) for k, w in types] == [((1000, 500, 1), 1.0)]


def test_cpu_only_types_are_kept():
    cpu = uniform_request("cpu", 1, cpu_milli=4000)
    types = typical_from_requests([cpu, cpu, HALF, WHOLE])
    assert [(k[:3], w) for k, w in types] == [
        ((4000, 0, 0), 0.5),
        ((1000, 1000, 1), 0.25),
        ((1000, 500, 1), 0.25),
    ]


CUTS = [
    # (case, counts per type, types kept)
    ("stops-once-95-reached", (50, 30, 15, 4, 1), 3),
    ("takes-one-more-below-95", (50, 30, 14, 5, 1), 4),
    ("one-type-covers-all", (100,), 1),
]


@pytest.mark.parametrize(("counts", "kept"), [c[1:] for c in CUTS], ids=[c[0] for c in CUTS])
def test_most_common_types_kept_until_95_percent(counts, kept):
    pairs = [((1000 * (i + 1), 0, 0, b""), float(c)) for i, c in enumerate(counts)]
    types = typical_types(pairs)
    assert [k for k, _ in types] == [k for k, _ in pairs[:kept]]
    assert sum(w for _, w in types) == pytest.approx(1.0)
    assert types[0][1] == pytest.approx(counts[0] / sum(counts[:kept]))


def test_model_from_hcs_mix_matches_model_from_requests():
    requests = [HALF, HALF, WHOLE, uniform_request("m", 1, share=500, cpu_milli=1000, memory_mib=9)]
    from_mix = typical_from_mix(WorkloadMix.from_requests(requests))
    assert [(k, pytest.approx(w)) for k, w in from_mix] == typical_from_requests(requests)


def _state(cpu, mem, frees):
    return (cpu, mem, tuple(sorted(((0, f, 0, True) for f in frees), reverse=True)))


def test_fit_test_ignores_memory():
    needs_memory = uniform_request("m", 1, share=500, cpu_milli=1000, memory_mib=4096)
    measure = PublishedMeasure.from_types(typical_from_requests([needs_memory]), 1)
    no_memory_left = _state(8000, 0, [1000, 300])
    assert measure.values([no_memory_left])[0] == 300  # fits: only the 300 sliver strands
    hcs = WorkloadMix.from_requests([needs_memory]).fragmentation([no_memory_left])[0]
    assert hcs == 1300  # HCS's own measure: no memory, nothing fits


def test_fit_test_checks_cpu_and_gpu():
    measure = PublishedMeasure.from_types(typical_from_requests([HALF]), 1)
    assert measure.values([_state(500, 10**6, [1000, 1000])])[0] == 2000  # lacks CPU
    assert measure.values([_state(8000, 10**6, [400, 300])])[0] == 700  # lacks GPU


def test_cpu_only_types_count_all_free_gpu_even_when_they_fit():
    cpu = uniform_request("cpu", 1, cpu_milli=1000)
    measure = PublishedMeasure.from_types(typical_from_requests([cpu, HALF]), 1)
    assert measure.values([_state(8000, 10**6, [1000, 1000])])[0] == pytest.approx(1000)


def test_registered_by_name_beside_fgd(make_node):
    cluster = build_cluster([make_node("n", devices=1)])
    factory = PolicyFactory(WorkloadMix.from_requests([HALF]), cluster)
    assert "fgd-published" in NAMES
    assert factory.make("fgd-published").name == "fgd-published"
    assert isinstance(factory.make("fgd"), Fragmentation)
