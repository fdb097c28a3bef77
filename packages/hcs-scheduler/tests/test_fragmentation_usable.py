"""Cordoned devices and devices below the health floor are not free compute for FGD."""

import pytest

from hcs_scheduler import WorkloadMix, build_cluster, uniform_request
from hcs_scheduler.fragmentation import FragmentationIndex, placement_options

HALF = uniform_request("half", 1, share=500)
WHOLE = uniform_request("whole", 1, whole=1)


CPU_HUNGRY = WorkloadMix.from_requests([uniform_request("cpu", 1, share=500, cpu_milli=2000)])


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"cordoned": (1,)}, 1000),
        ({"health": (100, 49)}, 1000),
        ({"health": (50, 50)}, 2000),
        ({"cordoned": (0, 1)}, 0),
        ({"health": (10, 20)}, 0),
    ],
    ids=["cordoned", "below-floor", "at-floor", "all-cordoned", "all-below-floor"],
)
def test_a_node_the_mix_cannot_use_fragments_only_its_usable_devices(make_node, node, expected):
    # 1 core free, the mix's type wants 2: all the node's free compute is fragmented, but a
    # cordoned device or one below the health floor is not free compute.
    cluster = build_cluster([make_node("n", devices=2, cpu=1000, **node)])
    index = FragmentationIndex(CPU_HUNGRY, cluster.interner)
    assert index.cluster_fragmentation(cluster) == expected


def test_a_whole_type_needing_more_devices_than_are_usable_fragments_the_usable_ones(make_node):
    # Two whole devices wanted, one usable: the usable device's 1000 are fragmented for the
    # type, the cordoned one's are not counted.
    cluster = build_cluster([make_node("n", devices=2, cordoned=(1,))])
    mix = WorkloadMix.from_requests([uniform_request("two", 1, whole=2)])
    assert FragmentationIndex(mix, cluster.interner).cluster_fragmentation(cluster) == 1000


def _state(*devices):
    return (8000, 10**6, tuple(sorted(devices, reverse=True)))


@pytest.mark.parametrize(
    ("request_", "devices", "expected"),
    [
        (HALF, [(0, 1000, 0, False), (0, 300, 0, True)], []),
        (WHOLE, [(0, 1000, 0, False), (0, 300, 0, True)], []),
        (HALF, [(0, 1000, 0, False), (0, 600, 0, True)], [(0, 600, 0, True)]),
    ],
    ids=["share-skips-cordoned", "whole-skips-cordoned", "share-takes-the-usable"],
)
def test_placement_options_use_only_usable_devices(request_, devices, expected):
    options = placement_options(_state(*devices), request_)
    assert [o.device for o in options] == expected
