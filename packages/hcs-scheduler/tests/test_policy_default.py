"""The default policy's terms (scarcity, stranded devices, unusable host CPU, health) to the device
thousandth."""

import numpy as np
import pytest

from hcs_scheduler import NodeSpec, WorkloadMix, build_cluster, uniform_request
from hcs_scheduler.catalog import PolicyFactory
from hcs_scheduler.cluster import UNLIMITED
from hcs_scheduler.default_policy import (
    CPU_POWER,
    HOST_CPU,
    HcsDefault,
    cpu_per_device,
    cpu_pressure,
    model_pressure,
)
from hcs_scheduler.fragmentation import FragmentationIndex
from hcs_scheduler.placement import score_nodes
from hcs_scheduler.policies import Fragmentation

T4_VRAM = 16 * 2**30


def _mix(*requests):
    return WorkloadMix.from_requests(list(requests))


CPU_PER_DEVICE = [
    # (case, mix, host CPU per device): the CPU of device requests over the devices they take
    ("one-whole-device", _mix(uniform_request("w", 1, whole=1, cpu_milli=8000)), 8000.0),
    (
        "whole-share-and-cpu-only",
        _mix(
            uniform_request("two", 1, whole=2, cpu_milli=16_000),
            uniform_request("half", 1, share=500, cpu_milli=2000),
            uniform_request("cpu", 1, cpu_milli=30_000),
        ),
        18_000 / 2.5,
    ),
    ("cpu-only", _mix(uniform_request("cpu", 1, cpu_milli=30_000)), 0.0),
]


@pytest.mark.parametrize(
    ("mix", "expected"), [c[1:] for c in CPU_PER_DEVICE], ids=[c[0] for c in CPU_PER_DEVICE]
)
def test_cpu_per_device(mix, expected):
    assert cpu_per_device(mix) == pytest.approx(expected)


def _cluster(make_node, *models):
    # One node per (model, devices) pair; models sort by name: A100, T4, V100.
    return build_cluster(
        [make_node(f"{m}-{i}", model=m, devices=d, vram=T4_VRAM) for i, (m, d) in enumerate(models)]
    )


ANY = uniform_request("any", 3, whole=1)
T4_ONLY = uniform_request("t4", 3, whole=1, allowed=[1])
T4_HALF = uniform_request("t4-half", 3, share=500, allowed=[1])
T4_PAIR = uniform_request("t4-pair", 3, whole=2, allowed=[1])
T4_OR_V100 = uniform_request("t4-v100", 3, whole=1, allowed=[1, 2])
NOWHERE = uniform_request("nowhere", 3, whole=1, allowed=[])

PRESSURE = [
    # (case, mix, pressure per model A100, T4, V100); capacities 2, 2, 4 (8 devices)
    # 8 arrivals of mean demand 1; 2/3 of them (5.33 devices) go to the 2 T4s
    ("constrained-to-t4", _mix(ANY, T4_ONLY, T4_ONLY), [0.0, 8 * 2 / 3 / 2, 0.0]),
    # mean demand 0.75: 32/3 arrivals, half of them take half a T4
    ("half-shares", _mix(ANY, T4_HALF), [0.0, 32 / 3 * 0.25 / 2, 0.0]),
    # mean demand 1.5: 16/3 arrivals, half of them take two T4s
    ("two-whole-devices", _mix(ANY, T4_PAIR), [0.0, 16 / 3 * 0.5 * 2 / 2, 0.0]),
    # 4 devices' worth spread over the 6 devices of T4 and V100
    ("constrained-to-two-models", _mix(ANY, T4_OR_V100), [0.0, 4 / 6, 4 / 6]),
    ("unconstrained", _mix(ANY), [0.0, 0.0, 0.0]),
    # mean demand 0.5 (the type no model serves takes nothing): 16 arrivals, 8 want a T4
    ("a-type-no-model-serves-claims-nothing", _mix(T4_ONLY, NOWHERE), [0.0, 16 * 0.5 / 2, 0.0]),
    ("cpu-only", _mix(uniform_request("cpu", 3, cpu_milli=1000)), [0.0, 0.0, 0.0]),
]


@pytest.mark.parametrize(
    ("mix", "expected"), [c[1:] for c in PRESSURE], ids=[c[0] for c in PRESSURE]
)
def test_model_pressure(make_node, mix, expected):
    cluster = _cluster(make_node, ("A100", 2), ("T4", 2), ("V100", 4))
    assert model_pressure(mix, cluster).tolist() == pytest.approx(expected)


def test_model_pressure_on_a_model_with_one_device(make_node):
    # 3 arrivals of mean demand 1, half of them want the one T4.
    cluster = _cluster(make_node, ("A100", 2), ("T4", 1))
    mix = _mix(uniform_request("any", 2, whole=1), uniform_request("t4", 2, whole=1, allowed=[1]))
    assert model_pressure(mix, cluster).tolist() == pytest.approx([0.0, 1.5])


