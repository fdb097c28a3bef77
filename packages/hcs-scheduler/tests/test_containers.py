"""A pod's placement is split per container: shared devices by slice, whole devices dealt out."""

import numpy as np

from hcs_api import read_pod_request
from hcs_scheduler import PolicyFactory, WorkloadMix, build_cluster, place, uniform_request
from hcs_scheduler.containers import split

GI = 1024**3


def _pod(containers, init=()):
    def spec(name, limits, restart=None):
        c = {"name": name, "resources": {"limits": limits}}
        if restart:
            c["restartPolicy"] = restart
        return c

    return read_pod_request(
        {
            "spec": {
                "containers": [spec(*c) for c in containers],
                "initContainers": [spec(*c) for c in init],
            }
        }
    )


def _place(make_node, **kwargs):
    cluster = build_cluster([make_node("n", devices=8)])
    policy = PolicyFactory(
        WorkloadMix.from_requests([uniform_request("m", 1, share=100)]), cluster
    ).make("default")
    return place(cluster, uniform_request("r", 1, **kwargs), policy, np.random.default_rng(0))


def test_shared_device_is_sliced_by_what_each_container_asked(make_node):
    pod = _pod(
        [
            ("main", {"ai.compute/vram": "30Gi", "ai.compute/tflops-fp16": "90"}),
            ("helper", {"ai.compute/vram": "10Gi", "ai.compute/tflops-fp16": "30"}),
            ("logs", {"cpu": "1"}),
        ]
    )
    placement = _place(make_node, share=400, vram=40 * GI)
    parts = {p.container: p for p in split(placement, pod)}
    assert set(parts) == {"main", "helper"}
    assert parts["main"].device_ids == parts["helper"].device_ids == placement.device_ids
    assert (parts["main"].vram, parts["main"].share) == (30 * GI, 300)
    assert (parts["helper"].vram, parts["helper"].share) == (10 * GI, 100)


def test_whole_devices_are_dealt_out_by_requested_count(make_node):
    pod = _pod(
        [("trainer", {"ai.compute/devices": "6"}), ("evaluator", {"ai.compute/devices": "2"})],
        init=[("warmup", {"ai.compute/devices": "8"})],
    )
    placement = _place(make_node, whole=8)
    parts = {p.container: p for p in split(placement, pod)}
    assert len(parts["trainer"].device_ids) == 6
    assert len(parts["evaluator"].device_ids) == 2
    assert set(parts["trainer"].device_ids).isdisjoint(parts["evaluator"].device_ids)
    assert parts["warmup"].device_ids == placement.device_ids  # init containers run alone
