"""The whole-device reserve: blocks per state, pressure from the mix and the cluster, and the
default policy's charge for the reserve a placement destroys, all computed by hand."""

import numpy as np
import pytest

from hcs_scheduler import NodeSpec, WorkloadMix, build_cluster, uniform_request
from hcs_scheduler.cluster import Allocation
from hcs_scheduler.default_policy import HcsDefault
from hcs_scheduler.fragmentation import FragmentationIndex
from hcs_scheduler.placement import score_nodes
from hcs_scheduler.request import PlacementRequest
from hcs_scheduler.reserve import POWER, WholeDeviceReserve, _times, mean_demand, type_demand

WIDE = uniform_request("eight-wide", 1, whole=8, cpu_milli=100_000)
"""Eight devices and 100 cores: only the 128-core node can host it."""
EIGHT = uniform_request("eight", 1, whole=8, cpu_milli=32_000)
ONE = uniform_request("one", 1, whole=1, cpu_milli=4000)
PAIR_T4 = uniform_request("pair-t4", 2, whole=2, allowed=[1])


def _mix(*requests):
    return WorkloadMix.from_requests(list(requests))


@pytest.fixture
def cluster(make_node):
    return build_cluster(
        [
            make_node("big", devices=8, cpu=128_000),
            make_node("mid", devices=8, cpu=64_000),
            make_node("small", devices=2, cpu=64_000),
        ]
    )


MIX = _mix(WIDE, EIGHT, ONE, ONE)
# Popularity 1/4, 1/4, 1/2; mean demand 0.25 x 8 + 0.25 x 8 + 0.5 x 1 = 4.5 devices.
SHARE = 0.25 * 8 / 4.5


def test_only_multi_device_types_are_kept_with_their_demand_share():
    reserve = WholeDeviceReserve.from_mix(MIX, 1)
    assert reserve.need.tolist() == [[8], [8]]
    assert reserve.cpu.tolist() == [100_000, 32_000]
    assert reserve.share.tolist() == pytest.approx([SHARE, SHARE])
    assert mean_demand(MIX, 1) == pytest.approx(4.5)
    assert reserve.active


def test_a_mix_without_multi_device_types_is_inactive():
    reserve = WholeDeviceReserve.from_mix(_mix(ONE, uniform_request("cpu", 1, cpu_milli=1)), 1)
    assert not reserve.active
    assert reserve.blocks([]).shape == (0, 0)


def test_blocks_count_idle_devices_per_allowed_model_capped_by_host(cluster):
    reserve = WholeDeviceReserve.from_mix(MIX, 1)
    keys = [cluster.state_key(n) for n in range(3)]
    # big: both fit once; mid: 64 cores, not the 100-core type; small: two devices, neither.
    assert reserve.blocks(keys).tolist() == [[8, 8], [0, 8], [0, 0]]


def test_blocks_of_a_model_constrained_type_on_a_mixed_model_cluster(make_node):
    mixed = build_cluster(
        [
            make_node("a100", devices=4),
            make_node("t4", model="T4", devices=5),
            make_node("t4-cpu", model="T4", devices=4, cpu=1000, memory=1),
        ]
    )
    reserve = WholeDeviceReserve.from_mix(_mix(PAIR_T4, PAIR_T4), 2)
    keys = [mixed.state_key(n) for n in range(3)]
    # Only T4s count, in pairs (5 idle: 2 pairs, 4 devices); the third node's tiny host is no
    # limit: the type asks no CPU or memory.
    assert reserve.blocks(keys).reshape(-1).tolist() == [0, 4, 4]


def test_pressure_is_the_share_of_usable_free_devices_over_the_blocks_offered(cluster):
    reserve = WholeDeviceReserve.from_mix(MIX, 1)
    # 18 free devices, 3 of them fragmented: 15 usable; each type will ask 15 x SHARE.
    # The 100-core type is offered one block (8 devices), the other two (16).
    pressure = reserve.pressure(cluster, lambda: 3.0)
    assert pressure.tolist() == pytest.approx([15 * SHARE / 8, 15 * SHARE / 16])
    capped = WholeDeviceReserve.from_mix(_mix(WIDE, WIDE, ONE), 1)
    assert capped.pressure(cluster, lambda: 0.0).tolist() == [1.0]


