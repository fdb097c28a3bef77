"""FGD's figures, memo and placement options, exact to the device thousandth on one or two nodes."""

import numpy as np
import pytest

from hcs_scheduler import Allocation, NodeSpec, WorkloadMix, build_cluster, uniform_request
from hcs_scheduler import fragmentation as fragmentation_module
from hcs_scheduler.fragmentation import FragmentationIndex, Option, placement_options
from hcs_scheduler.request import PlacementRequest

GI = 2**30


def _state(cpu, *frees):
    return (cpu, 10**6, tuple(sorted(((0, f, 0, True) for f in frees), reverse=True)))


def _half():
    return uniform_request("half", 1, share=500, cpu_milli=1000)


def test_a_mix_with_no_types_fragments_nothing():
    empty = WorkloadMix(
        cpu=np.zeros(0, dtype=np.int64),
        mem=np.zeros(0, dtype=np.int64),
        whole=np.zeros((0, 2), dtype=np.int32),
        threshold=np.zeros((0, 2), dtype=np.int32),
        vram=np.zeros((0, 2), dtype=np.int64),
        allowed=np.zeros((0, 2), dtype=bool),
        needs_device=np.zeros(0, dtype=bool),
        weight=np.zeros(0),
    )
    assert empty.fragmentation([_state(8000, 1000), _state(0, 300)]).tolist() == [0.0, 0.0]


def test_nodes_without_devices_have_no_fragmented_compute():
    # A cluster of CPU-only nodes: state keys with no devices at all.
    cluster = build_cluster([NodeSpec("cpu", devices=(), cpu_milli=4000, memory_mib=1024)])
    mix = WorkloadMix.from_requests([uniform_request("cpu", 0, cpu_milli=1000)])
    assert FragmentationIndex(mix, cluster.interner).cluster_fragmentation(cluster) == 0


def test_an_empty_slot_does_not_raise_the_device_count_a_type_needs(make_node):
    # One whole A100 or two whole T4s. The A100 node's second slot is empty (the T4 node has
    # two): its one free A100 serves the type, so nothing on either node is fragmented.
    request = PlacementRequest(
        name="a100-or-two-t4",
        cpu_milli=0,
        memory_mib=0,
        whole=np.array([1, 2], dtype=np.int32),
        share=np.array([1000, 1000], dtype=np.int32),
        vram=np.zeros(2, dtype=np.int64),
        allowed=np.ones(2, dtype=bool),
    )
    cluster = build_cluster(
        [make_node("a100", devices=1), make_node("t4", model="T4", devices=2, vram=16 * GI)]
    )
    index = FragmentationIndex(WorkloadMix.from_requests([request]), cluster.interner)
    assert index.cluster_fragmentation(cluster) == 0


def test_a_batch_of_states_gets_each_states_own_figure():
    # Half a device and a core wanted, 500 milli free: each state's whole free compute is lost.
    mix = WorkloadMix.from_requests([_half()])
    assert mix.fragmentation([_state(500, 1000, 1000), _state(500, 1000, 300)]).tolist() == [
        2000,
        1300,
    ]


def test_memoised_fragmentation_is_rounded_to_a_millionth():
    # 1/3 x 300 (half: the 300 left is stranded) + 2/3 x 1300 (two whole: nothing fits) =
    # 966.666..., kept to 6 decimals so a batch's summing order cannot tip a tie.
    two = uniform_request("two", 1, whole=2, cpu_milli=1000)
    mix = WorkloadMix.from_requests([_half(), two, two])
    index = FragmentationIndex(mix, build_cluster([]).interner)
    assert index.values([_state(8000, 1000, 300)]) == [pytest.approx(966.666667, abs=1e-9)]


def test_a_memo_at_its_limit_still_answers_every_key(monkeypatch):
    monkeypatch.setattr(fragmentation_module, "_MEMO_LIMIT", 2)
    index = FragmentationIndex(WorkloadMix.from_requests([_half()]), build_cluster([]).interner)
    assert index.values([_state(500, 1000), _state(500, 300)]) == [1000, 300]
    assert index.values([_state(500, 1000), _state(500, 600)]) == [1000, 600]


def test_a_memo_past_its_limit_still_answers_every_key(monkeypatch):
    monkeypatch.setattr(fragmentation_module, "_MEMO_LIMIT", 1)
    index = FragmentationIndex(WorkloadMix.from_requests([_half()]), build_cluster([]).interner)
    assert index.values([_state(500, 1000), _state(500, 300)]) == [1000, 300]
    assert index.values([_state(500, 1000), _state(500, 600)]) == [1000, 600]


def test_each_request_type_gets_its_own_best_placement(make_node):
    # Mix: half a device or a whole one, equally likely; node of 2 free devices.
    # half: on a full device, leaving 500 the whole type cannot use: 0.5 x 500 = +250.
    # whole: one device taken whole, the other still serves both types: +0.
    half, whole = _half(), uniform_request("whole", 1, whole=1, cpu_milli=1000)
    cluster = build_cluster([make_node("n", devices=2, vram=0, cpu=8000)])
    index = FragmentationIndex(WorkloadMix.from_requests([half, whole]), cluster.interner)
    nodes = np.array([0])
    for request, delta, device, model in [
        (half, 250, (0, 1000, 0, True), None),
        (whole, 0, None, 0),
        (half, 250, (0, 1000, 0, True), None),
    ]:
        deltas, option = index.best(cluster, nodes, request)
        assert (deltas.tolist(), option(0).device, option(0).whole_model) == (
            [delta],
            device,
            model,
        )


