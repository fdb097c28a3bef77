"""KubernetesKube speaks real HTTP to a Kubernetes API emulator (kmock) as the extender needs."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import kmock
import pytest
import yaml
from kubernetes import client as k8s

from hcs_api.names import Annotation
from hcs_scheduler.extender.kube import Conflict, EventType, Kind, KubeError, NotFound, WatchEvent
from hcs_scheduler.extender.kube_client import KubernetesKube

pytestmark = [pytest.mark.integration, pytest.mark.asyncio, pytest.mark.timeout(30)]

EXAMPLES = Path(__file__).absolute().parents[3] / "deploy" / "examples"
NODES = kmock.resource("hcs.io", "v1alpha1", "computenodes")
QUOTAS = kmock.resource("hcs.io", "v1alpha1", "computequotas")
PODS = kmock.resource("", "v1", "pods")
UID = "5b7e2c1a-7d3e-4c55-9b9e-0a4a2f7d6c10"


def pod(name: str, namespace: str = "research", **annotations: str) -> dict[str, Any]:
    """A pending pod as the API server serves it (camelCase keys)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": UID, "annotations": annotations},
        "spec": {
            "schedulerName": "hcs-scheduler",
            "containers": [
                {
                    "name": "main",
                    "image": "pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime",
                    "resources": {"requests": {"ai.compute/vram": "16Gi"}},
                }
            ],
        },
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    }


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return document


def received(server: kmock.RawHandler, method: str, path: str) -> list[kmock.Request]:
    """The requests the emulator received with `method` on `path`."""
    return [r for r in server if r.method == method and r.url.path == path]


@pytest.fixture
def kube(kmock: kmock.KubernetesEmulator) -> Iterator[KubernetesKube]:
    api = k8s.ApiClient(k8s.Configuration(host=str(kmock.url).rstrip("/")))
    adapter = KubernetesKube(api, request_timeout=5, watch_timeout=60)
    yield adapter
    adapter.close()


async def next_event(events: AsyncIterator[WatchEvent]) -> WatchEvent:
    async with asyncio.timeout(5):
        return await anext(events)


# -- lists


async def test_lists_return_every_kind_as_the_api_server_serves_it(kmock, kube):
    node, quota = example("computenode-h100.yaml"), example("computequota.yaml")
    kmock.objects[NODES, None, "gpu-h100-01"] = node
    kmock.objects[QUOTAS, "research", "research-training"] = quota
    kmock.objects[PODS, "research", "train-0"] = pod("train-0")
    kmock.objects[PODS, "serving", "infer-0"] = pod("infer-0", "serving")

    assert await kube.list(Kind.COMPUTE_NODE) == [node]
    assert await kube.list(Kind.COMPUTE_QUOTA) == [quota]
    pods = await kube.list(Kind.POD)

    assert pods == [pod("train-0"), pod("infer-0", "serving")]  # every namespace
    assert pods[0]["spec"]["schedulerName"] == "hcs-scheduler"  # wire names, not the models'
    assert node["spec"]["devices"][0]["memoryBandwidth"] == "3350G"
    for path in ("/apis/hcs.io/v1alpha1/computenodes", "/apis/hcs.io/v1alpha1/computequotas"):
        (request,) = received(kmock, "GET", path)  # cluster-wide: quotas of all namespaces
        assert request.params == {"limit": "500"}
    (request,) = received(kmock, "GET", "/api/v1/pods")
    assert request.params == {"limit": "500"}


async def test_a_long_list_is_read_page_by_page(kmock, kube):
    pages = {
        None: {"metadata": {"resourceVersion": "7", "continue": "page-2"}, "items": [pod("a")]},
        "page-2": {"metadata": {"resourceVersion": "7"}, "items": [pod("b")]},
    }
    kmock["list v1/pods"] << (lambda request: pages[request.params.get("continue")])

    assert [p["metadata"]["name"] for p in await kube.list(Kind.POD)] == ["a", "b"]
    assert [r.params.get("continue") for r in received(kmock, "GET", "/api/v1/pods")] == [
        None,
        "page-2",
    ]


# -- watch


