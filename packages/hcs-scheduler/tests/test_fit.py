"""Which nodes and devices can take a request: shares, whole devices, health, models, host."""

import numpy as np
import pytest

from hcs_scheduler import Allocation, build_cluster, uniform_request
from hcs_scheduler.fit import device_fit, explain

GI = 1024**3


def _cluster(make_node):
    return build_cluster(
        [
            make_node("a", devices=2),
            make_node("b", devices=4, cordoned=(0,), health=(100, 100, 30, 100)),
            make_node("t4", model="T4", devices=2, vram=16 * GI, cpu=8_000),
        ]
    )


CASES = [
    # (case, request kwargs, expected feasible node names)
    ("share-fits-everywhere", {"share": 500, "vram": 8 * GI}, ["a", "b", "t4"]),
    ("vram-rules-out-small-cards", {"share": 500, "vram": 40 * GI}, ["a", "b"]),
    ("two-whole-devices", {"whole": 2}, ["a", "b", "t4"]),
    ("three-whole-skips-sick-and-cordoned", {"whole": 3}, []),
    ("two-whole-only-healthy-counted", {"whole": 2, "cpu_milli": 10_000}, ["a", "b"]),
    ("cpu-only-request", {"cpu_milli": 60_000}, ["a", "b"]),
]


@pytest.mark.parametrize(("kwargs", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_feasible_nodes(make_node, kwargs, expected):
    cluster = _cluster(make_node)
    fit = device_fit(cluster, uniform_request("r", len(cluster.models), **kwargs))
    assert [cluster.nodes[n].name for n in fit.nodes.nonzero()[0]] == expected


def test_sick_and_cordoned_devices_never_get_work(make_node):
    cluster = _cluster(make_node)
    fit = device_fit(cluster, uniform_request("r", len(cluster.models), share=100))
    assert fit.share_ok[1].tolist() == [False, True, False, True]


def test_model_constraint(make_node):
    cluster = _cluster(make_node)
    t4 = cluster.models.index("T4")
    fit = device_fit(cluster, uniform_request("r", len(cluster.models), share=100, allowed=[t4]))
    assert fit.nodes.tolist() == [False, False, True]


def test_partly_used_device_is_not_whole(make_node):
    cluster = _cluster(make_node)
    cluster.allocate(Allocation(node=0, devices=(0,), share=100, vram=GI))
    fit = device_fit(cluster, uniform_request("r", len(cluster.models), whole=2))
    assert not fit.nodes[0]
    assert fit.share_ok[0][:2].tolist() == [False, False]
    share = device_fit(cluster, uniform_request("r", len(cluster.models), share=900))
    assert share.share_ok[0][:2].tolist() == [True, True]


def test_overcommit_is_refused(make_node):
    cluster = _cluster(make_node)
    with pytest.raises(ValueError, match="overcommits node a"):
        cluster.allocate(Allocation(node=0, devices=(0,), share=1500, vram=0))


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"share": 100, "vram": 40 * GI}, "needs 40Gi on one device; largest free here is 16Gi"),
        ({"cpu_milli": 9_000}, "needs 9000m CPU; 8000m free"),
        ({"whole": 4}, "needs 4 whole T4 devices; 2 free"),
    ],
    ids=["vram", "cpu", "whole"],
)
def test_explain_says_what_is_missing(make_node, kwargs, reason):
    cluster = _cluster(make_node)
    assert explain(cluster, uniform_request("r", len(cluster.models), **kwargs), 2) == reason


def _mixed_node(make_node, name):
    """A node with two models (the general fit path, not the one-model-per-node one)."""
    a, t4 = make_node(name, devices=2), make_node(name, model="T4", devices=2, vram=16 * GI)
    return type(a)(
        name=name,
        devices=a.devices
        + tuple(
            type(d)(id=str(2 + i), model=d.model, vendor=d.vendor, vram=d.vram)
            for i, d in enumerate(t4.devices)
        ),
    )


@pytest.mark.parametrize("mixed", [False, True], ids=["one-model-nodes", "a-mixed-node"])
def test_refitting_the_changed_rows_equals_fitting_the_whole_cluster(make_node, rng, mixed):
    from hcs_scheduler.fit import refit

    nodes = [make_node(f"n{i}", devices=4, cpu=16_000) for i in range(12)]
    nodes += [make_node(f"t{i}", model="T4", devices=2, vram=16 * GI) for i in range(6)]
    if mixed:
        nodes.append(_mixed_node(make_node, "mixed"))
    cluster = build_cluster(nodes)
    requests = [
        uniform_request("share", len(cluster.models), share=400, vram=12 * GI),
        uniform_request("whole", len(cluster.models), whole=2),
        uniform_request("host", len(cluster.models), share=100, vram=GI, cpu_milli=6_000),
    ]
    kept = [device_fit(cluster, r) for r in requests]
    for _ in range(40):
        node = int(rng.integers(cluster.size))
        slots = np.flatnonzero(cluster.dev_model[node] >= 0)
        slot = int(rng.choice(slots))
        allocation = Allocation(node, (slot,), share=300, vram=4 * GI, cpu_milli=2_000)
        try:
            cluster.allocate(allocation)
        except ValueError:
            continue
        for i, request in enumerate(requests):
            kept[i] = refit(cluster, request, kept[i], [node])
            fresh = device_fit(cluster, request)
            for mask in ("share_ok", "whole_ok", "nodes"):
                assert (getattr(kept[i], mask) == getattr(fresh, mask)).all(), (request.name, mask)


def test_a_taken_sub_snapshot_keeps_the_rows_it_names(make_node):
    cluster = build_cluster([make_node("a", devices=2), make_node("b", devices=4)])
    cluster.allocate(Allocation(1, (0, 1), share=500, vram=GI))
    part = cluster.take([1])
    assert [n.name for n in part.nodes] == ["b"]
    assert part.dev_share_free[0].tolist() == [500, 500, 1000, 1000]
    assert part.state_key(0) == cluster.state_key(1)
    part.dev_share_free[0, 0] = 0  # a copy: the snapshot is untouched
    assert cluster.dev_share_free[1, 0] == 500


@pytest.mark.parametrize(
    ("kwargs", "required", "share_ok", "whole_ok"),
    [
        ({"cpu_milli": 1_000}, False, [False] * 8, [False] * 8),
        ({"share": 100}, False, [True, True] + [False] * 6, [False] * 8),
        ({"whole": 2}, True, [False] * 8, [True, True] + [False] * 6),
    ],
    ids=["cpu-only-marks-no-device", "share-marks-no-whole-device", "required-whole-no-share"],
)
def test_device_masks_mark_only_the_request_s_kind(make_node, kwargs, required, share_ok, whole_ok):
    from dataclasses import replace

    from hcs_api import TopologyPreference

    cluster = build_cluster([make_node("a", devices=2), make_node("b", devices=8)])
    request = uniform_request("r", 1, **kwargs)
    if required:
        request = replace(request, topology=TopologyPreference.REQUIRED)
    fit = device_fit(cluster, request)
    assert (fit.share_ok[0].tolist(), fit.whole_ok[0].tolist()) == (share_ok, whole_ok)
