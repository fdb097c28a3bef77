"""ai.compute/vram is what one device must hold: the extender offers no node whose devices are
each too small, says which rule refused it, and spreads the VRAM only when the pod asks for N
devices or declares sharded work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from hcs_scheduler.extender.app import create_app
from hcs_scheduler.extender.build import build_extender
from hcs_scheduler.extender.kube import InMemoryKube, Kind
from hcs_scheduler.extender.settings import ExtenderSettings

pytestmark = pytest.mark.asyncio

NODES = {
    "gpu-h100": ("H100-SXM5-80G", "nvidia", 2, "80Gi"),
    "npu-910b1": ("Ascend-910B1", "ascend", 2, "64Gi"),
    "gpu-a10": ("A10", "nvidia", 4, "24Gi"),
}
PER_DEVICE_RULE = "VRAM must fit on one device"


def computenode(name: str, model: str, vendor: str, count: int, vram: str) -> dict[str, Any]:
    devices = [
        {
            "id": f"{vendor}-{i}",
            "uuid": f"{name}-{i}",
            "vendor": vendor,
            "model": model,
            "vram": vram,
        }
        for i in range(count)
    ]
    return {
        "apiVersion": "hcs.io/v1alpha1",
        "kind": "ComputeNode",
        "metadata": {"name": name},
        "spec": {"nodeName": name, "vendors": [vendor], "devices": devices},
    }


def pod(requests: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "train",
            "namespace": "ml",
            "uid": "uid-train",
            "annotations": annotations or {},
        },
        "spec": {"containers": [{"name": "main", "resources": {"requests": requests}}]},
    }


async def serving(nodes: dict[str, tuple[str, str, int, str]]) -> TestClient:
    kube = InMemoryKube()
    for name, spec in nodes.items():
        kube.apply(Kind.COMPUTE_NODE, computenode(name, *spec))
    extender = build_extender(ExtenderSettings(), kube)
    client = TestClient(TestServer(create_app(extender)))
    await client.start_server()
    for _ in range(100):
        if extender.state.synced:
            break
        await asyncio.sleep(0.01)
    return client


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient]:
    client = await serving(NODES)
    yield client
    await client.close()


async def _filter(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/filter", json={"Pod": body, "NodeNames": sorted(NODES)})
    assert response.status == 200
    result: dict[str, Any] = await response.json()
    return result


async def test_70gi_without_a_device_count_goes_only_where_one_device_holds_it(client):
    result = await _filter(client, pod({"ai.compute/vram": "70Gi"}))
    assert result["NodeNames"] == ["gpu-h100"]
    failed = result["FailedNodes"]
    assert set(failed) == {"gpu-a10", "npu-910b1"}
    assert failed["npu-910b1"].startswith(f"Ascend-910B1: 70Gi {PER_DEVICE_RULE} and it holds 64Gi")
    assert failed["gpu-a10"].startswith(f"A10: 70Gi {PER_DEVICE_RULE} and it holds 24Gi")
    # Each reason names only the node's own model, and the way out.
    assert "A10" not in failed["npu-910b1"]
    assert "hcs.io/sharded" in failed["npu-910b1"]


async def test_sharded_work_spreads_its_vram_over_devices(client):
    result = await _filter(client, pod({"ai.compute/vram": "70Gi"}, {"hcs.io/sharded": "true"}))
    assert result["NodeNames"] == ["gpu-a10", "gpu-h100", "npu-910b1"]  # 4x24, 2x64 or 1x80


async def test_a_device_count_spreads_the_vram_over_that_many(client):
    result = await _filter(client, pod({"ai.compute/vram": "70Gi", "ai.compute/devices": "2"}))
    assert result["NodeNames"] == ["gpu-h100", "npu-910b1"]  # 35Gi each; an A10 holds 24Gi
    assert "gpu-a10" in result["FailedNodes"]


async def test_a_node_fails_for_its_own_models_only_and_each_name_once(client):
    # Pinned to Cambricon, which this cluster lacks: every node is unresolvable, each saying
    # why its own model is out, not listing the whole catalog.
    pinned = pod({"ai.compute/vram": "8Gi"}, {"hcs.io/vendors": "cambricon"})
    body = {"Pod": pinned, "NodeNames": ["gpu-a10", "npu-910b1", "gpu-a10", "nowhere"]}
    result = await (await client.post("/filter", json=body)).json()
    assert result["NodeNames"] == []
    reasons = result["FailedAndUnresolvableNodes"]
    assert list(reasons) == ["gpu-a10", "npu-910b1", "nowhere"]
    assert reasons["gpu-a10"] == "A10: vendor nvidia excluded by the pod's preferences"
    assert reasons["npu-910b1"] == "Ascend-910B1: vendor ascend excluded by the pod's preferences"
    assert reasons["nowhere"].startswith("no ComputeNode for this node")
    fits = {"Pod": pod({"ai.compute/vram": "8Gi"}), "NodeNames": ["gpu-h100", "gpu-h100"]}
    assert (await (await client.post("/filter", json=fits)).json())["NodeNames"] == ["gpu-h100"]
    scores = await (await client.post("/prioritize", json=fits)).json()
    assert [s["Host"] for s in scores] == ["gpu-h100"]


async def test_a_model_without_a_published_vram_is_placed_on_the_measured_one() -> None:
    # The bundled Hygon Z100 profile has no VRAM; the agent measured 32Gi per device.
    client = await serving({"dcu-z100": ("Hygon-Z100", "hygon", 4, "32Gi")})
    try:
        fits = pod({"ai.compute/vram": "16Gi"}, {"hcs.io/vendors": "hygon"})
        body = {"Pod": fits, "NodeNames": ["dcu-z100"]}
        assert (await (await client.post("/filter", json=body)).json())["NodeNames"] == ["dcu-z100"]
        body = {"Pod": pod({"ai.compute/vram": "48Gi"}), "NodeNames": ["dcu-z100"]}
        result = await (await client.post("/filter", json=body)).json()
        reason = result["FailedAndUnresolvableNodes"]["dcu-z100"]
        assert reason.startswith(f"Hygon-Z100: 48Gi {PER_DEVICE_RULE} and it holds 32Gi")
    finally:
        await client.close()