async def test_watch_delivers_added_modified_and_deleted_pods(kmock, kube):
    kmock.objects[PODS, "research", "already-there"] = pod("already-there")
    events = kube.watch(Kind.POD)
    # With no resourceVersion the server first replays what exists; then we know it listens.
    first = await next_event(events)
    assert (first.type, first.object) == (EventType.ADDED, pod("already-there"))

    path = "/api/v1/namespaces/research/pods"
    await kmock.post(path, json=pod("train-0"))
    await kmock.patch(f"{path}/train-0", json={"status": {"phase": "Running"}})
    await kmock.delete(f"{path}/train-0")

    added, modified, deleted = [await next_event(events) for _ in range(3)]
    assert (added.type, added.object) == (EventType.ADDED, pod("train-0"))
    assert modified.type == EventType.MODIFIED
    assert modified.object["status"] == {"phase": "Running", "qosClass": "BestEffort"}
    assert deleted.type == EventType.DELETED
    assert deleted.object["metadata"]["name"] == "train-0"
    await events.aclose()

    (request,) = [r for r in received(kmock, "GET", "/api/v1/pods") if "watch" in r.params]
    assert request.params == {"watch": "true", "timeoutSeconds": "60"}


async def test_watch_starts_at_the_resource_version_of_the_last_list(kmock, kube):
    kmock["list hcs.io/v1alpha1/computenodes"] << {
        "metadata": {"resourceVersion": "4711"},
        "items": [],
    }
    assert await kube.list(Kind.COMPUTE_NODE) == []
    kmock.objects[NODES, None, "gpu-h100-01"] = example("computenode-h100.yaml")

    events = kube.watch(Kind.COMPUTE_NODE)
    assert (await next_event(events)).object["metadata"]["name"] == "gpu-h100-01"
    await events.aclose()

    watches = [r for r in kmock if r.action == kmock.action.WATCH]
    assert watches[0].url.path == "/apis/hcs.io/v1alpha1/computenodes"
    assert watches[0].params["resourceVersion"] == "4711"


async def test_closing_a_watch_ends_its_request_and_thread(kmock, kube):
    kmock.objects[NODES, None, "gpu-h100-01"] = example("computenode-h100.yaml")
    events = kube.watch(Kind.COMPUTE_NODE)
    await next_event(events)
    assert any(t.name == "watch computenodes.hcs.io" for t in threading.enumerate())

    async with asyncio.timeout(3):
        await events.aclose()

    assert not any(t.name == "watch computenodes.hcs.io" for t in threading.enumerate())


async def test_a_watch_resumes_where_it_stopped_and_reports_an_expired_version(kmock, kube):
    node = example("computenode-h100.yaml")
    node["metadata"]["resourceVersion"] = "12"
    gone = {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "too old resource version: 12 (20)",
            "reason": "Expired",
            "code": 410,
        },
    }
    # The first request ends after one event (as at the server's timeout); the second, resumed
    # at that event's resourceVersion, finds the version compacted away.
    kmock["watch hcs.io/v1alpha1/computenodes"] << (
        lambda request: (
            json.dumps(
                gone if "resourceVersion" in request.params else {"type": "ADDED", "object": node}
            ).encode()
            + b"\n"
        )
    )

    events = kube.watch(Kind.COMPUTE_NODE)
    assert (await next_event(events)).object == node
    with pytest.raises(
        KubeError, match=r"watch computenodes.hcs.io: .*too old resource version: 12 .*list again"
    ) as e:
        await next_event(events)
    assert e.value.status == 410
    assert [r.params.get("resourceVersion") for r in kmock] == [None, "12"]


# -- writes


async def test_patch_sends_a_json_merge_patch_of_the_annotations(kmock, kube):
    kmock.objects[PODS, "research", "train-0"] = pod("train-0", keep="1", stale="x")

    await kube.patch_pod_annotations(
        "research", "train-0", {Annotation.NODE: "gpu-h100-01", "stale": None}
    )

    (request,) = received(kmock, "PATCH", "/api/v1/namespaces/research/pods/train-0")
    assert request.headers.get("Content-Type") == "application/merge-patch+json"
    assert request.data == {
        "metadata": {"annotations": {"hcs.io/node": "gpu-h100-01", "stale": None}}
    }
    after = await kube.get_pod("research", "train-0")
    assert after["metadata"]["annotations"] == {"keep": "1", "hcs.io/node": "gpu-h100-01"}