def test_a_node_the_request_does_not_fit_costs_infinity(make_node):
    # The first node has half a core, the request wants one; the second takes it at no cost.
    cluster = build_cluster(
        [make_node("small", devices=2, vram=0, cpu=500), make_node("big", devices=2, vram=0)]
    )
    index = FragmentationIndex(WorkloadMix.from_requests([_half()]), cluster.interner)
    deltas, option = index.best(cluster, np.array([0, 1]), _half())
    assert deltas.tolist() == [np.inf, 0]
    assert option(1).device == (0, 1000, 0, True)


def test_on_a_tie_the_first_device_in_state_order_wins(make_node):
    # A tenth of a device fits everywhere whichever device takes it: both options cost 0, and
    # the first in the state's order (most free first) is the one kept.
    cluster = build_cluster([make_node("n", devices=2, vram=0)])
    cluster.allocate(Allocation(node=0, devices=(1,), share=200, vram=0))
    tenth = uniform_request("tenth", 1, share=100)
    index = FragmentationIndex(WorkloadMix.from_requests([tenth]), cluster.interner)
    deltas, option = index.best(cluster, np.array([0]), tenth)
    assert (deltas.tolist(), option(0).device) == ([0], (0, 1000, 0, True))


OPTIONS = [
    # (case, request, the allocation it makes, option's device, option's whole model)
    (
        "share",
        {"share": 500},
        Allocation(node=0, devices=(1,), share=500, vram=4 * GI, cpu_milli=1000, memory_mib=1024),
        (0, 1000, 16 * GI, True),
        None,
    ),
    (
        "one-whole-device",
        {"whole": 1},
        Allocation(node=0, devices=(0,), share=1000, vram=4 * GI, cpu_milli=1000, memory_mib=1024),
        None,
        0,
    ),
    (
        "two-whole-devices",
        {"whole": 2},
        Allocation(
            node=0, devices=(0, 1), share=1000, vram=4 * GI, cpu_milli=1000, memory_mib=1024
        ),
        None,
        0,
    ),
    (
        "all-host-cpu-and-memory",
        {"share": 500, "cpu_milli": 8000, "memory_mib": 4096},
        Allocation(node=0, devices=(0,), share=500, vram=4 * GI, cpu_milli=8000, memory_mib=4096),
        (0, 1000, 16 * GI, True),
        None,
    ),
]


@pytest.mark.parametrize(
    ("plan", "allocation", "device", "model"),
    [c[1:] for c in OPTIONS],
    ids=[c[0] for c in OPTIONS],
)
def test_an_options_state_is_the_nodes_state_after_that_placement(
    make_node, plan, allocation, device, model
):
    # Node: 2 free devices of 16 GiB, 8 cores, 4 GiB of memory; 4 GiB of VRAM asked per device.
    cluster = build_cluster([make_node("n", devices=2, vram=16 * GI, cpu=8000, memory=4096)])
    asked = {"cpu_milli": 1000, "memory_mib": 1024, "vram": 4 * GI, **plan}
    request = uniform_request("r", 1, **asked)
    options = placement_options(cluster.state_key(0), request)
    cluster.allocate(allocation)
    assert options == [Option(device, model, cluster.state_key(0))]


def _mix(*requests):
    return WorkloadMix.from_requests(list(requests))


def test_a_whole_device_type_needs_a_fully_free_device_whatever_its_share_field():
    # share only counts when whole is 0: this whole-device type leaves the 300 stranded.
    request = PlacementRequest(
        name="whole",
        cpu_milli=0,
        memory_mib=0,
        whole=np.array([1], dtype=np.int32),
        share=np.array([0], dtype=np.int32),
        vram=np.zeros(1, dtype=np.int64),
        allowed=np.ones(1, dtype=bool),
    )
    assert _mix(request).fragmentation([_state(8000, 1000, 300)]).tolist() == [300]


HOST = [
    # (case, mix's one type, state cpu, state memory, expected): 2 free devices
    ("cpu-exactly-enough", {"share": 500, "cpu_milli": 1000}, 1000, 10**6, 0),
    ("memory-exactly-enough", {"share": 500, "memory_mib": 2048}, 8000, 2048, 0),
    ("cpu-only-type-fits", {"cpu_milli": 1000}, 8000, 10**6, 0),
    ("cpu-only-type-short-of-cpu", {"cpu_milli": 1000}, 999, 10**6, 2000),
]


@pytest.mark.parametrize(
    ("plan", "cpu", "memory", "expected"), [c[1:] for c in HOST], ids=[c[0] for c in HOST]
)
def test_host_resources_decide_whether_a_type_fits(plan, cpu, memory, expected):
    state = (cpu, memory, ((0, 1000, 0, True), (0, 1000, 0, True)))
    assert _mix(uniform_request("t", 1, **plan)).fragmentation([state]).tolist() == [expected]


def test_a_batch_counts_each_states_own_whole_devices():
    # Two whole devices wanted: the first state has them, the second has one (1300 lost).
    two = uniform_request("two", 1, whole=2)
    states = [_state(8000, 1000, 1000), _state(8000, 1000, 300)]
    assert _mix(two).fragmentation(states).tolist() == [0, 1300]
