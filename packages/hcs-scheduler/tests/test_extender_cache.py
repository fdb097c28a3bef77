"""The extender's caches stay true: what it keeps between requests (rows of name lists, device
fits refitted row by row, failure reasons per node state, status sums of changed nodes only,
status-only events skipped) never answers from a stale cluster."""

from __future__ import annotations

from typing import Any

import pytest

from hcs_api.v1alpha1 import ComputeNode
from hcs_scheduler.extender.build import build_extender
from hcs_scheduler.extender.kube import EventType, InMemoryKube, Kind, KubeError
from hcs_scheduler.extender.settings import ExtenderSettings
from hcs_scheduler.extender.state import ChangeLog, ClusterState
from hcs_scheduler.extender.status import StatusWriter
from hcs_scheduler.extender.sync import Syncer


def computenode(name: str, devices: int = 2, vram: str = "80Gi") -> dict[str, Any]:
    spec_devices = [
        {"id": f"nvidia-{i}", "uuid": f"{name}-{i}", "vendor": "nvidia", "model": "H100-SXM5-80G"}
        | {"vram": vram}
        for i in range(devices)
    ]
    return {
        "metadata": {"name": name},
        "spec": {"nodeName": name, "vendors": ["nvidia"], "devices": spec_devices},
    }


def pod(name: str, vram: str) -> dict[str, Any]:
    requests = {"ai.compute/vram": vram}
    return {
        "metadata": {"name": name, "namespace": "ml", "uid": name},
        "spec": {"containers": [{"name": "main", "resources": {"requests": requests}}]},
    }


NAMES = ["gpu-0", "gpu-1", "gpu-2"]


def static(names: list[str] = NAMES) -> Any:
    nodes = [ComputeNode.model_validate(computenode(n)) for n in names]
    return build_extender(ExtenderSettings(), None, nodes=nodes)


def test_the_change_log_answers_rows_since_a_mark_until_it_is_reset() -> None:
    log = ChangeLog()
    start = log.mark()
    for row in (3, 1, 3):
        log.add(row)
    assert log.since(start) == [1, 3]
    middle = log.mark()
    assert log.since(middle) == []
    log.reset()  # the snapshot was rebuilt: rows of the old one mean nothing
    assert log.since(start) is None
    assert log.since(middle) is None
    assert log.since(log.mark()) == []


def test_a_full_log_forgets_rather_than_grows() -> None:
    log = ChangeLog()
    start = log.mark()
    for row in range(ChangeLog.LIMIT + 1):
        log.add(row)
    assert log.since(start) is None


def test_filter_sees_every_allocation_taken_since_the_same_question() -> None:
    extender = static()
    state, decider = extender.state, extender.decider
    asked = pod("a", "70Gi")
    assert decider.filter(asked, list(NAMES)).node_names == NAMES
    for i in range(2):  # fill both devices of gpu-1 with 70Gi each
        allocation = decider.choose(pod(f"fill-{i}", "70Gi"), "gpu-1")
        state.assume(f"fill-{i}", allocation, ttl=60)
    result = decider.filter(asked, list(NAMES))  # same shape, same names: cached paths
    assert result.node_names == ["gpu-0", "gpu-2"]
    assert "largest free here is 10Gi" in result.failed_nodes["gpu-1"]
    state.forget("fill-0")
    result = decider.filter(asked, list(NAMES))
    assert result.node_names == NAMES
    assert not result.failed_nodes
    scores = decider.prioritize(asked, list(NAMES))
    assert scores.names == NAMES
    assert scores.scores.tolist() == [10, 10, 10]


def test_a_remembered_name_list_follows_nodes_that_come_and_go() -> None:
    extender = static()
    state, decider = extender.state, extender.decider
    asked = pod("a", "8Gi")
    assert decider.filter(asked, list(NAMES)).node_names == NAMES
    state.delete_node("gpu-2")
    result = decider.filter(asked, list(NAMES))
    assert result.node_names == ["gpu-0", "gpu-1"]
    assert "no ComputeNode" in result.failed_and_unresolvable_nodes["gpu-2"]
    state.upsert_node(ComputeNode.model_validate(computenode("gpu-2")))
    assert decider.filter(asked, list(NAMES)).node_names == NAMES
    assert decider.prioritize(asked, list(NAMES)).rows.tolist() == [0, 1, 2]


def test_status_only_events_leave_the_cache_alone_and_spec_changes_rebuild_it() -> None:
    state = ClusterState()
    syncer = Syncer(state, InMemoryKube())
    node = computenode("gpu-0")
    syncer.apply(Kind.COMPUTE_NODE, EventType.ADDED, node)
    kept, version = state.nodes["gpu-0"], (state.cluster(), state.version)[1]
    reported = node | {"status": {"devices": [{"id": "nvidia-0", "vram": "8Gi", "pods": 1}]}}
    syncer.apply(Kind.COMPUTE_NODE, EventType.MODIFIED, reported)
    assert state.nodes["gpu-0"] is kept
    state.cluster()
    assert state.version == version
    syncer.apply(Kind.COMPUTE_NODE, EventType.MODIFIED, computenode("gpu-0", devices=4))
    assert len(state.cluster().nodes[0].devices) == 4
    assert state.version == version + 1


def test_a_node_dropped_by_a_relist_comes_back_with_the_next_one() -> None:
    state = ClusterState()
    syncer = Syncer(state, InMemoryKube())
    syncer.replace(Kind.COMPUTE_NODE, [computenode("gpu-0"), computenode("gpu-1")])
    syncer.replace(Kind.COMPUTE_NODE, [computenode("gpu-0")])
    assert set(state.nodes) == {"gpu-0"}
    syncer.replace(Kind.COMPUTE_NODE, [computenode("gpu-0"), computenode("gpu-1")])
    assert set(state.nodes) == {"gpu-0", "gpu-1"}


@pytest.mark.asyncio
async def test_the_status_writer_sums_only_changed_nodes_and_retries_failed_writes() -> None:
    kube = InMemoryKube()
    state = ClusterState()
    for name in NAMES:
        kube.apply(Kind.COMPUTE_NODE, computenode(name))
        state.upsert_node(ComputeNode.model_validate(computenode(name)))
    extender = static()
    writer = StatusWriter(state, kube, interval=60)
    assert await writer.write_changed() == 0  # first round: every node, nothing held
    state.assume("p", extender.decider.choose(pod("p", "8Gi"), "gpu-1"), ttl=60)
    kube.fail_next["patch_computenode_status"] = KubeError("apiserver unavailable", 503)
    assert await writer.write_changed() == 0
    assert kube.calls[-1] == ("status", "gpu-1")
    assert await writer.write_changed() == 1  # retried at the next round
    stored = kube.stored(Kind.COMPUTE_NODE, "", "gpu-1")
    assert stored is not None
    assert stored["status"]["devices"][0]["pods"] == 1
    calls = len(kube.calls)
    assert await writer.write_changed() == 0
    assert len(kube.calls) == calls  # nothing changed: nothing summed, nothing written


def test_recent_keeps_the_entries_used_last() -> None:
    from hcs_scheduler.extender.caches import Recent

    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    assert recent.get("a") == 1  # "a" is now the most recently used
    recent.put("c", 3)  # drops "b", the least recently used
    assert recent.get("b") is None
    assert (recent.get("a"), recent.get("c")) == (1, 3)
