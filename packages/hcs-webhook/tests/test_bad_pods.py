"""Pods the fuzzer (bench/reliability/fuzz.py) found breaking the webhook: zero and huge
quantities get a normal answer, not a 500; fields of the wrong JSON type get a 400 naming them."""

import copy

import pytest

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]


def with_requests(kit, requests):
    review = kit.recorded("create-pod-nvidia.json")
    container = review["request"]["object"]["spec"]["containers"][0]
    container["resources"] = {"requests": requests}
    return review


@pytest.mark.parametrize(
    "requests",
    [{"ai.compute/vram": "0"}, {"ai.compute/vram": 0}, {"ai.compute/devices": "0", "cpu": "1"}],
    ids=["string-zero", "number-zero", "zero-beside-cpu"],
)
@pytest.mark.parametrize("endpoint", ["/mutate", "/validate"])
async def test_a_container_asking_zero_is_allowed_untouched(served, kit, endpoint, requests):
    # Issue 20: HTTP 500 from both endpoints.
    status, answer = await served.post(endpoint, with_requests(kit, requests))
    assert status == 200
    assert answer["response"]["allowed"] is True
    assert "patch" not in answer["response"]


@pytest.mark.parametrize("value", [1e71, 1e300, 10**80], ids=["1e71", "1e300", "int-1e80"])
@pytest.mark.parametrize("endpoint", ["/mutate", "/validate"])
async def test_a_quantity_beyond_the_range_is_denied_naming_it(served, kit, endpoint, value):
    # Issue 20: a JSON number of 1e71 or more was an HTTP 500.
    status, answer = await served.post(endpoint, with_requests(kit, {"ai.compute/vram": value}))
    assert status == 200
    assert answer["response"]["allowed"] is False
    message = answer["response"]["status"]["message"]
    assert "ai.compute/vram in requests" in message
    assert "out of the range of a quantity" in message


WRONG_TYPES = [
    ("volume-name-list", ("spec", "volumes", 0, "name"), [], "spec.volumes[0].name"),
    ("mounts-number", ("spec", "containers", 0, "volumeMounts"), 1.5, "volumeMounts"),
    ("env-name-object", ("spec", "containers", 0, "env", 0, "name"), {}, "env[0].name"),
    ("labels-list", ("metadata", "labels"), ["a"], "metadata.labels"),
    ("annotation-object", ("metadata", "annotations"), {"hcs.io/topology": {}}, "hcs.io/topology"),
    ("command-string-list", ("spec", "containers", 0, "command"), [1], "command[0]"),
]


@pytest.mark.parametrize(
    ("path", "value", "field"), [w[1:] for w in WRONG_TYPES], ids=[w[0] for w in WRONG_TYPES]
)
@pytest.mark.parametrize("endpoint", ["/mutate", "/validate"])
async def test_a_field_of_the_wrong_type_is_a_400_naming_it(
    served, kit, endpoint, path, value, field
):
    # Before: a 400 saying only `request.object is not a valid Pod: TypeError("unhashable
    # type: 'list'")` (or a 500), which names no field.
    review = kit.recorded("create-pod-nvidia.json")
    target = review["request"]["object"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = copy.deepcopy(value)
    status, answer = await served.post(endpoint, review)
    assert status == 400
    assert answer["error"].startswith("request.object is not a valid Pod: request.object.")
    assert field in answer["error"]
    assert "Error(" not in answer["error"]
