"""What a pod holds is exactly what it should, at every moment the cache can be asked:

- on a cluster large enough that the extender refits only the rows that changed (not the
  three-node one where it always starts over), a device booked between two filters of the
  same shape is never offered again, and one released is offered again;
- a pod whose allocation changes gives back the devices of the old one;
- a pod annotated with an allocation but not bound (a bind a crash cut short) holds nothing
  after a restart, and holds its devices once the binding shows;
- a bound pod keeps its devices when the assumption's time runs out before the watch event
  that shows the binding arrives (a slow watch), under a clock the test controls.
"""

from __future__ import annotations

from typing import Any

import pytest

from hcs_api import allocation_annotations
from hcs_api.names import BindPhase
from hcs_api.v1alpha1 import ComputeNode
from hcs_exchange import Exchange, load_database
from hcs_scheduler.extender.binder import Binder
from hcs_scheduler.extender.decide import Decider
from hcs_scheduler.extender.kube import InMemoryKube, Kind
from hcs_scheduler.extender.state import ClusterState
from hcs_scheduler.extender.wire import ExtenderBindingArgs

NODES = 40
"""Enough rows that one changed row is under the refit limit (an eighth of the cluster)."""
NAMES = [f"gpu-{i:02d}" for i in range(NODES)]


def computenode(name: str, devices: int = 1) -> ComputeNode:
    return ComputeNode.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "nodeName": name,
                "vendors": ["nvidia"],
                "devices": [
                    {
                        "id": f"nvidia-{i}",
                        "uuid": f"{name}-{i}",
                        "vendor": "nvidia",
                        "model": "H100-SXM5-80G",
                        "vram": "80Gi",
                    }
                    for i in range(devices)
                ],
            },
        }
    )


def pod(name: str, vram: str = "70Gi", node: str | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ml", "uid": f"uid-{name}"},
        "spec": {
            "containers": [{"name": "main", "resources": {"requests": {"ai.compute/vram": vram}}}]
        }
        | ({"nodeName": node} if node else {}),
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> ClusterState:
    state = ClusterState(clock)
    for name in NAMES:
        state.upsert_node(computenode(name))
    state.cluster()
    state.synced = True
    return state


@pytest.fixture
def decider(state: ClusterState) -> Decider:
    return Decider(state, Exchange(load_database()))


def annotated(name: str, allocation: Any, node: str | None) -> dict[str, Any]:
    """The pod as the API shows it with the allocation recorded; bound when `node` is set."""
    body = pod(name, node=node)
    body["metadata"]["annotations"] = allocation_annotations(allocation, BindPhase.BOUND)
    return body


def test_the_row_by_row_refit_never_offers_a_device_booked_since(
    state: ClusterState, decider: Decider
) -> None:
    asked = pod("asked")
    assert decider.filter(asked, NAMES).node_names == NAMES  # the fit is now kept
    mark = state.changes.mark()
    booked = decider.choose(pod("first"), "gpu-07")
    state.assume("uid-first", booked, ttl=30)
    assert state.changes.since(mark) == [7]  # one row changed: the refit path, not a new fit
    result = decider.filter(asked, NAMES)
    assert "gpu-07" not in result.node_names
    assert len(result.node_names) == NODES - 1
    assert "gpu-07" in result.failed_nodes
    state.forget("uid-first")  # the bind failed: the device is offered again
    assert decider.filter(asked, NAMES).node_names == NAMES


def test_the_refit_follows_many_bookings_one_filter_at_a_time(
    state: ClusterState, decider: Decider
) -> None:
    asked = pod("asked")
    for i in range(NODES - 1):
        offered = decider.filter(asked, NAMES).node_names
        assert len(offered) == NODES - i
        node = offered[0]
        state.assume(f"uid-{i}", decider.choose(pod(f"p{i}"), node), ttl=30)
    assert len(decider.filter(asked, NAMES).node_names) == 1


def test_a_pod_whose_allocation_changes_gives_back_the_old_devices(
    state: ClusterState, decider: Decider
) -> None:
    first = decider.choose(pod("moved"), "gpu-01")
    state.upsert_pod(annotated("moved", first, "gpu-01"))
    assert "gpu-01" not in decider.filter(pod("asked"), NAMES).node_names
    second = decider.choose(pod("moved"), "gpu-02")
    state.upsert_pod(annotated("moved", second, "gpu-02"))
    offered = decider.filter(pod("asked"), NAMES).node_names
    assert "gpu-01" in offered
    assert "gpu-02" not in offered
    assert [uid for uid, _ in state.held()] == ["uid-moved"]


def test_a_reserved_but_unbound_pod_holds_nothing_after_a_restart(
    clock: Clock, decider: Decider
) -> None:
    allocation = decider.choose(pod("cut-short"), "gpu-03")
    fresh = ClusterState(clock)  # a new process: nothing in memory, the API's pods only
    for name in NAMES:
        fresh.upsert_node(computenode(name))
    fresh.upsert_pod(annotated("cut-short", allocation, node=None))
    fresh_decider = Decider(fresh, Exchange(load_database()))
    assert "gpu-03" in fresh_decider.filter(pod("asked"), NAMES).node_names
    assert list(fresh.held()) == []
    fresh.upsert_pod(annotated("cut-short", allocation, node="gpu-03"))  # the binding shows
    assert "gpu-03" not in fresh_decider.filter(pod("asked"), NAMES).node_names


@pytest.mark.asyncio
async def test_a_bound_pod_keeps_its_devices_when_the_watch_is_slower_than_the_assumption(
    clock: Clock, state: ClusterState, decider: Decider
) -> None:
    kube = InMemoryKube()  # no watch feeds `state`: the binding's event never arrives
    kube.apply(Kind.POD, pod("slow-watch"))
    binder = Binder(state, decider, kube, assume_ttl=30)
    args = ExtenderBindingArgs.model_validate(
        {"PodName": "slow-watch", "PodNamespace": "ml", "PodUID": "uid-slow-watch"}
        | {"Node": "gpu-05"}
    )
    assert (await binder.bind(args)).error == ""
    clock.now = 3600.0  # far past the assumption's expiry
    assert "gpu-05" not in decider.filter(pod("asked"), NAMES).node_names
    assert state.holds("uid-slow-watch") is not None


def test_an_unconfirmed_assumption_still_expires(
    clock: Clock, state: ClusterState, decider: Decider
) -> None:
    state.assume("uid-hung", decider.choose(pod("hung"), "gpu-05"), ttl=30)
    clock.now = 29.0
    assert "gpu-05" not in decider.filter(pod("asked"), NAMES).node_names
    clock.now = 30.0
    assert "gpu-05" in decider.filter(pod("asked"), NAMES).node_names