def test_pressure_is_cached_until_free_capacity_moves_one_percent(cluster):
    reserve = WholeDeviceReserve.from_mix(MIX, 1)
    first = reserve.pressure(cluster, lambda: 0.0)
    assert reserve.pressure(cluster, lambda: 9.0) is first  # same free capacity: cached
    # One device of the two-device node taken: 17 of 18 free, 6 % less; blocks unchanged.
    taken = Allocation(node=2, devices=(0,), share=1000, vram=0, cpu_milli=0, memory_mib=0)
    cluster.allocate(taken)
    moved = reserve.pressure(cluster, lambda: 1.0)
    assert moved.tolist() == pytest.approx([16 * SHARE / 8, 16 * SHARE / 16])


def test_a_type_offered_no_block_has_no_pressure(make_node):
    two = build_cluster([make_node("two", devices=2)])
    reserve = WholeDeviceReserve.from_mix(MIX, 1)
    assert reserve.pressure(two, lambda: 0.0).tolist() == [0.0, 0.0]


def test_values_weigh_each_block_by_its_size_and_pressure_cubed(cluster):
    reserve = WholeDeviceReserve.from_mix(MIX, 1)
    ids = cluster.state_ids[:3]
    pressure = np.array([1.0, 0.5])
    assert POWER == 3
    values = reserve.values(cluster.interner, ids, pressure)
    assert values.tolist() == pytest.approx([8 + 0.125 * 8, 1.0, 0.0])
    # memoised by state id: asked again, out of order and repeated, the same rows
    again = reserve.values(cluster.interner, ids[[2, 0, 0]], pressure)
    assert again.tolist() == pytest.approx([0.0, 9.0, 9.0])


def test_a_reserve_keeps_the_ids_of_each_interner_apart(cluster, make_node):
    reserve = WholeDeviceReserve.from_mix(MIX, 1)
    eight = reserve.blocks_of(cluster.interner, cluster.state_ids[:1])
    other = build_cluster([make_node("two", devices=2)])  # its state 0 is another state
    assert reserve.blocks_of(other.interner, other.state_ids).tolist() == [[0.0, 0.0]]
    assert reserve.blocks_of(cluster.interner, cluster.state_ids[:1]).tolist() == eight.tolist()


def test_the_default_charges_the_reserve_a_placement_destroys(cluster):
    index = FragmentationIndex(MIX, cluster.interner)
    reserve = WholeDeviceReserve.from_mix(MIX, 1)
    with_reserve = HcsDefault(index, np.zeros(1), 0.0, reserve=reserve, reserve_weight=2.0)
    without = HcsDefault(index, np.zeros(1), 0.0)
    rng = np.random.default_rng(0)
    _, charged = score_nodes(cluster, ONE, with_reserve, rng)
    _, plain = score_nodes(cluster, ONE, without, rng)
    # The FGD measure calls 3 devices fragmented (small: both 8-device types, half the mix, x 2
    # devices; mid: the 100-core type, a quarter, x 8); pressures from 15 usable free devices.
    wide, eight = (15 * SHARE / 8) ** 3, (15 * SHARE / 16) ** 3
    lost = [8 * wide + 8 * eight, 8 * eight, 0.0]  # one device breaks big's and mid's blocks
    assert (plain.scores - charged.scores).tolist() == pytest.approx([2000 * x for x in lost])


def test_an_inactive_reserve_changes_nothing(cluster):
    mix = _mix(ONE)
    index = FragmentationIndex(mix, cluster.interner)
    reserve = WholeDeviceReserve.from_mix(mix, 1)
    rng = np.random.default_rng(0)
    _, a = score_nodes(cluster, ONE, HcsDefault(index, np.zeros(1), 0.0, reserve=reserve), rng)
    _, b = score_nodes(cluster, ONE, HcsDefault(index, np.zeros(1), 0.0), rng)
    assert a.scores.tolist() == b.scores.tolist()


def _plans(name, whole, share=(0, 0), cpu=0):
    """A request whose plan differs per model (A100, T4): hcs-exchange's conversions."""
    whole_ = np.array(whole, dtype=np.int32)
    return PlacementRequest(
        name=name,
        cpu_milli=cpu,
        memory_mib=0,
        whole=whole_,
        share=np.where(whole_ > 0, 1000, np.array(share)).astype(np.int32),
        vram=np.zeros(2, dtype=np.int64),
        allowed=np.ones(2, dtype=bool),
    )


@pytest.fixture
def two_models(make_node):
    return build_cluster(
        [
            make_node("a100", devices=5),
            make_node("t4", model="T4", devices=6),
            make_node("a100-small-host", devices=8, cpu=64_000),
        ]
    )


