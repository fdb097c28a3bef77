"""The cache applies every watch event and bind step to what pods hold exactly: an event seen
while a bind is in flight changes nothing, a rolled-back record frees the devices, a failed bind
never frees what a landed binding holds, deletions of objects it never held are harmless, and an
allocation the cluster cannot hold is reported to the operator naming the pod."""

from __future__ import annotations

from typing import Any

import pytest

from hcs_api import (
    ContainerAllocation,
    PodAllocation,
    allocation_annotations,
    read_allocation,
    read_pod_request,
)
from hcs_api.names import BindPhase
from hcs_api.v1alpha1 import ComputeNode, ComputeQuota
from hcs_scheduler.extender.state import ChangeLog, ClusterState, PodRecord, pod_record

GI = 1 << 30


def computenode() -> ComputeNode:
    device = {"id": "nvidia-0", "uuid": "gpu-01-0", "vendor": "nvidia"}
    device |= {"model": "H100-SXM5-80G", "vram": "80Gi"}
    spec = {"nodeName": "gpu-01", "vendors": ["nvidia"], "devices": [device]}
    return ComputeNode.model_validate({"metadata": {"name": "gpu-01"}, "spec": spec})


def allocation(device: str = "nvidia-0", vram: int = 48) -> PodAllocation:
    share = vram * 1000 // 80
    held = ContainerAllocation(container="main", devices=[device], vram=vram * GI, share=share)
    return PodAllocation(
        node="gpu-01",
        vendor="nvidia",
        model="H100-SXM5-80G",
        vram=vram * GI,
        share=share,
        containers=[held],
    )


def pod(
    name: str = "x", recorded: PodAllocation | None = None, bound: bool = False
) -> dict[str, Any]:
    """A pod asking 48Gi; with the allocation `recorded` in its annotations, and bound to
    gpu-01 when `bound`."""
    container = {"name": "main", "resources": {"requests": {"ai.compute/vram": "48Gi"}}}
    metadata: dict[str, Any] = {"name": name, "namespace": "ml", "uid": f"uid-{name}"}
    spec: dict[str, Any] = {"containers": [container]}
    if recorded is not None:
        metadata["annotations"] = allocation_annotations(recorded, BindPhase.BOUND)
    if bound:
        spec["nodeName"] = "gpu-01"
    return {"metadata": metadata, "spec": spec}


@pytest.fixture
def state() -> ClusterState:
    state = ClusterState(lambda: 0.0)
    state.upsert_node(computenode())
    state.cluster()
    return state


def reserved(state: ClusterState) -> list[str]:
    return [record.uid for record in state.quota_reserved()]


def test_an_event_seen_while_the_bind_is_in_flight_changes_nothing(state: ClusterState) -> None:
    record = pod_record(pod(), "uid-x")
    assert record is not None
    state.reserve_quota(record, ttl=30)
    state.assume("uid-x", allocation(), ttl=30)
    state.upsert_pod(pod())  # e.g. a status update, from before the Binding landed
    assert state.holds("uid-x") == allocation()
    assert reserved(state) == ["uid-x"]


def test_a_record_removed_from_a_bound_pod_frees_its_devices(state: ClusterState) -> None:
    state.upsert_pod(pod(recorded=allocation(), bound=True))
    assert state.holds("uid-x") == allocation()
    state.upsert_pod(pod(bound=True))  # the annotations were rolled back
    assert list(state.held()) == []
    state.upsert_pod(pod("y", recorded=allocation(vram=80), bound=True))
    assert state.holds("uid-y") == allocation(vram=80)  # the whole device is free again


def test_a_failed_bind_never_frees_what_a_landed_binding_holds(state: ClusterState) -> None:
    """The Binding landed (the watch shows it) but its answer was lost: the bind reports a
    failure and forgets; the pod keeps its devices and its reservation is no longer needed."""
    record = pod_record(pod(), "uid-x")
    assert record is not None
    state.reserve_quota(record, ttl=30)
    state.assume("uid-x", allocation(), ttl=30)
    state.upsert_pod(pod(recorded=allocation(), bound=True))
    state.forget("uid-x")
    assert state.holds("uid-x") == allocation()
    assert reserved(state) == []


def test_forgetting_a_confirmed_bind_or_an_unknown_pod_frees_nothing(state: ClusterState) -> None:
    state.assume("uid-x", allocation(), ttl=30)
    state.confirm("uid-x")
    state.forget("uid-x")
    state.forget("uid-never-seen")
    assert list(state.held()) == [("uid-x", allocation())]


