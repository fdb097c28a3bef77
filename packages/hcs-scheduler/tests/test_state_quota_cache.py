"""A namespace's ComputeQuota usage, kept between filter calls, follows every change of the cache
in any order (a pod bound or deleted, a reservation made or dropped, a quota replaced), and
counts exactly the pods the quota's selector and priority classes pick."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hcs_api import ContainerAllocation, PodAllocation, allocation_annotations
from hcs_api.names import BindPhase
from hcs_api.v1alpha1 import ComputeNode, ComputeQuota
from hcs_exchange import Exchange, load_database
from hcs_scheduler.extender.quota import QuotaBook
from hcs_scheduler.extender.state import ClusterState, pod_record

EXCHANGE = Exchange(load_database())
GI = 1 << 30
OVER = (
    "ComputeQuota ml/team-a: VRAM would be 96Gi (in use 48Gi + this pod 48Gi), over the limit "
    "of 64Gi"
)


def computenode() -> ComputeNode:
    devices = [
        {"id": f"nvidia-{i}", "uuid": f"gpu-01-{i}", "vendor": "nvidia"}
        | {"model": "H100-SXM5-80G", "vram": "80Gi"}
        for i in range(2)
    ]
    spec = {"nodeName": "gpu-01", "vendors": ["nvidia"], "devices": devices}
    return ComputeNode.model_validate({"metadata": {"name": "gpu-01"}, "spec": spec})


def quota(namespace: str = "ml", name: str = "team-a", **spec: Any) -> ComputeQuota:
    body = {"metadata": {"name": name, "namespace": namespace}}
    return ComputeQuota.model_validate(body | {"spec": {"hard": {"vram": "64Gi"}, **spec}})


def pod(
    name: str,
    vram: int = 48,
    namespace: str = "ml",
    labels: dict[str, str] | None = None,
    priority: str | None = None,
    bound_to: str | None = None,
) -> dict[str, Any]:
    """A pod asking `vram` Gi; bound to device nvidia-0 of `bound_to`, recorded, when set."""
    container = {"name": "main", "resources": {"requests": {"ai.compute/vram": f"{vram}Gi"}}}
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "uid": f"uid-{name}"}
    metadata["labels"] = labels or {}
    spec: dict[str, Any] = {"containers": [container]}
    if priority:
        spec["priorityClassName"] = priority
    if bound_to:
        share = vram * 1000 // 80
        held = ContainerAllocation(
            container="main", devices=["nvidia-0"], vram=vram * GI, share=share
        )
        allocation = PodAllocation(
            node=bound_to,
            vendor="nvidia",
            model="H100-SXM5-80G",
            vram=vram * GI,
            share=share,
            containers=[held],
        )
        metadata["annotations"] = allocation_annotations(allocation, BindPhase.BOUND)
        spec["nodeName"] = bound_to
    return {"metadata": metadata, "spec": spec}


class Cache:
    def __init__(self) -> None:
        self.state = ClusterState(lambda: 0.0)
        self.state.upsert_node(computenode())
        self.book = QuotaBook(self.state, EXCHANGE, ttl=30)

    def excess(self, asking: dict[str, Any]) -> list[str]:
        request = pod_record(asking, asking["metadata"]["uid"])
        assert request is not None
        problems = self.book.excess(asking, request.request)
        fresh = QuotaBook(self.state, EXCHANGE).excess(asking, request.request)
        assert problems == fresh  # what is kept is what a count from scratch gives
        return problems

    def reserve(self, name: str, vram: int = 48) -> None:
        record = pod_record(pod(name, vram), f"uid-{name}")
        assert record is not None
        self.state.reserve_quota(record, ttl=30)


Step = Callable[[Cache], None]


def x_bound(c: Cache) -> None:
    c.state.upsert_pod(pod("x", labels={"team": "a"}, bound_to="gpu-01"))


def x_deleted(c: Cache) -> None:
    c.state.delete_pod("uid-x")


def v_bound(c: Cache) -> None:
    c.state.upsert_pod(pod("v", vram=8, bound_to="gpu-01"))


def v_deleted(c: Cache) -> None:
    c.state.delete_pod("uid-v")


def x_reserved(c: Cache) -> None:
    c.reserve("x")


def x_forgotten(c: Cache) -> None:
    c.state.forget("uid-x")


def w_reserved(c: Cache) -> None:
    c.reserve("w", vram=8)


def w_forgotten(c: Cache) -> None:
    c.state.forget("uid-w")


def ghost_deleted(c: Cache) -> None:
    c.state.delete_pod("uid-never-seen")


def other_pod_seen(c: Cache) -> None:
    c.state.upsert_pod(pod("z", namespace="other"))


def quota_set(c: Cache) -> None:
    c.state.upsert_quota(quota())


def quota_for_team_b(c: Cache) -> None:
    c.state.upsert_quota(quota(podSelector={"matchLabels": {"team": "b"}}))


def quota_deleted(c: Cache) -> None:
    c.state.delete_quota("ml", "team-a")


def other_quota_set(c: Cache) -> None:
    c.state.upsert_quota(quota(namespace="other"))


def other_quota_deleted(c: Cache) -> None:
    c.state.delete_quota("other", "team-a")


def invalid_quota_deleted(c: Cache) -> None:
    c.state.delete_quota("ml", "never-valid")


SEQUENCES = [
    # (case, steps before the first check, its answer, steps between the checks, the second's)
    (
        "bound-pod-deleted",
        [x_bound, ghost_deleted, quota_set],
        [OVER],
        [x_deleted],
        [],
    ),
    (
        "bound-pod-deleted-after-another",
        [quota_set, x_bound, v_bound, v_deleted],
        [OVER],
        [x_deleted],
        [],
    ),
    (
        "quota-deleted",
        [x_bound, quota_set, invalid_quota_deleted],
        [OVER],
        [quota_deleted],
        [],
    ),
    (
        "quota-narrowed-after-a-pod-event",
        [x_bound, quota_set],
        [OVER],
        [other_pod_seen, quota_for_team_b],
        [],
    ),
    (
        "quota-deleted-and-created-narrower",
        [x_bound, other_quota_set, other_quota_deleted, quota_set],
        [OVER],
        [quota_deleted, quota_for_team_b],
        [],
    ),
    (
        "reservation-made-after-a-pod-event",
        [quota_set],
        [],
        [other_pod_seen, x_reserved],
        [OVER],
    ),
    (
        "reservation-dropped-after-a-pod-event",
        [quota_set, x_reserved, w_reserved, w_forgotten],
        [OVER],
        [other_pod_seen, x_forgotten],
        [],
    ),
]


@pytest.mark.parametrize(
    ("before", "first", "between", "second"),
    [s[1:] for s in SEQUENCES],
    ids=[s[0] for s in SEQUENCES],
)
def test_the_kept_quota_usage_follows_every_change(
    before: list[Step], first: list[str], between: list[Step], second: list[str]
) -> None:
    cache = Cache()
    asking = pod("y", labels={"team": "b"})
    for step in before:
        step(cache)
    assert cache.excess(asking) == first  # with x's 48Gi counted: 48 + 48 > 64Gi
    for step in between:
        step(cache)
    assert cache.excess(asking) == second


SELECTED = [
    # (case, quota spec, the holder's labels and priority class, the asker's, expected)
    (
        "same-labels",
        {"podSelector": {"matchLabels": {"team": "a"}}},
        ("a", None),
        ("a", None),
        [OVER],
    ),
    ("other-labels", {"podSelector": {"matchLabels": {"team": "a"}}}, ("b", None), ("a", None), []),
    ("same-priority", {"priorityClasses": ["high"]}, ("a", "high"), ("b", "high"), [OVER]),
    ("other-priority", {"priorityClasses": ["high"]}, ("a", "low"), ("b", "high"), []),
]


@pytest.mark.parametrize(
    ("spec", "holder", "asker", "expected"), [s[1:] for s in SELECTED], ids=[s[0] for s in SELECTED]
)
def test_a_quota_counts_only_the_pods_it_selects(
    spec: dict[str, Any],
    holder: tuple[str, str | None],
    asker: tuple[str, str | None],
    expected: list[str],
) -> None:
    cache = Cache()
    cache.state.upsert_quota(quota(**spec))
    team, priority = holder
    cache.state.upsert_pod(pod("x", labels={"team": team}, priority=priority, bound_to="gpu-01"))
    team, priority = asker
    assert cache.excess(pod("y", labels={"team": team}, priority=priority)) == expected


def no_uid(body: dict[str, Any]) -> dict[str, Any]:
    del body["metadata"]["uid"]
    return body


PLAIN = {"metadata": {"name": "p", "namespace": "ml", "uid": "uid-p"}, "spec": {"containers": []}}
RESERVATIONS = [
    # (case, the quota's namespace and spec, the pod passing filter, who holds a reservation)
    ("selected", ("ml", {}), pod("x"), ["uid-x"]),
    ("other-namespace", ("other", {}), pod("x"), []),
    ("no-uid", ("ml", {}), no_uid(pod("x")), []),
    ("asks-for-nothing", ("ml", {}), PLAIN, []),
    ("same-priority", ("ml", {"priorityClasses": ["high"]}), pod("x", priority="high"), ["uid-x"]),
    ("other-priority", ("ml", {"priorityClasses": ["high"]}), pod("x", priority="low"), []),
    (
        "other-labels",
        ("ml", {"podSelector": {"matchLabels": {"team": "a"}}}),
        pod("x", labels={"team": "b"}),
        [],
    ),
]


@pytest.mark.parametrize(
    ("selecting", "passed", "holders"),
    [r[1:] for r in RESERVATIONS],
    ids=[r[0] for r in RESERVATIONS],
)
def test_a_pod_passing_filter_reserves_only_under_a_quota_that_selects_it(
    selecting: tuple[str, dict[str, Any]], passed: dict[str, Any], holders: list[str]
) -> None:
    cache = Cache()
    namespace, spec = selecting
    cache.state.upsert_quota(quota(namespace, **spec))
    cache.book.reserve(passed)
    assert [record.uid for record in cache.state.quota_reserved()] == holders


FIRST = [
    # (case, what the quota sorted first selects, the namespaces of the quotas and the pods)
    ("first-ignores-the-pod", {"team": "z"}, "ml"),
    ("first-ignores-the-holder", {"team": "b"}, "ml"),
    ("pod-without-namespace", {"team": "b"}, None),
]


@pytest.mark.parametrize(("first", "namespace"), [f[1:] for f in FIRST], ids=[f[0] for f in FIRST])
def test_every_quota_of_the_namespace_is_checked_with_its_own_usage(
    first: dict[str, str], namespace: str | None
) -> None:
    """team-a (every pod) counts x's 48Gi; a-first (sorted before it) does not count x."""
    cache = Cache()
    stored = namespace or "default"
    selector = {"matchLabels": first}
    cache.state.upsert_quota(quota(stored, name="a-first", podSelector=selector))
    cache.state.upsert_quota(quota(stored))
    holder = pod("x", namespace=stored, labels={"team": "a"}, bound_to="gpu-01")
    cache.state.upsert_pod(holder)
    asking = pod("y", labels={"team": "b"})
    asking["metadata"]["namespace"] = namespace
    assert cache.excess(asking) == [OVER.replace("ml/", f"{stored}/")]


def test_a_pod_over_two_quotas_is_told_about_both() -> None:
    cache = Cache()
    cache.state.upsert_quota(quota(name="a-first"))
    cache.state.upsert_quota(quota())
    cache.state.upsert_pod(pod("x", bound_to="gpu-01"))
    assert cache.excess(pod("y")) == [OVER.replace("team-a", "a-first"), OVER]
