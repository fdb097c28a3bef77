"""The FGD measure on states small enough to compute by hand."""

import numpy as np
import pytest

from hcs_scheduler import Allocation, build_cluster, uniform_request
from hcs_scheduler.fragmentation import FragmentationIndex, WorkloadMix, placement_options


def _state(cpu, frees, model=0):
    devices = tuple(sorted(((model, f, 0, True) for f in frees), reverse=True))
    return (cpu, 10**6, devices)


def _mix(*requests):
    return WorkloadMix.from_requests(list(requests))


HALF = uniform_request("half", 1, share=500, cpu_milli=1000)
WHOLE = uniform_request("whole", 1, whole=1, cpu_milli=1000)
TWO = uniform_request("two", 1, whole=2, cpu_milli=1000)

CASES = [
    # (case, mix, state, expected expected-fragmentation in thousandths)
    ("half-share-strands-small-leftovers", _mix(HALF), _state(8000, [1000, 300]), 300),
    ("whole-strands-partly-used", _mix(WHOLE), _state(8000, [1000, 300]), 300),
    ("two-whole-cannot-fit-at-all", _mix(TWO), _state(8000, [1000, 300]), 1300),
    ("no-cpu-strands-everything", _mix(HALF), _state(500, [1000, 1000]), 2000),
    (
        "mix-is-weighted",
        _mix(HALF, TWO, TWO, TWO),
        _state(8000, [1000, 300]),
        0.25 * 300 + 0.75 * 1300,
    ),
    ("empty-node-with-room", _mix(HALF, WHOLE), _state(8000, [1000, 1000]), 0),
]


@pytest.mark.parametrize(
    ("mix", "state", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_fragmentation_by_hand(mix, state, expected):
    assert mix.fragmentation([state])[0] == pytest.approx(expected)


CPU_ONLY = uniform_request("cpu", 1, cpu_milli=4000)

UNUSABLE_CPU = [
    # (case, mix, state, expected unusable host CPU, milli): free CPU x the share of the mix
    # that cannot be placed on the node at all
    ("every-type-fits", _mix(HALF, CPU_ONLY), _state(8000, [1000, 300]), 0),
    ("too-little-for-the-cpu-task", _mix(HALF, CPU_ONLY), _state(2500, [1000, 300]), 1250),
    ("no-device-for-the-share", _mix(HALF, CPU_ONLY), _state(8000, [300]), 4000),
    ("nothing-fits", _mix(HALF, CPU_ONLY), _state(800, [300]), 800),
    ("weighted-by-popularity", _mix(TWO, TWO, TWO, CPU_ONLY), _state(6000, [1000]), 4500),
]


@pytest.mark.parametrize(
    ("mix", "state", "expected"), [c[1:] for c in UNUSABLE_CPU], ids=[c[0] for c in UNUSABLE_CPU]
)
def test_unusable_cpu_by_hand(mix, state, expected):
    devices, cpu = mix.fragments([state])
    assert cpu[0] == pytest.approx(expected)
    assert devices[0] == pytest.approx(mix.fragmentation([state])[0])


def test_an_empty_mix_has_no_fragments():
    none = np.zeros((0, 2))
    empty = WorkloadMix(
        cpu=none[:, 0],
        mem=none[:, 0],
        whole=none,
        threshold=none,
        vram=none,
        allowed=none.astype(bool),
        needs_device=none[:, 0].astype(bool),
        weight=none[:, 0],
    )
    devices, cpu = empty.fragments([_state(8000, [1000])])
    assert (devices.tolist(), cpu.tolist()) == ([0.0], [0.0])


def test_the_index_keeps_the_unusable_cpu_change_of_the_placement_it_chose(make_node):
    # Node of 2 free devices and 6 cores; the mix: a whole device with 4 cores. Placing one
    # leaves 1 device and 2 cores: the type no longer fits, 2000 milli unusable (from 0).
    cluster = build_cluster([make_node("n", devices=2, cpu=6000)])
    index = FragmentationIndex(
        _mix(uniform_request("w", 1, whole=1, cpu_milli=4000)), cluster.interner
    )
    request = uniform_request("r", 1, whole=1, cpu_milli=4000)
    nodes = np.array([0])
    index.best(cluster, nodes, request)
    assert index.cpu_change(cluster, nodes, request).tolist() == [2000.0]


def test_model_constraint_makes_other_models_fragmented():
    t4_only = uniform_request("t4", 2, share=500, allowed=[1])
    mix = WorkloadMix.from_requests([t4_only])
    assert mix.fragmentation([_state(8000, [1000], model=0)])[0] == 1000
    assert mix.fragmentation([_state(8000, [1000], model=1)])[0] == 0


def test_best_placement_lowers_fragmentation_most(make_node):
    # A 500 share on the half-used device keeps the whole device free for the whole-GPU type.
    cluster = build_cluster([make_node("n", devices=2, vram=0, cpu=8000, memory=10**6)])
    cluster.allocate(Allocation(node=0, devices=(1,), share=500, vram=0))
    index = FragmentationIndex(_mix(HALF, WHOLE), cluster.interner)
    deltas, option = index.best(cluster, np.array([0]), HALF)
    assert option(0).device == (0, 500, 0, True)
    assert deltas[0] == pytest.approx(0 - index.values([cluster.state_key(0)])[0])
    assert index.cluster_fragmentation(cluster) == pytest.approx(0.5 * 0 + 0.5 * 500)


def test_options_cover_each_distinct_device_once():
    options = placement_options(_state(8000, [1000, 1000, 600]), HALF)
    assert sorted(o.device[1] for o in options) == [600, 1000]
    assert placement_options(_state(500, [1000]), HALF) == []


def test_index_refuses_a_cluster_with_another_interner(make_node):
    # State ids are only comparable within one interner: a memo keyed by them must not mix.
    first = build_cluster([make_node("n", devices=2)])
    second = build_cluster([make_node("n", devices=2)])
    index = FragmentationIndex(_mix(HALF), first.interner)
    with pytest.raises(
        ValueError, match=r"^the cluster was built with another state interner than this index$"
    ):
        index.best(second, np.array([0]), HALF)
    shared = build_cluster([make_node("n", devices=2)], first.interner)
    assert index.best(shared, np.array([0]), HALF)[0].shape == (1,)


def test_the_unusable_cpu_changes_survive_the_tables_growing(make_node):
    cluster = build_cluster([make_node("a", devices=2, cpu=6000), make_node("b", devices=4)])
    mix = _mix(uniform_request("w", 1, whole=1, cpu_milli=4000))
    index = FragmentationIndex(mix, cluster.interner)
    request = uniform_request("r", 1, whole=1, cpu_milli=4000)
    nodes = np.array([0, 1])
    index.best(cluster, nodes, request)
    first = index.cpu_change(cluster, nodes, request).tolist()
    after = index.after_ids(cluster.state_ids[nodes], request)
    # node b gets a new state: the interner grows and with it the index's tables
    cluster.allocate(
        Allocation(node=1, devices=(0,), share=1000, vram=0, cpu_milli=0, memory_mib=0)
    )
    index.best(cluster, nodes, request)
    assert index.cpu_change(cluster, nodes[:1], request).tolist() == first[:1] == [2000.0]
    assert index.after_ids(cluster.state_ids[:1], request).tolist() == after[:1].tolist()
    # the state a placement on a leads to: 1 device and 2 cores left
    (cpu, _mem, devices) = index.after_states.keys[int(after[0])]
    assert (cpu, len([d for d in devices if d[1] == 1000])) == (2000, 1)
