"""The whole extender against a Kubernetes API emulator (kmock) over real HTTP: it lists and
watches ComputeNodes and pods, filters a pod as kube-scheduler asks, and binds it by patching
the allocation annotations and posting the Binding."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import kmock
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from kubernetes import client as k8s

from hcs_scheduler.extender.app import create_app
from hcs_scheduler.extender.build import build_extender
from hcs_scheduler.extender.kube_client import KubernetesKube
from hcs_scheduler.extender.settings import ExtenderSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio, pytest.mark.timeout(30)]

EXAMPLES = Path(__file__).absolute().parents[3] / "deploy" / "examples"
NODES = kmock.resource("hcs.io", "v1alpha1", "computenodes")
PODS = kmock.resource("", "v1", "pods")
UID = "0f6a1d52-8b3c-4e8e-a0f4-3c9d5e2b7a11"


def pending_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "train-0", "namespace": "research", "uid": UID},
        "spec": {
            "schedulerName": "hcs-scheduler",
            "containers": [
                {
                    "name": "main",
                    "image": "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime",
                    "resources": {"requests": {"ai.compute/vram": "40Gi"}},
                }
            ],
        },
        "status": {"phase": "Pending"},
    }


async def test_filter_and_bind_through_the_api_emulator(kmock: kmock.KubernetesEmulator) -> None:
    node = yaml.safe_load((EXAMPLES / "computenode-h100.yaml").read_text())
    kmock.objects[NODES, None, "gpu-h100-01"] = node
    kmock.objects[PODS, "research", "train-0"] = pending_pod()
    # The CRD exists but holds no quota (without it, readyz stays 503: the cache cannot sync).
    kmock.resources["hcs.io/v1alpha1/computequotas"] = {}
    binding = "/api/v1/namespaces/research/pods/train-0/binding"
    # kmock has no pods/binding subresource: answer as the API server does.
    kmock[f"post {binding}"] << 201 << {"kind": "Status", "apiVersion": "v1", "status": "Success"}

    api = k8s.ApiClient(k8s.Configuration(host=str(kmock.url).rstrip("/")))
    kube = KubernetesKube(api, request_timeout=5, watch_timeout=60)
    extender = build_extender(ExtenderSettings(), kube)
    async with TestClient(TestServer(create_app(extender))) as client:
        async with asyncio.timeout(10):
            while (await client.get("/readyz")).status != 200:
                await asyncio.sleep(0.05)
        args = {"Pod": pending_pod(), "NodeNames": ["gpu-h100-01", "cpu-01"]}
        result = await (await client.post("/filter", json=args)).json()
        assert result["NodeNames"] == ["gpu-h100-01"]
        assert "cpu-01" in result["FailedAndUnresolvableNodes"]

        bind = {"PodName": "train-0", "PodNamespace": "research", "PodUID": UID}
        answer = await (await client.post("/bind", json={**bind, "Node": "gpu-h100-01"})).json()
        assert answer == {"Error": ""}
    kube.close()

    pod_path = "/api/v1/namespaces/research/pods/train-0"
    assert not [r for r in kmock if r.method == "PATCH" and r.url.path == pod_path]
    (posted,) = [r for r in kmock if r.method == "POST" and r.url.path == binding]
    assert posted.data["target"] == {"apiVersion": "v1", "kind": "Node", "name": "gpu-h100-01"}
    # The allocation travels on the Binding: the API server sets it with spec.nodeName.
    written = posted.data["metadata"]["annotations"]
    assert written["hcs.io/node"] == "gpu-h100-01"
    assert written["hcs.io/bind-phase"] == "bound"
    # 40Gi fits a free share of one H100; device 5 of the example is cordoned, never chosen.
    assert written["hcs.io/devices.main"] in {"0", "1", "2", "3", "4", "6", "7"}
    assert written["hcs.io/vram-quota.main"] == str(40 << 30)
    # That the API server copies them onto the pod is proven against a real one (tests/kube).