async def test_status_devices_go_as_a_merge_patch_of_the_status_subresource(kmock, kube):
    node = example("computenode-h100.yaml")
    kmock.objects[NODES, None, "gpu-h100-01"] = node
    devices = [{"id": "nvidia-0", "vram": "40Gi", "compute": {}, "pods": 1}]

    await kube.patch_computenode_status("gpu-h100-01", {"devices": devices})

    path = "/apis/hcs.io/v1alpha1/computenodes/gpu-h100-01/status"
    (request,) = received(kmock, "PATCH", path)
    assert request.headers.get("Content-Type") == "application/merge-patch+json"
    assert request.data == {"status": {"devices": devices}}


async def test_bind_posts_a_binding_and_accepts_the_status_it_gets_back(kmock, kube):
    path = "/api/v1/namespaces/research/pods/train-0/binding"
    # kmock has no pods/binding subresource: answer as the API server does (201 and a Status).
    (
        kmock[f"post {path}"]
        << 201
        << {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }
    )

    await kube.bind_pod("research", "train-0", UID, "gpu-h100-01")

    (request,) = received(kmock, "POST", path)
    assert request.headers.get("Content-Type") == "application/json"
    assert request.data == {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "train-0", "namespace": "research", "uid": UID},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "gpu-h100-01"},
    }


async def test_binding_a_bound_pod_is_a_conflict(kmock, kube):
    # The Status a real API server (v1.30) sends when the pod already has a node.
    (
        kmock["post /api/v1/namespaces/research/pods/train-0/binding"]
        << 409
        << {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'Operation cannot be fulfilled on pods/binding "train-0": '
            'pod train-0 is already assigned to node "gpu-h100-02"',
            "reason": "Conflict",
            "details": {"name": "train-0", "kind": "pods/binding"},
            "code": 409,
        }
    )

    with pytest.raises(Conflict, match="already assigned") as e:
        await kube.bind_pod("research", "train-0", UID, "gpu-h100-01")
    assert e.value.status == 409
    assert "pod research/train-0 to node gpu-h100-01" in str(e.value)


# -- the leader election Lease: its calls are tested against a real kube-apiserver
# (tests/kube/test_leader.py), which holds PUTs to resourceVersions and parses MicroTimes.


# -- errors and configuration


@pytest.mark.parametrize(
    "call",
    [
        lambda kube: kube.get_pod("research", "gone"),
        lambda kube: kube.patch_pod_annotations("research", "gone", {"a": "b"}),
    ],
    ids=["get", "patch"],
)
async def test_a_missing_pod_is_not_found(kmock, kube, call):
    kmock.objects[PODS, "research", "train-0"] = pod("train-0")
    with pytest.raises(NotFound, match="pod research/gone") as e:
        await call(kube)
    assert e.value.status == 404


async def test_an_unreachable_server_is_a_kube_error():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kube = KubernetesKube(k8s.ApiClient(k8s.Configuration(host=f"http://127.0.0.1:{port}")))
    try:
        with pytest.raises(KubeError, match="list pods: cannot reach the API server") as e:
            await kube.list(Kind.POD)
        assert e.value.status is None
    finally:
        kube.close()


async def test_from_environment_reads_a_kubeconfig(kmock, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "emu", "cluster": {"server": str(kmock.url)}}],
                "users": [{"name": "hcs", "user": {"token": "s3cret"}}],
                "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "hcs"}}],
                "current-context": "emu",
            }
        )
    )
    kmock.objects[NODES, None, "gpu-h100-01"] = example("computenode-h100.yaml")
    kube = KubernetesKube.from_environment(str(kubeconfig))
    try:
        assert len(await kube.list(Kind.COMPUTE_NODE)) == 1
    finally:
        kube.close()
    (request,) = received(kmock, "GET", "/apis/hcs.io/v1alpha1/computenodes")
    assert request.headers["Authorization"] == "Bearer s3cret"


async def test_from_environment_names_a_missing_kubeconfig(tmp_path):
    with pytest.raises(KubeError, match=r"cannot load Kubernetes credentials from .*nowhere"):
        KubernetesKube.from_environment(str(tmp_path / "nowhere"))
