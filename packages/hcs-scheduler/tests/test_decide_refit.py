"""The extender's filter, on a cluster large enough that it refits only the rows that changed,
answers as a fresh fit would when several rows changed at once: whole devices and shares
booked, then given back, never offered twice and always offered again."""

from __future__ import annotations

from typing import Any

import pytest

from hcs_api.v1alpha1 import ComputeNode
from hcs_exchange import Exchange
from hcs_scheduler.extender.decide import Decider
from hcs_scheduler.extender.state import ClusterState

NODES = 40
"""Up to five changed rows (an eighth of the cluster) are refitted, not fitted anew."""
NAMES = [f"gpu-{i:02d}" for i in range(NODES)]
WHOLE = {"ai.compute/devices": "2"}
VRAM = {"ai.compute/vram": "70Gi"}


def computenode(name: str) -> ComputeNode:
    devices = [
        {"id": f"nvidia-{i}", "uuid": f"{name}-{i}", "vendor": "nvidia"}
        | {"model": "H100-SXM5-80G", "vram": "80Gi"}
        for i in range(2)
    ]
    return ComputeNode.model_validate(
        {
            "metadata": {"name": name},
            "spec": {"nodeName": name, "vendors": ["nvidia"], "devices": devices},
        }
    )


def pod(name: str, requests: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ml", "uid": name},
        "spec": {"containers": [{"name": "main", "resources": {"requests": requests}}]},
    }


@pytest.fixture
def decider(exchange: Exchange) -> Decider:
    state = ClusterState()
    for name in NAMES:
        state.upsert_node(computenode(name))
    state.cluster()
    state.synced = True
    return Decider(state, exchange)


def book(decider: Decider, uid: str, requests: dict[str, str], node: str) -> None:
    decider.state.assume(uid, decider.choose(pod(uid, requests), node), ttl=60)


def offered_but(*nodes: str) -> list[str]:
    return [n for n in NAMES if n not in nodes]


def test_filter_refits_several_booked_rows_at_once(decider: Decider) -> None:
    state = decider.state
    for asked in (WHOLE, VRAM):  # both shapes' fits are now kept
        assert decider.filter(pod("asked", asked), NAMES).node_names == NAMES
    mark = state.changes.mark()
    book(decider, "whole", WHOLE, "gpu-03")
    book(decider, "vram-0", VRAM, "gpu-05")
    book(decider, "vram-1", VRAM, "gpu-05")
    book(decider, "vram-2", VRAM, "gpu-09")
    assert state.changes.since(mark) == [3, 5, 9]  # under the limit: the refit path

    whole = decider.filter(pod("asked", WHOLE), NAMES)
    assert whole.node_names == offered_but("gpu-03", "gpu-05", "gpu-09")
    assert sorted(whole.failed_nodes) == ["gpu-03", "gpu-05", "gpu-09"]
    assert whole.failed_nodes["gpu-03"] == "needs 2 whole H100-SXM5-80G devices; 0 free"
    vram = decider.filter(pod("asked", VRAM), NAMES)
    assert vram.node_names == offered_but("gpu-03", "gpu-05")
    assert vram.failed_nodes == {
        "gpu-03": "needs 70Gi on one device; largest free here is 0Gi",
        "gpu-05": "needs 70Gi on one device; largest free here is 10Gi",
    }

    state.forget("whole")  # its bind failed: both devices are offered again
    state.forget("vram-2")
    assert decider.filter(pod("asked", WHOLE), NAMES).node_names == offered_but("gpu-05")
    assert decider.filter(pod("asked", VRAM), NAMES).node_names == offered_but("gpu-05")


def test_filter_fits_anew_when_more_rows_changed_than_it_refits(decider: Decider) -> None:
    assert decider.filter(pod("asked", WHOLE), NAMES).node_names == NAMES
    booked = [f"gpu-{i:02d}" for i in range(0, 12, 2)]  # six rows: over the limit of five
    for node in booked:
        book(decider, f"on-{node}", WHOLE, node)
    assert decider.filter(pod("asked", WHOLE), NAMES).node_names == offered_but(*booked)
