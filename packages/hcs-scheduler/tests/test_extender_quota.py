"""ComputeQuota is reserved at filter, atomically with the check: of two pods of one namespace
filtered before either binds, the second is filtered out naming the quota; the reservation
ends with a failed bind, the pod's deletion or the assumption's expiry, never counts twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from hcs_scheduler.extender.app import create_app
from hcs_scheduler.extender.build import build_extender
from hcs_scheduler.extender.kube import InMemoryKube, Kind, KubeError
from hcs_scheduler.extender.settings import ExtenderSettings

pytestmark = pytest.mark.asyncio

TTL = 30.0
NODE = {
    "apiVersion": "hcs.io/v1alpha1",
    "kind": "ComputeNode",
    "metadata": {"name": "gpu-h100"},
    "spec": {
        "nodeName": "gpu-h100",
        "vendors": ["nvidia"],
        "devices": [
            {
                "id": f"nvidia-{i}",
                "uuid": f"h100-{i}",
                "vendor": "nvidia",
                "model": "H100-SXM5-80G",
                "vram": "80Gi",
            }
            for i in range(4)
        ],
    },
}
QUOTA = {
    "apiVersion": "hcs.io/v1alpha1",
    "kind": "ComputeQuota",
    "metadata": {"name": "team-a", "namespace": "ml"},
    "spec": {"hard": {"vram": "64Gi"}},
}


def pod(name: str, namespace: str = "ml") -> dict[str, Any]:
    requests = {"ai.compute/vram": "48Gi"}
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {"containers": [{"name": "main", "resources": {"requests": requests}}]},
    }


class Cluster:
    def __init__(self, kube: InMemoryKube, client: TestClient, clock: list[float]) -> None:
        self.kube, self.client, self.clock = kube, client, clock

    async def passes(self, name: str, namespace: str = "ml") -> bool:
        body = {"Pod": pod(name, namespace), "NodeNames": ["gpu-h100"]}
        result = await (await self.client.post("/filter", json=body)).json()
        if not result["NodeNames"]:
            reason = result["FailedAndUnresolvableNodes"]["gpu-h100"]
            assert "ComputeQuota ml/team-a" in reason, reason
        return bool(result["NodeNames"])

    async def bind(self, name: str) -> str:
        args = {"PodName": name, "PodNamespace": "ml", "PodUID": f"uid-{name}", "Node": "gpu-h100"}
        result = await (await self.client.post("/bind", json=args)).json()
        for _ in range(20):  # let the watch apply what the fake API server emitted
            await asyncio.sleep(0)
        return str(result["Error"])


@pytest_asyncio.fixture
async def cluster() -> AsyncIterator[Cluster]:
    kube = InMemoryKube()
    kube.apply(Kind.COMPUTE_NODE, NODE)
    kube.apply(Kind.COMPUTE_QUOTA, QUOTA)
    clock = [0.0]
    extender = build_extender(ExtenderSettings(assume_ttl=TTL), kube, clock=lambda: clock[0])
    client = TestClient(TestServer(create_app(extender)))
    await client.start_server()
    for _ in range(100):
        if extender.state.synced and (extender.leader is None or extender.leader.is_leader):
            break
        await asyncio.sleep(0.01)
    for name in ("a", "b"):
        kube.apply(Kind.POD, pod(name))
    yield Cluster(kube, client, clock)
    await client.close()


async def test_the_second_pod_filtered_before_the_first_binds_is_refused(cluster):
    assert await cluster.passes("a")
    assert not await cluster.passes("b")  # 48 + 48 > 64Gi, though "a" has not bound yet
    assert await cluster.passes("a")  # "a" asked again is not counted twice
    assert await cluster.bind("a") == ""
    assert not await cluster.passes("b")
    assert await cluster.passes("c", namespace="other")  # other namespaces are not affected


async def test_a_reservation_without_a_bind_expires_with_the_assumption_ttl(cluster):
    assert await cluster.passes("a")
    cluster.clock[0] = TTL - 1
    assert not await cluster.passes("b")
    cluster.clock[0] = TTL + 1
    assert await cluster.passes("b")  # "a" never bound: its share is free again


async def test_a_failed_bind_gives_the_share_back(cluster, monkeypatch):
    assert await cluster.passes("a")

    async def refuse(*_: object, **__: object) -> None:
        raise KubeError("the API server refused the Binding")

    monkeypatch.setattr(cluster.kube, "bind_pod", refuse)
    assert "failed" in await cluster.bind("a")
    assert await cluster.passes("b")


async def test_a_deleted_pod_gives_the_share_back(cluster):
    assert await cluster.passes("a")
    cluster.kube.delete(Kind.POD, "ml", "a")
    for _ in range(20):
        await asyncio.sleep(0)
    assert await cluster.passes("b")