def test_a_deleted_pod_leaves_the_cache(state: ClusterState) -> None:
    state.upsert_pod(pod(recorded=allocation(), bound=True))
    state.delete_pod("uid-x")
    state.delete_pod("uid-never-seen")  # a DELETED event for a pod asking for nothing
    assert state.pods == {}
    assert list(state.held()) == []


def test_a_pod_without_a_uid_is_not_cached(state: ClusterState) -> None:
    body = pod(recorded=allocation(), bound=True)
    del body["metadata"]["uid"]
    state.upsert_pod(body)
    assert state.pods == {}
    assert list(state.held()) == []


def test_a_node_seen_again_unchanged_keeps_the_snapshot(state: ClusterState) -> None:
    version = state.version
    state.take_changed_nodes()
    state.upsert_node(computenode())  # a relist, or a status-only change
    state.cluster()
    assert state.version == version  # no rebuild: every cached fit stays valid
    assert state.take_changed_nodes() == set()


def test_deleting_a_node_never_cached_changes_nothing(state: ClusterState) -> None:
    state.delete_node("gpu-never-valid")  # its ComputeNode failed validation: never upserted
    assert list(state.nodes) == ["gpu-01"]
    assert state.index()["gpu-01"] == 0


@pytest.mark.parametrize("namespace", ["ml", None], ids=["namespaced", "no-namespace"])
def test_a_quota_is_deleted_under_the_key_it_was_stored_at(
    state: ClusterState, namespace: str | None
) -> None:
    body = {"metadata": {"name": "team-a", "namespace": namespace}}
    state.upsert_quota(ComputeQuota.model_validate(body | {"spec": {"hard": {"vram": "64Gi"}}}))
    assert list(state.quotas) == [(namespace or "", "team-a")]
    state.delete_quota(namespace or "", "team-a")
    assert state.quotas == {}


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hcs_scheduler.extender.state"]


def test_a_pod_holding_a_device_the_node_lacks_is_reported(
    state: ClusterState, caplog: pytest.LogCaptureFixture
) -> None:
    body = pod(recorded=allocation(device="nvidia-7"), bound=True)
    state.upsert_pod(body)
    recorded = read_allocation(body["metadata"]["annotations"])
    assert warnings(caplog) == [f"pod uid uid-x holds devices not in the cluster: {recorded}"]


def test_a_pod_overcommitting_its_device_is_reported(
    state: ClusterState, caplog: pytest.LogCaptureFixture
) -> None:
    state.upsert_pod(pod("x", recorded=allocation(), bound=True))
    state.upsert_pod(pod("y", recorded=allocation(), bound=True))  # 48 + 48Gi on an 80Gi device
    [warning] = warnings(caplog)
    assert warning.startswith("pod uid uid-y: allocation ")
    assert warning.endswith(" overcommits node gpu-01")


def test_a_repeated_event_of_a_bound_pod_changes_no_node(state: ClusterState) -> None:
    state.upsert_pod(pod(recorded=allocation(), bound=True))
    assert state.take_changed_nodes() == {"gpu-01"}
    mark = state.changes.mark()
    state.upsert_pod(pod(recorded=allocation(), bound=True))  # e.g. its status changed
    assert state.take_changed_nodes() == set()  # no ComputeNode status to write again
    assert state.changes.since(mark) == []  # no fit to compute again


def test_an_assumption_taken_twice_still_expires(state: ClusterState) -> None:
    clock = [0.0]
    state.clock = lambda: clock[0]
    state.assume("uid-x", allocation(), ttl=30)
    clock[0] = 20.0
    state.assume("uid-x", allocation(), ttl=30)
    clock[0] = 100.0
    state.cluster()
    assert list(state.held()) == []


def test_a_bind_in_flight_decided_again_moves_its_devices_and_keeps_its_share(
    state: ClusterState,
) -> None:
    record = pod_record(pod(), "uid-x")
    assert record is not None
    state.reserve_quota(record, ttl=30)
    state.assume("uid-x", allocation(vram=48), ttl=30)
    state.assume("uid-x", allocation(vram=40), ttl=30)
    assert list(state.held()) == [("uid-x", allocation(vram=40))]
    assert reserved(state) == ["uid-x"]
    state.upsert_pod(pod("y", recorded=allocation(vram=40), bound=True))  # 40 + 40Gi fit
    assert state.holds("uid-y") == allocation(vram=40)


