"""The 0-100 node scores prioritize reports, and the reasons a rejection gives."""

import numpy as np
import pytest

from hcs_scheduler import Rejection, build_cluster, node_scores, place, uniform_request
from hcs_scheduler.policies import RandomFit, Spread
from hcs_scheduler.request import PlacementRequest

GI = 1024**3


def test_node_scores_are_normalised_over_the_fitting_nodes_of_the_mask(make_node):
    cluster = build_cluster(
        [
            make_node("a", devices=4),
            make_node("b", devices=2),
            make_node("c", devices=3),
            make_node("outside-the-mask", devices=8),
            make_node("cordoned", devices=1, cordoned=(0,)),
        ]
    )
    among = np.array([True, True, True, False, True])
    scores = node_scores(
        cluster, uniform_request("r", 1, share=500), Spread(), np.random.default_rng(0), among
    )
    # Free devices after: 3.5, 1.5, 2.5; the cordoned node does not fit.
    assert scores == {"a": 100.0, "b": 0.0, "c": 50.0}


def test_node_scores_of_a_random_policy_follow_the_seed(make_node):
    cluster = build_cluster([make_node(n, devices=2) for n in ("a", "b", "c")])
    request = uniform_request("r", 1, share=500)

    def scores(seed):
        return node_scores(cluster, request, RandomFit(), np.random.default_rng(seed))

    assert scores(1) == scores(1)
    assert sorted(scores(1)) == ["a", "b", "c"]
    assert sorted(scores(1).values())[::2] == [0.0, 100.0]


def _no_fit_cluster(make_node, count):
    return build_cluster(
        [make_node(f"t4-{i}", model="T4", devices=1, vram=16 * GI) for i in range(count)]
    )


def test_rejection_explains_the_first_five_nodes(make_node):
    cluster = _no_fit_cluster(make_node, 7)
    outcome = place(
        cluster,
        uniform_request("r", 1, share=100, vram=40 * GI),
        Spread(),
        np.random.default_rng(0),
    )
    reason = "needs 40Gi on one device; largest free here is 16Gi"
    assert outcome == Rejection(tuple(f"t4-{i}: {reason}" for i in range(5)))


@pytest.mark.parametrize(
    ("reasons", "expected"),
    [
        ((), ("no model in the cluster can serve the request",)),
        (("T4: lacks fp64",), ("T4: lacks fp64",)),
    ],
    ids=["default-message", "the-request-s-own-reasons"],
)
def test_rejection_when_no_model_is_allowed(make_node, reasons, expected):
    cluster = _no_fit_cluster(make_node, 2)
    base = uniform_request("r", 1, share=100, allowed=[])
    request = PlacementRequest(**{**base.__dict__, "reasons": reasons})
    assert place(cluster, request, Spread(), np.random.default_rng(0)) == Rejection(expected)
