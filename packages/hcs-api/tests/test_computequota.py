"""ComputeQuota validates its limits and selects pods the way a Kubernetes label selector does."""

import pytest

from hcs_api import InvalidResourceError, Quantity, parse_resource
from hcs_api.v1alpha1 import ComputeQuota, ComputeQuotaSpec


@pytest.fixture
def example(load_example):
    return load_example("computequota.yaml")


def test_example_quota_parses(example):
    quota = parse_resource(example)
    assert isinstance(quota, ComputeQuota)
    assert quota.spec.hard.vram == Quantity("320Gi")
    assert quota.spec.hard.acu == Quantity("800")
    assert quota.metadata.namespace == "research"


SELECTS = [
    ("no-selector-takes-all", {}, {}, None, True),
    (
        "match-labels-hit",
        {"podSelector": {"matchLabels": {"team": "nlp"}}},
        {"team": "nlp", "x": "y"},
        None,
        True,
    ),
    (
        "match-labels-miss",
        {"podSelector": {"matchLabels": {"team": "nlp"}}},
        {"team": "cv"},
        None,
        False,
    ),
    (
        "in-hit",
        {
            "podSelector": {
                "matchExpressions": [{"key": "w", "operator": "In", "values": ["a", "b"]}]
            }
        },
        {"w": "b"},
        None,
        True,
    ),
    (
        "in-missing-label",
        {"podSelector": {"matchExpressions": [{"key": "w", "operator": "In", "values": ["a"]}]}},
        {},
        None,
        False,
    ),
    (
        "notin-missing-label",
        {"podSelector": {"matchExpressions": [{"key": "w", "operator": "NotIn", "values": ["a"]}]}},
        {},
        None,
        True,
    ),
    (
        "exists",
        {"podSelector": {"matchExpressions": [{"key": "w", "operator": "Exists"}]}},
        {"w": ""},
        None,
        True,
    ),
    (
        "does-not-exist",
        {"podSelector": {"matchExpressions": [{"key": "w", "operator": "DoesNotExist"}]}},
        {"w": "1"},
        None,
        False,
    ),
    ("priority-class-hit", {"priorityClasses": ["batch"]}, {}, "batch", True),
    ("priority-class-miss", {"priorityClasses": ["batch"]}, {}, None, False),
]


@pytest.mark.parametrize(
    ("scope", "labels", "priority", "expected"),
    [s[1:] for s in SELECTS],
    ids=[s[0] for s in SELECTS],
)
def test_scope_selects_pods(scope, labels, priority, expected):
    spec = ComputeQuotaSpec.model_validate({"hard": {"vram": "1Gi"}, **scope})
    assert spec.selects(labels, priority) is expected


@pytest.mark.parametrize(
    ("hard", "message"),
    [
        ({"vram": "1.5"}, "not a whole number"),
        ({"acu": "-5"}, "negative"),
        ({"devices": -1}, "greater than or equal to 0"),
        ({"vram": "lots"}, "'lots' is not a Kubernetes quantity"),
    ],
    ids=["fractional-vram", "negative-acu", "negative-devices", "garbage"],
)
def test_bad_limits_are_rejected(example, hard, message):
    with pytest.raises(InvalidResourceError, match=message):
        parse_resource(example | {"spec": {"hard": hard}})


def test_selector_operator_and_values_must_agree(example):
    with pytest.raises(InvalidResourceError, match="operator In on key w needs values"):
        parse_resource(
            example
            | {
                "spec": {
                    "hard": {},
                    "podSelector": {"matchExpressions": [{"key": "w", "operator": "In"}]},
                }
            }
        )
    with pytest.raises(InvalidResourceError, match="operator Exists on key w takes no values"):
        parse_resource(
            example
            | {
                "spec": {
                    "hard": {},
                    "podSelector": {
                        "matchExpressions": [{"key": "w", "operator": "Exists", "values": ["a"]}]
                    },
                }
            }
        )
