"""Bodies the fuzzer (bench/reliability/fuzz.py) found crashing the extender now get a 400 that
names the field, or a normal answer; an unexpected error is a JSON 500, never aiohttp's page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from hcs_api.v1alpha1 import ComputeNode
from hcs_scheduler.extender.app import EXTENDER_KEY, create_app
from hcs_scheduler.extender.build import build_extender
from hcs_scheduler.extender.settings import ExtenderSettings

pytestmark = pytest.mark.asyncio
NODES = ["gpu-h100", "npu-910b1"]


def computenode(name: str, model: str, vendor: str) -> ComputeNode:
    devices = [
        {"id": str(i), "uuid": f"{name}-{i}", "vendor": vendor, "model": model, "vram": "80Gi"}
        for i in range(2)
    ]
    spec = {"nodeName": name, "vendors": [vendor], "devices": devices}
    return ComputeNode.model_validate({"metadata": {"name": name}, "spec": spec})


def pod(requests: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    container = {"name": "main", "resources": {"requests": requests or {}}}
    return {
        "metadata": {"name": "p", "namespace": "ml", "uid": "uid-p", **metadata},
        "spec": {"containers": [container]},
    }


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient]:
    nodes = [
        computenode("gpu-h100", "H100-SXM5-80G", "nvidia"),
        computenode("npu-910b1", "Ascend-910B1", "ascend"),
    ]
    extender = build_extender(ExtenderSettings(), None, nodes=nodes)  # static: synced at once
    async with TestClient(TestServer(create_app(extender))) as served:
        yield served


async def answer(client: TestClient, path: str, body: Any) -> tuple[int, Any]:
    response = await client.post(path, json=body)
    assert response.content_type == "application/json", await response.text()
    return response.status, await response.json()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/filter", {"Pod": pod(labels=["a"]), "NodeNames": NODES}, "Pod.metadata.labels"),
        ("/prioritize", {"Pod": {"metadata": "p"}, "NodeNames": NODES}, "Pod.metadata"),
        ("/filter", {"Pod": pod(annotations={"a": 1}), "NodeNames": NODES}, "annotations.a"),
        ("/filter", {"Pod": {**pod(), "status": "Running"}, "NodeNames": NODES}, "Pod.status"),
        ("/plan", {"pod": {**pod(), "spec": {"priorityClassName": 7}}}, "spec.priorityClassName"),
        ("/filter", {"Pod": pod(), "Nodes": {"items": [{"metadata": "x"}]}}, "items[0].metadata"),
        ("/filter", {"Pod": pod(), "Nodes": {"items": ["gpu-h100"]}}, "Nodes.items[0]"),
    ],
    ids=["labels-list", "metadata-string", "annotation-number", "status-string",
         "priority-class-number", "node-metadata-string", "node-item-string"],
)  # fmt: skip
async def test_a_pod_or_node_of_the_wrong_json_types_is_a_400_naming_the_field(
    client: TestClient, path: str, body: Any, field: str
) -> None:
    status, error = await answer(client, path, body)
    assert status == 400
    assert field in error["Error"]


@pytest.mark.parametrize(
    "requests",
    [{"ai.compute/vram": "0"}, {"ai.compute/vram": 0}],
    ids=["string-zero", "number-zero"],
)
async def test_a_container_asking_zero_is_a_pod_asking_nothing(
    client: TestClient, requests: dict[str, Any]
) -> None:
    # Issue 20: HTTP 500 from /filter, /prioritize and /plan.
    status, result = await answer(client, "/filter", {"Pod": pod(requests), "NodeNames": NODES})
    assert (status, result["NodeNames"]) == (200, NODES)
    status, scores = await answer(client, "/prioritize", {"Pod": pod(requests), "NodeNames": NODES})
    assert (status, [s["Score"] for s in scores]) == (200, [0, 0])
    status, plan = await answer(client, "/plan", {"pod": pod(requests)})
    assert (status, plan["error"]) == (200, "the pod asks for no ai.compute resource")


async def test_a_quantity_beyond_the_range_fails_every_node_naming_it(client: TestClient) -> None:
    # Issue 20: a JSON number of 1e71 or more was an HTTP 500.
    body = {"Pod": pod({"ai.compute/vram": 1e71}), "NodeNames": NODES}
    status, result = await answer(client, "/filter", body)
    assert (status, result["NodeNames"]) == (200, [])
    reason = result["FailedAndUnresolvableNodes"]["gpu-h100"]
    assert "ai.compute/vram in requests: 1e+71 is out of the range of a quantity" in reason


async def test_an_unexpected_error_is_a_json_500_in_the_protocols_shape(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.app is not None
    extender = client.app[EXTENDER_KEY]

    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(extender.decider, "filter", broken)
    status, error = await answer(client, "/filter", {"Pod": pod(), "NodeNames": NODES})
    assert status == 500
    assert "internal error in hcs-scheduler" in error["Error"]
    assert "Traceback" not in error["Error"]