def test_a_type_taking_a_different_count_per_model_keeps_blocks_of_each(two_models):
    reserve = WholeDeviceReserve.from_mix(_mix(_plans("2-or-4", [2, 4])), 2)
    assert reserve.need.tolist() == [[2, 4]]
    keys = [two_models.state_key(n) for n in range(3)]
    # 5 idle A100s: 2 pairs (4 devices); 6 idle T4s: one block of 4; 8 A100s: 4 pairs.
    assert reserve.blocks(keys).reshape(-1).tolist() == [4, 4, 8]


def test_a_model_the_type_takes_a_share_of_keeps_no_block(two_models):
    reserve = WholeDeviceReserve.from_mix(_mix(_plans("2-or-half", [2, 0], share=(0, 500))), 2)
    assert reserve.need.tolist() == [[2, 0]]
    keys = [two_models.state_key(n) for n in range(2)]
    assert reserve.blocks(keys).reshape(-1).tolist() == [4, 0]


def test_the_host_keeps_only_the_blocks_its_cpu_can_feed(two_models):
    reserve = WholeDeviceReserve.from_mix(_mix(_plans("2-30-cores", [2, 2], cpu=30_000)), 2)
    # 64 cores feed two 30-core requests: 2 of the 4 A100 pairs are kept.
    assert reserve.blocks([two_models.state_key(2)]).tolist() == [[4.0]]


def test_demand_per_type_and_its_mean():
    half = uniform_request("half", 1, share=500)
    cpu = uniform_request("cpu", 1, cpu_milli=1000)
    mix = _mix(half, cpu, EIGHT, EIGHT)
    assert type_demand(mix, 1).tolist() == [0.5, 0.0, 8.0]
    assert mean_demand(mix, 1) == pytest.approx(0.25 * 0.5 + 0.5 * 8)
    assert mean_demand(_mix(half), 1) == 0.5
    assert mean_demand(_mix(cpu), 1) == 1.0  # asks no device: 1, not a division by zero


def test_pressure_is_recomputed_for_another_cluster_in_the_same_state(cluster, make_node):
    reserve = WholeDeviceReserve.from_mix(MIX, 1)
    first = reserve.pressure(cluster, lambda: 0.0)
    nodes = [make_node(n.name, devices=len(n.devices)) for n in cluster.nodes]
    twin = build_cluster(nodes, cluster.interner)  # one interner per reserve, as per index
    assert reserve.pressure(twin, lambda: 0.0) is not first


def test_pressure_waits_for_a_whole_percent_of_capacity(make_node):
    hundred = build_cluster([make_node(f"n{i}", devices=8) for i in range(25)])  # 200 devices
    reserve = WholeDeviceReserve.from_mix(MIX, 1)
    first = reserve.pressure(hundred, lambda: 0.0)
    one = Allocation(node=24, devices=(0,), share=1000, vram=0, cpu_milli=0, memory_mib=0)
    hundred.allocate(one)  # 99.5 % free: rounds to 100
    assert reserve.pressure(hundred, lambda: 0.0) is first
    hundred.allocate(
        Allocation(node=24, devices=(1,), share=1000, vram=0, cpu_milli=0, memory_mib=0)
    )
    assert reserve.pressure(hundred, lambda: 0.0) is not first  # 99 %


def test_a_node_left_with_a_block_pays_only_the_block_it_lost(make_node):
    # 16 idle devices keep two 8-blocks; one device taken leaves one. 8 idle: one block, none
    # left after. The charge is the difference, not the value before.
    cluster = build_cluster(
        [make_node("sixteen", devices=16, cpu=640_000), make_node("eight", devices=8)]
    )
    mix = _mix(EIGHT, ONE)
    index = FragmentationIndex(mix, cluster.interner)
    reserve = WholeDeviceReserve.from_mix(mix, 1)
    pressure = reserve.pressure(cluster, lambda: index.cluster_fragmentation(cluster) / 1000)
    block = 8 * pressure[0] ** 3
    assert block > 0
    rng = np.random.default_rng(0)
    with_reserve = HcsDefault(index, np.zeros(1), 0.0, reserve=reserve)
    _, charged = score_nodes(cluster, ONE, with_reserve, rng)
    _, plain = score_nodes(cluster, ONE, HcsDefault(index, np.zeros(1), 0.0), rng)
    assert (plain.scores - charged.scores).tolist() == pytest.approx([1000 * block] * 2)


def test_a_cluster_without_models_has_an_inactive_reserve():
    assert not WholeDeviceReserve.from_mix(MIX, 0).active
    assert mean_demand(MIX, 0) == 1.0
    assert type_demand(MIX, 0).tolist() == [0.0, 0.0, 0.0]


