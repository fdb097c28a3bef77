"""Malformed reviews thrown at the real server: every answer is 200 or 400, never a 5xx."""

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Values that look like what HCS reads, to get past the first checks more often.
NEAR = st.sampled_from(
    ["16Gi", "-1", "0.5", "1e400", "ai.compute/vram", "hcs.io/node", "nvidia", "CREATE", "", None]
)
FIELDS = [
    ("request",),
    ("request", "uid"),
    ("request", "operation"),
    ("request", "object"),
    ("request", "object", "spec"),
    ("request", "object", "spec", "containers"),
    ("request", "object", "spec", "containers", 0),
    ("request", "object", "spec", "containers", 0, "resources"),
    ("request", "object", "spec", "containers", 0, "resources", "limits"),
    ("request", "object", "spec", "containers", 0, "env"),
    ("request", "object", "spec", "containers", 0, "volumeMounts"),
    ("request", "object", "spec", "initContainers"),
    ("request", "object", "spec", "affinity"),
    ("request", "object", "spec", "volumes"),
    ("request", "object", "metadata"),
    ("request", "object", "metadata", "annotations"),
    ("request", "oldObject"),
    ("request", "userInfo"),
]


def mutate_at(document, path, value):
    """Set `value` at `path` where that path still exists; otherwise leave the document."""
    target = document
    for key in path[:-1]:
        in_dict = isinstance(target, dict) and key in target
        in_list = isinstance(target, list) and isinstance(key, int) and len(target) > key
        if in_dict or in_list:
            target = target[key]
        else:
            return document
    if isinstance(target, dict):
        target[path[-1]] = value
    elif isinstance(target, list) and target:
        target[0] = value
    return document


@pytest.mark.timeout(180)
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    changes=st.lists(st.tuples(st.sampled_from(FIELDS), JSON | NEAR), min_size=1, max_size=4),
    endpoint=st.sampled_from(["/mutate", "/validate"]),
    raw=st.none() | st.binary(max_size=64),
)
async def test_malformed_reviews_never_get_a_5xx(served, kit, changes, endpoint, raw):
    document = kit.recorded("create-pod-nvidia.json")
    for path, value in changes:
        document = mutate_at(document, path, copy.deepcopy(value))
    body = raw if raw is not None else json.dumps(document).encode()
    status, answer = await served.post(endpoint, body)
    assert status in (200, 400), answer
    if status == 200:
        assert answer["response"]["allowed"] in (True, False)