TERMS = [
    # (case, request, expected default score minus FGD's, per node): - scarcity - stranding
    # x 0.5 - unusable CPU + health / 10^4. Pressure 0.25 on A100, 0.75 on T4; 8 cores per
    # device. The mix's one type takes a whole device and no CPU, so CPU is unusable only on
    # a node without a whole free device.
    # a100: 2 devices, 16 cores; its last device is left with 4 cores: half of it stranded
    # t4: no CPU limit, so nothing is stranded; cpu-rich: 1 device, 64 cores, health 60: its
    # 52 cores left are unusable once its device is taken (6.5 devices' worth)
    # cpu-starved: 2 devices, 12 cores (half a device stranded already), none left after
    (
        "whole-device",
        uniform_request("r", 2, whole=1, cpu_milli=12_000),
        [-250 - 250 + 0.01, -750 + 0.01, -250 - 6500 + 0.006, -250 - 250 + 0.01],
    ),
    (
        "half-share",
        uniform_request("r", 2, share=500, cpu_milli=12_000),
        [-125 - 500 + 0.01, -375 + 0.01, -125 - 6500 + 0.006, -125 - 500 + 0.01],
    ),
]


@pytest.mark.parametrize(
    ("request_", "expected"), [c[1:] for c in TERMS], ids=[c[0] for c in TERMS]
)
def test_default_adds_scarcity_stranding_unusable_cpu_and_health_to_fgd(
    make_node, request_, expected
):
    cluster = build_cluster(
        [
            make_node("a100", devices=2, cpu=16_000),
            make_node("t4", model="T4", devices=2, vram=T4_VRAM, cpu=UNLIMITED),
            make_node("cpu-rich", devices=1, cpu=64_000, health=(60,)),
            make_node("cpu-starved", devices=2, cpu=12_000),
        ]
    )
    index = FragmentationIndex(_mix(uniform_request("m", 2, whole=1)), cluster.interner)
    policy = HcsDefault(index, np.array([0.25, 0.75]), cpu_per_device=8000)
    rng = np.random.default_rng(0)
    _, default = score_nodes(cluster, request_, policy, rng)
    _, fgd = score_nodes(cluster, request_, Fragmentation(index), rng)
    assert (default.scores - fgd.scores).tolist() == pytest.approx(expected, abs=1e-9)


def test_default_without_pressure_or_cpu_figure_is_fgd_plus_health(make_node):
    cluster = build_cluster(
        [make_node("a", devices=2, cpu=1000), make_node("b", devices=2, health=(80, 100))]
    )
    index = FragmentationIndex(_mix(uniform_request("m", 1, whole=1)), cluster.interner)
    policy = HcsDefault(index, np.zeros(1), cpu_per_device=0.0)
    request = uniform_request("r", 1, whole=1, cpu_milli=1000)
    rng = np.random.default_rng(0)
    _, default = score_nodes(cluster, request, policy, rng)
    _, fgd = score_nodes(cluster, request, Fragmentation(index), rng)
    assert (default.scores - fgd.scores).tolist() == pytest.approx([0.01, 0.009], abs=1e-9)


def test_a_node_mixing_models_pays_the_scarcity_of_the_model_the_request_takes(make_node):
    # A mixed node: an A100 (model 0) in slot 0, T4s (model 1) in slots 1 and 2. The request
    # may run on T4s only, which others can only run on (pressure 1): the cost is the same as
    # on a node of T4s alone, 1.0 x half a device x 1.0 x 1000.
    a100, t4 = make_node("x", devices=1), make_node("x", model="T4", devices=2, vram=T4_VRAM)
    mixed = NodeSpec(name="mixed", devices=a100.devices + t4.devices, cpu_milli=64_000)
    cluster = build_cluster([mixed, make_node("t4s", model="T4", devices=2, vram=T4_VRAM)])
    index = FragmentationIndex(_mix(uniform_request("m", 2, whole=1)), cluster.interner)
    request = uniform_request("t4-half", 2, share=500, allowed=[1])
    rng = np.random.default_rng(0)
    _, scarce = score_nodes(cluster, request, HcsDefault(index, np.array([0.0, 1.0]), 0.0), rng)
    _, free = score_nodes(cluster, request, HcsDefault(index, np.zeros(2), 0.0), rng)
    assert (free.scores - scarce.scores).tolist() == pytest.approx([500.0, 500.0])


def test_cpu_per_device_of_a_vram_only_mix_is_zero():
    # A type asking only VRAM takes no device's compute: no devices to spread its CPU over.
    mix = WorkloadMix.from_requests([uniform_request("vram", 1, vram=T4_VRAM, cpu_milli=1000)])
    assert cpu_per_device(mix) == 0.0


