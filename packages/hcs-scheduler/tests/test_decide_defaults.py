"""The Decider's defaults and edge answers: quota reservations last 30 s, the seed is 0, policy
specs are checked by name, quota and no-model messages read exactly, and a fit kept across more
changes than the change log holds is computed anew."""

from __future__ import annotations

from typing import Any

import pytest

from hcs_api import ContainerAllocation, PodAllocation
from hcs_api.names import Vendor
from hcs_api.v1alpha1 import ComputeNode, ComputeQuota
from hcs_exchange import Exchange
from hcs_scheduler.errors import ConfigError
from hcs_scheduler.extender.decide import Decider
from hcs_scheduler.extender.state import ChangeLog, ClusterState

H100 = ("H100-SXM5-80G", "nvidia", "80Gi")
T4 = ("T4", "nvidia", "16Gi")
ONE_DEVICE = "VRAM must fit on one device"
SPREAD = (
    "(ai.compute/vram is per device; ask ai.compute/devices, or annotate hcs.io/sharded: "
    '"true", to spread it over devices)'
)
# The bundled Hygon Z100 profile has no VRAM: the node's report fills it.
Z100 = ("Hygon-Z100", "hygon", "32Gi")


def computenode(name: str, devices: int, kind: tuple[str, str, str] = H100) -> ComputeNode:
    model, vendor, vram = kind
    spec_devices = [
        {"id": f"{vendor}-{i}", "uuid": f"{name}-{i}", "vendor": vendor, "model": model}
        | {"vram": vram}
        for i in range(devices)
    ]
    spec = {"nodeName": name, "vendors": [vendor], "devices": spec_devices}
    return ComputeNode.model_validate({"metadata": {"name": name}, "spec": spec})


def pod(name: str, requests: dict[str, str], **annotations: str) -> dict[str, Any]:
    metadata = {"name": name, "namespace": "ml", "uid": f"uid-{name}", "annotations": annotations}
    return {
        "metadata": metadata,
        "spec": {"containers": [{"name": "main", "resources": {"requests": requests}}]},
    }


def quota(name: str, vram: str = "64Gi") -> ComputeQuota:
    body = {"metadata": {"name": name, "namespace": "ml"}, "spec": {"hard": {"vram": vram}}}
    return ComputeQuota.model_validate(body)


def state_of(*nodes: ComputeNode, clock: list[float] | None = None) -> ClusterState:
    now = clock if clock is not None else [0.0]
    state = ClusterState(clock=lambda: now[0])
    for node in nodes:
        state.upsert_node(node)
    state.synced = True
    return state


def whole_device(node: str, device: str) -> PodAllocation:
    held = ContainerAllocation(container="main", devices=[device], vram=80 << 30, share=1000)
    return PodAllocation(
        node=node,
        vendor=Vendor.NVIDIA,
        model=H100[0],
        vram=80 << 30,
        share=1000,
        containers=[held],
    )


@pytest.mark.parametrize(
    ("options", "ttl"), [({}, 30.0), ({"quota_ttl": 5.0}, 5.0)], ids=["default", "given"]
)
def test_a_quota_reservation_made_at_filter_lasts_quota_ttl_seconds(
    exchange: Exchange, options: dict[str, float], ttl: float
) -> None:
    clock = [0.0]
    state = state_of(computenode("n1", 2), clock=clock)
    state.upsert_quota(quota("team-a"))
    decider = Decider(state, exchange, **options)
    asks = {"ai.compute/vram": "48Gi"}
    assert decider.filter(pod("first", asks), ["n1"]).node_names == ["n1"]
    clock[0] = ttl - 0.001
    assert decider.filter(pod("second", asks), ["n1"]).node_names == []
    clock[0] = ttl
    assert decider.filter(pod("second", asks), ["n1"]).node_names == ["n1"]


def test_a_pod_over_two_quotas_is_refused_naming_both(exchange: Exchange) -> None:
    state = state_of(computenode("n1", 2))
    state.upsert_quota(quota("team-a"))
    state.upsert_quota(quota("team-b", "32Gi"))
    result = Decider(state, exchange).filter(pod("big", {"ai.compute/vram": "80Gi"}), ["n1"])
    assert result.failed_and_unresolvable_nodes == {
        "n1": "ComputeQuota ml/team-a: VRAM would be 80Gi (in use 0 + this pod 80Gi), over the "
        "limit of 64Gi; ComputeQuota ml/team-b: VRAM would be 80Gi (in use 0 + this pod 80Gi), "
        "over the limit of 32Gi"
    }


def test_the_default_seed_is_0(exchange: Exchange) -> None:
    nodes = [computenode(f"n{i:02d}", 1) for i in range(40)]
    asks = pod("p", {"ai.compute/vram": "20Gi"})
    chosen = [
        Decider(state_of(*nodes), exchange, policy="random-fit", **seed).plan(asks).node
        for seed in ({}, {"seed": 0}, {"seed": 1})
    ]
    assert chosen[0] == chosen[1]
    assert chosen[1] != chosen[2]  # the seed matters: the default is 0, not just any


