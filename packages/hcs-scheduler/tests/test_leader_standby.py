"""The extender as a standby: not ready, refuses to bind naming the leader, writes no status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from hcs_api import ContainerAllocation, PodAllocation, allocation_annotations
from hcs_api.names import BindPhase
from hcs_scheduler.extender.app import Extender, create_app
from hcs_scheduler.extender.build import build_extender
from hcs_scheduler.extender.kube import InMemoryKube, Kind, NotFound
from hcs_scheduler.extender.leader import format_microtime, released
from hcs_scheduler.extender.settings import ExtenderSettings

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]

GI = 1 << 30
NS, NAME = "hcs-system", "hcs-scheduler-extender"


def computenode(name: str) -> dict[str, Any]:
    devices = [
        {"id": f"nvidia-{i}", "uuid": f"{name}-{i}", "vendor": "nvidia", "model": "H100-SXM5-80G"}
        | {"vram": "80Gi"}
        for i in range(2)
    ]
    return {
        "apiVersion": "hcs.io/v1alpha1",
        "kind": "ComputeNode",
        "metadata": {"name": name},
        "spec": {"nodeName": name, "vendors": ["nvidia"], "devices": devices},
    }


def pod(name: str, **extra: Any) -> dict[str, Any]:
    container = {"name": "main", "resources": {"requests": {"ai.compute/vram": "30Gi"}}}
    return {
        "metadata": {"name": name, "namespace": "ml", "uid": f"uid-{name}", **extra},
        "spec": {"containers": [container]},
    }


def bound_pod() -> dict[str, Any]:
    """A pod bound to gpu-h100 holding 30Gi of device nvidia-0: the leader would report it."""
    allocation = PodAllocation(
        node="gpu-h100",
        vendor="nvidia",
        model="H100-SXM5-80G",
        vram=30 * GI,
        share=375,
        containers=[
            ContainerAllocation(container="main", devices=["nvidia-0"], vram=30 * GI, share=375)
        ],
    )
    held = pod("held", annotations=allocation_annotations(allocation, BindPhase.BOUND))
    held["spec"]["nodeName"] = "gpu-h100"
    return held


class Replica:
    def __init__(self, kube: InMemoryKube, extender: Extender, client: TestClient) -> None:
        self.kube, self.extender, self.client = kube, extender, client

    async def until(self, condition: Any) -> None:
        async with asyncio.timeout(5):
            while not condition():
                await asyncio.sleep(0.01)

    async def bind(self, name: str) -> str:
        args = {"PodName": name, "PodNamespace": "ml", "PodUID": f"uid-{name}", "Node": "gpu-h100"}
        answer = await (await self.client.post("/bind", json=args)).json()
        return str(answer["Error"])


@pytest_asyncio.fixture
async def standby() -> AsyncIterator[Replica]:
    """This replica ("replica-b") starts while "replica-a" holds a live lease."""
    kube = InMemoryKube()
    kube.apply(Kind.COMPUTE_NODE, computenode("gpu-h100"))
    kube.apply(Kind.POD, bound_pod())
    kube.apply(Kind.POD, pod("new"))
    now = format_microtime(datetime.now(UTC))
    spec = {"holderIdentity": "replica-a", "leaseDurationSeconds": 15, "renewTime": now}
    await kube.create_lease(NS, {"metadata": {"name": NAME}, "spec": spec})
    settings = ExtenderSettings(
        identity="replica-b",
        status_interval=0.01,
        lease_duration=2,
        renew_deadline=1,
        retry_period=0.05,
    )
    extender = build_extender(settings, kube)
    async with TestClient(TestServer(create_app(extender))) as client:
        replica = Replica(kube, extender, client)
        leader = extender.leader
        assert leader is not None
        await replica.until(lambda: extender.state.synced and leader.holder == "replica-a")
        yield replica


async def test_a_standby_is_not_ready_and_refuses_to_bind_naming_the_leader(
    standby: Replica,
) -> None:
    ready = await standby.client.get("/readyz")
    assert ready.status == 503
    assert await ready.json() == {"status": "standby: replica-a leads"}
    error = await standby.bind("new")
    assert "replica-b" in error
    assert "standby; replica-a leads" in error
    assert standby.kube.calls == []  # no annotation, no Binding
    # It still answers what only reads its warm cache: 30Gi + 30Gi fit device 0 or 1.
    args = {"Pod": pod("new"), "NodeNames": ["gpu-h100"]}
    assert (await (await standby.client.post("/filter", json=args)).json())["NodeNames"] == [
        "gpu-h100"
    ]
    metrics = await (await standby.client.get("/metrics")).text()
    assert "hcs_extender_leader 0.0" in metrics


async def test_a_standby_writes_no_status_until_it_leads_then_binds_at_once(
    standby: Replica,
) -> None:
    stored = lambda: standby.kube.stored(Kind.COMPUTE_NODE, "", "gpu-h100") or {}  # noqa: E731
    await asyncio.sleep(0.2)  # twenty status rounds
    assert standby.kube.calls == []
    assert "status" not in stored()
    # replica-a shuts down and releases the lease: replica-b takes it at its next round.
    lease_a = standby.kube.stored_lease(NS, NAME)
    await standby.kube.replace_lease(
        NS, NAME, lease_a | {"spec": released(lease_a["spec"], datetime.now(UTC))}
    )
    leader = standby.extender.leader
    assert leader is not None
    await asyncio.wait_for(leader.leading.wait(), 2)
    assert (await standby.client.get("/readyz")).status == 200
    assert await standby.bind("new") == ""
    await standby.until(lambda: "status" in stored())
    assert stored()["status"]["devices"][0]["id"] == "nvidia-0"
    metrics = await (await standby.client.get("/metrics")).text()
    assert "hcs_extender_leader 1.0" in metrics


async def test_a_replica_that_loses_the_lease_mid_bind_creates_no_binding(
    standby: Replica,
) -> None:
    leader = standby.extender.leader
    assert leader is not None

    async def no_round() -> None:
        """The elector's loop goes on without touching the lease: this test moves it."""

    leader.step = no_round  # type: ignore[method-assign]
    await asyncio.sleep(0.1)  # the loop is past any round it had begun
    leader._set(True, "replica-b")  # as if it led when the bind came in
    original = standby.kube.get_pod

    async def read_then_lose(*args: Any) -> Any:
        pod = await original(*args)
        leader._set(False, "replica-a")  # the lease moved while the pod was being read
        return pod

    standby.kube.get_pod = read_then_lose  # type: ignore[method-assign]
    assert "replica-a leads" in await standby.bind("new")
    # No Binding, no write of any kind (status writes may have happened while it led).
    assert [c[0] for c in standby.kube.calls if c[0] != "status"] == []
    assert standby.extender.state.holds("uid-new") is None


async def test_without_leader_election_the_only_replica_always_leads() -> None:
    kube = InMemoryKube()
    extender = build_extender(ExtenderSettings(leader_elect=False), kube)
    assert extender.leader is None
    async with TestClient(TestServer(create_app(extender))) as client:
        async with asyncio.timeout(5):
            while (await client.get("/readyz")).status != 200:
                await asyncio.sleep(0.01)
        assert "hcs_extender_leader 1.0" in await (await client.get("/metrics")).text()
    with pytest.raises(NotFound):  # it never even created the Lease
        kube.stored_lease(NS, NAME)