def test_a_cpu_only_task_leaves_host_cpu_the_mix_can_still_use(make_node):
    # Hosts without devices, 6 and 8 cores; the mix asks 4 cores, alone or with a device (4
    # cores per device). FGD sees no device fragments and ties (lowest index: the 6-core
    # host, left with 2 cores nobody fits). Unusable CPU before / after: 6-core host 3000 /
    # 2000 (half the mix never fits there, and after it nothing does), 8-core host 4000 /
    # 2000: -250 and -500 devices' worth, in thousandths (hosts without devices: no health).
    cluster = build_cluster(
        [make_node("six", devices=0, cpu=6000), make_node("eight", devices=0, cpu=8000)]
    )
    cpu_task = uniform_request("cpu", 1, cpu_milli=4000)
    mix = _mix(cpu_task, uniform_request("gpu", 1, whole=1, cpu_milli=4000))
    index = FragmentationIndex(mix, cluster.interner)
    policy = HcsDefault(index, np.zeros(1), cpu_per_device(mix))
    rng = np.random.default_rng(0)
    _, default = score_nodes(cluster, cpu_task, policy, rng)
    _, fgd = score_nodes(cluster, cpu_task, Fragmentation(index), rng)
    assert (default.scores - fgd.scores).tolist() == pytest.approx([250.0, 500.0], abs=1e-9)
    assert (np.argmax(fgd.scores), np.argmax(default.scores)) == (0, 1)


def test_unusable_cpu_is_not_charged_on_a_host_without_a_cpu_figure(make_node):
    cluster = build_cluster([make_node("open", devices=1, cpu=UNLIMITED)])
    mix = _mix(uniform_request("gpu", 1, whole=1, cpu_milli=4000))
    index = FragmentationIndex(mix, cluster.interner)
    request = uniform_request("r", 1, whole=1, cpu_milli=4000)
    rng = np.random.default_rng(0)
    _, default = score_nodes(cluster, request, HcsDefault(index, np.zeros(1), 4000.0), rng)
    _, fgd = score_nodes(cluster, request, Fragmentation(index), rng)
    assert (default.scores - fgd.scores).tolist() == pytest.approx([0.01], abs=1e-9)


ONE_CPU4 = uniform_request("gpu", 1, whole=1, cpu_milli=4000)
CPU8 = uniform_request("cpu", 1, cpu_milli=8000)

CPU_PRESSURE = [
    # (case, mix, expected): two hosts of 4 devices and 32 cores (8 devices, 64 cores). The mix
    # brings its CPU per device it fills; filling 8 devices it claims that x 8.
    ("half-the-cpu", _mix(ONE_CPU4), 0.5**CPU_POWER),  # 4 cores x 8 = 32 of 64
    ("cpu-only-tasks-count", _mix(ONE_CPU4, CPU8, CPU8), 1.0),  # 20 cores per device: capped
    # 20 cores per 3 devices: 53.3 of 64
    ("some-cpu-only", _mix(ONE_CPU4, ONE_CPU4, ONE_CPU4, CPU8), (20 / 3 * 8 / 64) ** CPU_POWER),
    ("no-device-demand", _mix(CPU8), 0.0),
]


@pytest.mark.parametrize(
    ("mix", "expected"), [c[1:] for c in CPU_PRESSURE], ids=[c[0] for c in CPU_PRESSURE]
)
def test_cpu_pressure(make_node, mix, expected):
    cluster = build_cluster([make_node(f"n{i}", devices=4, cpu=32_000) for i in range(2)])
    assert cpu_pressure(mix, cluster) == pytest.approx(expected)


def test_cpu_pressure_counts_only_hosts_with_a_cpu_figure(make_node):
    open_only = build_cluster([make_node("open", devices=4, cpu=UNLIMITED)])
    assert cpu_pressure(_mix(ONE_CPU4), open_only) == 0.0
    both = build_cluster(
        [make_node("open", devices=4, cpu=UNLIMITED), make_node("n", devices=4, cpu=32_000)]
    )
    assert cpu_pressure(_mix(ONE_CPU4), both) == 1.0  # 8 devices x 4 cores on 32 known cores


def test_cpu_pressure_of_a_host_of_one_milli_core(make_node):
    tiny = build_cluster([make_node("tiny", devices=1, cpu=1)])
    assert cpu_pressure(_mix(ONE_CPU4), tiny) == 1.0  # claims 4000 of 1


def test_the_factory_weighs_unusable_cpu_by_the_cpu_pressure(make_node):
    cluster = build_cluster([make_node(f"n{i}", devices=4, cpu=32_000) for i in range(2)])
    mix = _mix(ONE_CPU4)
    policy = PolicyFactory(mix, cluster).make("default")
    assert isinstance(policy, HcsDefault)
    assert policy.host_cpu == pytest.approx(HOST_CPU * 0.5**CPU_POWER)