def test_no_usable_free_device_means_no_pressure(cluster):
    reserve = WholeDeviceReserve.from_mix(MIX, 1)
    assert reserve.pressure(cluster, lambda: 18.0).tolist() == [0.0, 0.0]  # all fragmented
    other = WholeDeviceReserve.from_mix(MIX, 1)
    assert other.pressure(cluster, lambda: 17.5).tolist() == pytest.approx(
        [0.5 * SHARE / 8, 0.5 * SHARE / 16]
    )


def test_a_model_taking_one_device_keeps_single_device_blocks(make_node):
    # Two A100s or one T4 do the work (a conversion): each idle T4 is a block.
    cluster = build_cluster([make_node("a100", devices=1), make_node("t4", model="T4", devices=1)])
    reserve = WholeDeviceReserve.from_mix(_mix(_plans("2-or-1", [2, 1])), 2)
    keys = [cluster.state_key(n) for n in range(2)]
    assert reserve.blocks(keys).tolist() == [[0.0], [1.0]]
    # One device offered: the type's share of the 2 usable devices over it, capped at 1.
    assert reserve.share[0] == pytest.approx(1.0)
    assert reserve.pressure(cluster, lambda: 1.5).tolist() == [pytest.approx(0.5)]


def test_the_host_cap_counts_only_requests_of_allowed_whole_models(make_node):
    a100, t4 = make_node("x", devices=4), make_node("x", model="T4", devices=4)
    mixed = NodeSpec(name="mixed", devices=a100.devices + t4.devices, cpu_milli=32_000)
    cluster = build_cluster([mixed])
    reserve = WholeDeviceReserve.from_mix(
        _mix(_plans("2-or-half", [2, 0], share=(0, 500), cpu=30_000)), 2
    )
    # Two A100 pairs, the host feeds one request: 2 of the 4 devices kept; T4s not counted.
    assert reserve.blocks([cluster.state_key(0)]).tolist() == [[2.0]]


def test_times_a_free_amount_fits_each_ask():
    fits = _times(np.array([3, 10]), np.array([1, 4, 0]))
    assert fits[:, :2].tolist() == [[3, 0], [10, 2]]
    assert (fits[:, 2] == np.iinfo(np.int64).max).all()  # asks none: no limit


def test_blocks_are_counted_once_per_state_id_and_interner(cluster, make_node, monkeypatch):
    reserve = WholeDeviceReserve.from_mix(MIX, 1)
    counted = []
    count = reserve._count
    monkeypatch.setattr(reserve, "_count", lambda keys: counted.append(len(keys)) or count(keys))
    ids = cluster.state_ids  # three hosts, three states
    first = reserve.blocks_of(cluster.interner, ids)
    assert reserve.blocks_of(cluster.interner, ids[::-1]).tolist() == first[::-1].tolist()
    assert counted == [3]  # the second call counts nothing
    cluster.allocate(
        Allocation(node=2, devices=(0,), share=1000, vram=0, cpu_milli=0, memory_mib=0)
    )  # a new state: the table grows, keeps the counted rows, counts the new one alone
    grown = reserve.blocks_of(cluster.interner, cluster.state_ids)
    assert counted == [3, 1]
    assert grown[:2].tolist() == first[:2].tolist()
    other = build_cluster([make_node("two", devices=2)])
    reserve.blocks_of(other.interner, other.state_ids)
    reserve.blocks_of(cluster.interner, cluster.state_ids)
    assert counted == [3, 1, 1]  # the other interner's state 0 counted apart, ours kept


def test_growing_the_table_keeps_the_counted_rows(make_node, monkeypatch):
    one = build_cluster([make_node("one", devices=8)])
    reserve = WholeDeviceReserve.from_mix(MIX, 1)
    counted = []
    count = reserve._count
    monkeypatch.setattr(reserve, "_count", lambda keys: counted.append(len(keys)) or count(keys))
    start = reserve.blocks_of(one.interner, one.state_ids)  # a table of 2 rows for 1 state
    for device in range(3):  # three new states: the interner outgrows the table
        one.allocate(
            Allocation(node=0, devices=(device,), share=1000, vram=0, cpu_milli=0, memory_mib=0)
        )
    both = reserve.blocks_of(one.interner, np.array([0, one.state_ids[0]]))
    assert counted == [1, 1]  # state 0 kept, the current one counted
    assert both[0].tolist() == start[0].tolist()
