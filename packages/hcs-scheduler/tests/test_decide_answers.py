"""The extender's prioritize, encode and plan answers, exactly, on small hand-built clusters."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hcs_api.v1alpha1 import ComputeNode
from hcs_exchange import Exchange
from hcs_scheduler.extender.decide import Decider, Unschedulable
from hcs_scheduler.extender.state import ClusterState


def computenode(
    name: str, devices: int, model: str = "H100-SXM5-80G", vram: str = "80Gi"
) -> ComputeNode:
    spec_devices = [
        {"id": f"nvidia-{i}", "uuid": f"{name}-{i}", "vendor": "nvidia", "model": model}
        | {"vram": vram}
        for i in range(devices)
    ]
    return ComputeNode.model_validate(
        {
            "metadata": {"name": name},
            "spec": {"nodeName": name, "vendors": ["nvidia"], "devices": spec_devices},
        }
    )


def pod(name: str, requests: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ml", "uid": name},
        "spec": {"containers": [{"name": "main", "resources": {"requests": requests}}]},
    }


def decider(exchange: Exchange, nodes: list[ComputeNode], policy: str = "best-fit") -> Decider:
    state = ClusterState()
    for node in nodes:
        state.upsert_node(node)
    state.synced = True
    return Decider(state, exchange, policy=policy)


def best_fit(exchange: Exchange) -> Decider:
    """H100 nodes of 1, 2, 5 and 9 devices and a T4 one; best-fit prefers the least free."""
    nodes = [computenode(f"n{d}", d) for d in (1, 2, 5, 9)]
    return decider(exchange, [*nodes, computenode("t4", 1, model="T4", vram="16Gi")])


VRAM_20 = pod("asked", {"ai.compute/vram": "20Gi"})


def test_prioritize_scales_the_asked_nodes_scores_from_0_to_10(exchange: Exchange) -> None:
    chosen = best_fit(exchange)
    # Free devices after: 1 -> 0.x, 2 -> 1.x, 5 -> 4.x: 100 %, 75 % (7.5: 8), 0 % of the asked range
    # (n9 was not asked: it does not stretch the range); t4 cannot take 20Gi; zz is unknown.
    scores = chosen.prioritize(VRAM_20, ["n1", "n2", "n5", "t4", "zz"])
    assert scores.pairs() == [("n1", 10), ("n2", 8), ("n5", 0), ("t4", 0), ("zz", 0)]
    assert scores.rows.tolist() == [0, 1, 2, 4, -1]
    assert scores.version == chosen.state.version


@pytest.mark.parametrize(
    "requests",
    [{"ai.compute/vram": "bad"}, {"ai.compute/vram": "200Gi"}, {"cpu": "1"}],
    ids=["invalid", "no-model-serves", "no-compute"],
)
def test_prioritize_scores_every_node_0_for_a_pod_it_cannot_place(
    exchange: Exchange, requests
) -> None:
    chosen = best_fit(exchange)
    scores = chosen.prioritize(pod("p", requests), ["n1", "n9", "zz"])
    assert scores.pairs() == [("n1", 0), ("n9", 0), ("zz", 0)]
    assert scores.version == chosen.state.version


def test_prioritize_under_random_fit_scores_the_only_fitting_node_10(exchange: Exchange) -> None:
    chosen = decider(
        exchange, [computenode("h", 1), computenode("t4", 1, model="T4", vram="16Gi")], "random-fit"
    )
    assert chosen.prioritize(VRAM_20, ["h", "t4"]).pairs() == [("h", 10), ("t4", 0)]
    assert chosen.plan(VRAM_20).node == "h"
    assert chosen.choose(VRAM_20, "h").node == "h"


def test_prioritize_plans_over_a_snapshot_that_changed_since_the_last_filter(
    exchange: Exchange,
) -> None:
    chosen = decider(exchange, [computenode("n1", 1), computenode("n2", 2)])
    chosen.filter(pod("other", {"ai.compute/vram": "30Gi"}), ["n1", "n2"])  # the recent mix
    chosen.state.upsert_node(computenode("n3", 3))
    scores = chosen.prioritize(VRAM_20, ["n1", "n2", "n3"])
    assert scores.pairs() == [("n1", 10), ("n2", 5), ("n3", 0)]


def _hosts(encoded: bytes) -> list[tuple[str, int]]:
    return [(h["Host"], h["Score"]) for h in orjson.loads(encoded)]


def test_priorities_of_an_older_snapshot_are_encoded_by_name(exchange: Exchange) -> None:
    chosen = best_fit(exchange)
    scores = chosen.prioritize(VRAM_20, ["n2", "n5"])
    chosen.state.delete_node("n1")  # every row after it moves up one
    chosen.state.cluster()
    assert _hosts(chosen.encode(scores)) == [("n2", 10), ("n5", 0)]


def test_the_encoder_follows_the_snapshot_it_encodes(exchange: Exchange) -> None:
    chosen = best_fit(exchange)
    assert _hosts(chosen.encode(chosen.prioritize(VRAM_20, ["n1", "n2"]))) == [
        ("n1", 10),
        ("n2", 0),
    ]
    chosen.state.delete_node("n1")
    assert _hosts(chosen.encode(chosen.prioritize(VRAM_20, ["n2", "n5"]))) == [
        ("n2", 10),
        ("n5", 0),
    ]


def test_plan_names_the_best_node_and_every_model_best_first(exchange: Exchange) -> None:
    # best-fit picks the one-device T4 node; then the models by how many nodes could take it.
    nodes = [computenode(f"h-{i}", 4) for i in range(3)]
    nodes += [computenode(f"a-{i}", 4, model="A100-SXM4-80G") for i in range(2)]
    nodes.append(computenode("t4-0", 1, model="T4", vram="16Gi"))
    plan = decider(exchange, nodes).plan(pod("p", {"ai.compute/vram": "10Gi"}))
    assert (plan.vendor, plan.model, plan.node, plan.error) == ("nvidia", "T4", "t4-0", None)
    assert [(c.vendor, c.model, c.nodes) for c in plan.candidates] == [
        ("nvidia", "T4", 1),
        ("nvidia", "H100-SXM5-80G", 3),
        ("nvidia", "A100-SXM4-80G", 2),
    ]


def _full(exchange: Exchange) -> Decider:
    chosen = decider(exchange, [computenode("n1", 1), computenode("n2", 1)])
    for node in ("n1", "n2"):
        booking = pod(f"on-{node}", {"ai.compute/vram": "70Gi"})
        chosen.state.assume(f"on-{node}", chosen.choose(booking, node), ttl=60)
    return chosen


PLAN_ERRORS = [
    (
        "nothing-fits-now",
        {"ai.compute/vram": "20Gi"},
        "no node can take the pod now: "
        "n1: needs 20Gi on one device; largest free here is 10Gi; "
        "n2: needs 20Gi on one device; largest free here is 10Gi",
    ),
    ("no-compute", {"cpu": "1"}, "the pod asks for no ai.compute resource"),
    (
        "no-model-serves",
        {"ai.compute/vram": "200Gi"},
        "H100-SXM5-80G: 200Gi VRAM must fit on one device and it holds 80Gi "
        "(ai.compute/vram is per device; ask ai.compute/devices, "
        'or annotate hcs.io/sharded: "true", to spread it over devices)',
    ),
    (
        "invalid",
        {"ai.compute/vram": "bad"},
        "the pod's request is invalid: container 'main': ai.compute/vram in requests: 'bad' is "
        "not a Kubernetes quantity: expected a number with an optional suffix, "
        "such as 16Gi, 500m, 1.5 or 1e3",
    ),
]


@pytest.mark.parametrize(
    ("requests", "error"), [c[1:] for c in PLAN_ERRORS], ids=[c[0] for c in PLAN_ERRORS]
)
def test_plan_says_why_no_vendor_can_be_chosen(exchange: Exchange, requests, error) -> None:
    plan = _full(exchange).plan(pod("p", requests))
    assert plan.error == error
    assert (plan.vendor, plan.model, plan.node, plan.candidates) == (None, None, None, [])


NO_COMPUTENODE = {"zz": "no ComputeNode for this node: hcs-agent does not report it"}
FILTER_REASONS = [
    # (case, requests, failed: may be freed by preemption, unresolvable: may not)
    (
        "vram-taken",
        {"ai.compute/vram": "20Gi"},
        dict.fromkeys(["n1", "n2"], "needs 20Gi on one device; largest free here is 10Gi"),
        NO_COMPUTENODE,
    ),
    (
        "no-model-serves",
        {"ai.compute/vram": "200Gi"},
        {},
        dict.fromkeys(["n1", "n2"], PLAN_ERRORS[2][2]) | NO_COMPUTENODE,
    ),
    (
        "invalid",
        {"ai.compute/vram": "bad"},
        {},
        dict.fromkeys(["n1", "n2", "zz"], PLAN_ERRORS[3][2]),
    ),
]


@pytest.mark.parametrize(
    ("requests", "failed", "unresolvable"),
    [c[1:] for c in FILTER_REASONS],
    ids=[c[0] for c in FILTER_REASONS],
)
def test_filter_tells_kube_scheduler_why_each_node_fails(
    exchange: Exchange, requests, failed, unresolvable
) -> None:
    result = _full(exchange).filter(pod("p", requests), ["n1", "n2", "zz"])
    assert result.node_names == []
    assert result.failed_nodes == failed
    assert result.failed_and_unresolvable_nodes == unresolvable


CHOOSE_ERRORS = [
    (
        "no-compute",
        {"cpu": "1"},
        "n1",
        "the pod asks for no ai.compute resource; HCS does not bind it",
    ),
    (
        "unknown-node",
        {"ai.compute/vram": "20Gi"},
        "zz",
        "node zz: no ComputeNode for this node: hcs-agent does not report it",
    ),
    (
        "node-full",
        {"ai.compute/vram": "20Gi"},
        "n1",
        "n1: needs 20Gi on one device; largest free here is 10Gi",
    ),
]


@pytest.mark.parametrize(
    ("requests", "node", "error"),
    [c[1:] for c in CHOOSE_ERRORS],
    ids=[c[0] for c in CHOOSE_ERRORS],
)
def test_choose_says_why_the_pod_cannot_be_bound_there(
    exchange: Exchange, requests, node, error
) -> None:
    with pytest.raises(Unschedulable) as raised:
        _full(exchange).choose(pod("p", requests), node)
    assert str(raised.value) == error


def test_filter_explains_each_request_shape_by_its_own_need(exchange: Exchange) -> None:
    chosen = _full(exchange)
    for vram in ("20Gi", "30Gi", "20Gi"):
        result = chosen.filter(pod("p", {"ai.compute/vram": vram}), ["n1", "n2"])
        reason = f"needs {vram} on one device; largest free here is 10Gi"
        assert result.failed_nodes == {"n1": reason, "n2": reason}