@pytest.mark.parametrize(
    "spec",
    ["default", "best-fit:2,spread", "fgd:1, health:0.2", " binpack "],
    ids=["plain", "weighted", "spaced", "padded"],
)
def test_a_policy_spec_of_known_names_is_accepted(exchange: Exchange, spec: str) -> None:
    assert Decider(state_of(), exchange, policy=spec).policy_name == spec


KNOWN = (
    "default, random-fit, best-fit, gpu-packing, gpu-clustering, dot-product, fgd, "
    "fgd-published, binpack, spread, health"
)


@pytest.mark.parametrize(
    ("spec", "unknown"),
    [("bogus", "bogus"), ("best-fit,bogus:2", "bogus"), ("spread:1,best-fit:x:2,nope", "nope")],
    ids=["alone", "weighted-second", "third"],
)
def test_an_unknown_policy_name_is_refused_listing_the_known_ones(
    exchange: Exchange, spec: str, unknown: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Decider(state_of(), exchange, policy=spec)
    assert str(raised.value) == f"unknown policy {unknown!r}; known: {KNOWN}"


def test_plan_names_every_models_reason_when_none_can_serve(exchange: Exchange) -> None:
    decider = Decider(state_of(computenode("h", 1), computenode("t", 1, T4)), exchange)
    result = decider.plan(pod("p", {"ai.compute/vram": "100Gi"}))
    assert result.error == (
        f"H100-SXM5-80G: 100Gi {ONE_DEVICE} and it holds 80Gi {SPREAD}; "
        f"T4: 100Gi {ONE_DEVICE} and it holds 16Gi {SPREAD}"
    )


def test_plan_on_a_cluster_without_devices_says_no_model_serves(exchange: Exchange) -> None:
    result = Decider(state_of(), exchange).plan(pod("p", {"ai.compute/vram": "1Gi"}))
    assert result.error == "no device model in the cluster can serve it"


def test_filter_explains_each_unservable_pod_by_its_own_request(exchange: Exchange) -> None:
    decider = Decider(state_of(computenode("h", 1)), exchange)
    first = decider.filter(pod("a", {"ai.compute/vram": "100Gi"}), ["h"])
    second = decider.filter(pod("b", {"ai.compute/vram": "120Gi"}), ["h"])
    assert first.failed_and_unresolvable_nodes == {
        "h": f"H100-SXM5-80G: 100Gi {ONE_DEVICE} and it holds 80Gi {SPREAD}"
    }
    assert second.failed_and_unresolvable_nodes == {
        "h": f"H100-SXM5-80G: 120Gi {ONE_DEVICE} and it holds 80Gi {SPREAD}"
    }


def test_two_devices_are_refused_where_every_node_has_one(exchange: Exchange) -> None:
    decider = Decider(state_of(computenode("a", 1), computenode("b", 1)), exchange)
    result = decider.plan(pod("p", {"ai.compute/devices": "2"}))
    assert result.error == "H100-SXM5-80G: needs 2 devices, more than one node has"


def test_a_model_added_later_is_served_with_its_measured_vram(exchange: Exchange) -> None:
    state = state_of(computenode("h", 1))
    decider = Decider(state, exchange)
    asks = pod("p", {"ai.compute/vram": "16Gi"}, **{"hcs.io/vendors": "hygon"})
    assert decider.plan(asks).error is not None  # no Hygon node yet
    state.upsert_node(computenode("z", 1, Z100))
    assert decider.plan(asks).node == "z"


def test_a_fit_kept_across_more_changes_than_the_log_holds_is_computed_anew(
    exchange: Exchange,
) -> None:
    state = state_of(computenode("n1", 1))
    decider = Decider(state, exchange)
    asks = pod("p", {"ai.compute/vram": "80Gi"})
    assert decider.filter(asks, ["n1"]).node_names == ["n1"]
    taken = whole_device("n1", "nvidia-0")
    for _ in range(ChangeLog.LIMIT // 2 + 1):  # each assume and forget changes the row once
        state.assume("uid-other", taken, ttl=60)
        state.forget("uid-other")
    state.assume("uid-other", taken, ttl=60)
    assert decider.filter(asks, ["n1"]).node_names == []


def test_the_mix_a_policy_plans_for_is_the_last_512_requests_filtered(exchange: Exchange) -> None:
    decider = Decider(state_of(computenode("h", 2), computenode("t", 2, T4)), exchange)
    big, small = {"ai.compute/vram": "70Gi"}, {"ai.compute/vram": "8Gi"}
    for number, asks in enumerate([big] * 64 + [small] * 512):
        decider.filter(pod(f"p{number}", asks), ["h", "t"])
    # Only 8Gi pods in the window: an H100 is no scarcer than a T4 for one whole device (the
    # 70Gi pods that only an H100 serves, outside the window, would lower its score).
    one_device = pod("q", {"ai.compute/devices": "1"})
    assert decider.prioritize(one_device, ["h", "t"]).pairs() == [("h", 10), ("t", 10)]