def test_the_change_log_goes_back_exactly_its_limit() -> None:
    log = ChangeLog()
    mark = log.mark()
    for row in range(ChangeLog.LIMIT):
        log.add(row % 3)
    assert log.since(mark) == [0, 1, 2]
    log.add(5)
    assert log.since(mark) is None  # too old: recompute everything


BAD_ALLOCATION = {"hcs.io/allocation": "not json", "hcs.io/bind-phase": "bound"}
BAD_ALLOCATION_WARNING = (
    "pod ml/x: annotation hcs.io/allocation is not a valid allocation: (document): Invalid "
    "JSON: expected ident at line 1 column 2"
)
BAD_REQUEST_WARNING = (
    "pod ml/x: container 'main': ai.compute/vram in requests: 'lots' is not a Kubernetes "
    "quantity: expected a number with an optional suffix, such as 16Gi, 500m, 1.5 or 1e3"
)


def described(
    metadata: dict[str, Any] | None = None, recorded: bool = False, **spec: Any
) -> dict[str, Any]:
    body = pod(recorded=allocation() if recorded else None)
    body["metadata"] |= metadata or {}
    body["spec"] |= spec
    return body


def record(
    namespace: str = "ml",
    name: str = "x",
    labels: dict[str, str] | None = None,
    priority_class: str | None = None,
    held: PodAllocation | None = None,
    annotated: PodAllocation | None = None,
) -> PodRecord:
    request = read_pod_request(pod())
    return PodRecord(
        "uid-x", namespace, name, labels or {}, priority_class, request, held, annotated
    )


DELETING = {"deletionTimestamp": "2026-01-01T00:00:00Z"}
RECORDS = [
    # (case, the pod as the API shows it, the cache's record of it, what the operator is told)
    (
        "labelled-with-priority",
        described({"labels": {"team": "a"}}, priorityClassName="high"),
        record(labels={"team": "a"}, priority_class="high"),
        [],
    ),
    (
        "no-namespace-no-name",
        described({"namespace": None, "name": None}),
        record(namespace="", name=""),
        [],
    ),
    ("reserved-unbound", described(recorded=True), record(annotated=allocation()), []),
    (
        "bound",
        described(recorded=True, nodeName="gpu-01"),
        record(held=allocation(), annotated=allocation()),
        [],
    ),
    (
        "recorded-for-another-node",
        described(recorded=True, nodeName="gpu-02"),
        record(annotated=allocation()),
        [],
    ),
    ("deleted-before-binding", described(DELETING), None, []),
    (
        "deleted-while-bound",
        described(DELETING, recorded=True, nodeName="gpu-01"),
        record(held=allocation(), annotated=allocation()),
        [],
    ),
    (
        "bad-allocation-record",
        described({"annotations": BAD_ALLOCATION}, nodeName="gpu-01"),
        record(),
        [BAD_ALLOCATION_WARNING],
    ),
    (
        "bad-request",
        described(
            containers=[{"name": "main", "resources": {"requests": {"ai.compute/vram": "lots"}}}]
        ),
        None,
        [BAD_REQUEST_WARNING],
    ),
]


@pytest.mark.parametrize(
    ("body", "expected", "warned"), [r[1:] for r in RECORDS], ids=[r[0] for r in RECORDS]
)
def test_the_cache_records_exactly_what_a_pod_shows(
    body: dict[str, Any],
    expected: PodRecord | None,
    warned: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert pod_record(body, "uid-x") == expected
    assert warnings(caplog) == warned


def test_a_pod_holding_a_missing_device_is_reported_when_the_snapshot_is_built(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = ClusterState(lambda: 0.0)  # a fresh process: pods are listed before the first read
    state.upsert_node(computenode())
    body = pod(recorded=allocation(device="nvidia-7"), bound=True)
    state.upsert_pod(body)
    state.cluster()
    recorded = read_allocation(body["metadata"]["annotations"])
    assert warnings(caplog) == [f"pod uid uid-x holds devices not in the cluster: {recorded}"]


def test_a_quota_reservation_ends_exactly_at_its_expiry() -> None:
    clock = [0.0]
    state = ClusterState(lambda: clock[0])
    record = pod_record(pod(), "uid-x")
    assert record is not None
    state.reserve_quota(record, ttl=30)
    clock[0] = 29.5
    assert reserved(state) == ["uid-x"]
    clock[0] = 30.0
    assert reserved(state) == []
