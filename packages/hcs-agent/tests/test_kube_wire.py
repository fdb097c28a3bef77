"""The production reporter on the official client, against kmock over real HTTP: paths, verbs,
content types, bodies, and a retry after the API server answers 503."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import kmock
import pytest
from kubernetes import client

from hcs_agent.collect import Collection
from hcs_agent.computenode import build
from hcs_agent.kube import KubernetesApi
from hcs_agent.model import Detection, DeviceInfo
from hcs_agent.report import Backoff, Reporter
from hcs_exchange import load_database

pytestmark = pytest.mark.integration
CN = "hcs.io/v1alpha1/computenodes"


def compute_node() -> Any:
    infos = tuple(
        DeviceInfo("ascend", str(i), f"NPU-{i}", "910B3", vram_bytes=64 * 2**30) for i in range(2)
    )
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    return build("npu-3", Collection((Detection("ascend", infos),), at=at), load_database()).node


async def _report(
    fail_first_node_patch: bool,
) -> tuple[list[Any], dict[str, Any], dict[str, Any], bool]:
    async with kmock.KubernetesEmulator() as server, kmock.Server(server) as http:
        # kmock does not create on apply (a real API server does): the objects exist up front.
        server.objects[CN, None, "npu-3"] = {
            "apiVersion": "hcs.io/v1alpha1",
            "kind": "ComputeNode",
            "metadata": {"name": "npu-3"},
        }
        server.objects["v1/nodes", None, "npu-3"] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "npu-3"},
        }
        if fail_first_node_patch:
            server["patch /api/v1/nodes/npu-3/status"][:1] << 503
        config = client.Configuration()
        config.host = str(http.url).rstrip("/")
        with client.ApiClient(config) as api_client:
            reporter = Reporter(
                KubernetesApi(api_client), Backoff(initial_s=0.01, attempts=3), lambda s: None
            )
            outcome = await asyncio.to_thread(reporter.report, compute_node())
        requests = list(server)
        stored = server.objects[CN, None, "npu-3"].raw
        node = server.objects["v1/nodes", None, "npu-3"].raw
        return requests, stored, node, outcome.ok


def test_apply_spec_then_status_then_node_resources() -> None:
    requests, stored, node, ok = asyncio.run(_report(fail_first_node_patch=False))
    assert ok
    seen = [
        (str(r.method.value).upper(), r.url.path, r.headers.get("Content-Type")) for r in requests
    ]
    assert seen == [
        ("PATCH", "/apis/hcs.io/v1alpha1/computenodes/npu-3", "application/apply-patch+yaml"),
        (
            "PATCH",
            "/apis/hcs.io/v1alpha1/computenodes/npu-3/status",
            "application/apply-patch+yaml",
        ),
        ("PATCH", "/api/v1/nodes/npu-3/status", "application/merge-patch+json"),
    ]
    assert requests[0].params == {"fieldManager": "hcs-agent", "force": "true"}
    assert set(requests[0].data) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(requests[1].data) == {"apiVersion", "kind", "metadata", "status"}
    assert "devices" not in requests[1].data["status"]  # the scheduler's allocations
    assert stored["spec"]["devices"][1]["model"] == "Ascend-910B3"
    assert stored["status"]["phase"] == "Ready"
    assert node["status"]["allocatable"] == {
        "ai.compute/vram": str(128 * 2**30),
        "ai.compute/devices": "2",
    }


def test_a_503_is_retried_and_the_report_completes() -> None:
    requests, _, node, ok = asyncio.run(_report(fail_first_node_patch=True))
    assert ok
    paths = [r.url.path for r in requests]
    assert paths.count("/api/v1/nodes/npu-3/status") == 2
    assert paths.count("/apis/hcs.io/v1alpha1/computenodes/npu-3") == 2  # the whole report again
    assert node["status"]["capacity"]["ai.compute/devices"] == "2"
