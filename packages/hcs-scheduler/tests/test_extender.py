"""The extender end to end over HTTP: kube-scheduler's exact payloads in, correct answers out;
binds write the allocation and roll back on failure; 100 concurrent binds never overcommit a
device; a restarted process rebuilds what pods hold; quota, static mode, plan, health, metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
import yaml
from aiohttp.test_utils import TestClient, TestServer

from hcs_api import read_allocation
from hcs_scheduler.extender.app import Extender, create_app
from hcs_scheduler.extender.build import build_extender
from hcs_scheduler.extender.kube import Conflict, InMemoryKube, Kind
from hcs_scheduler.extender.settings import ExtenderSettings

PAYLOADS = Path(__file__).parent / "extender_payloads"
GI = 1 << 30
FILTER_ARGS = json.loads((PAYLOADS / "filter-args.json").read_text())


def computenode(name: str, model: str, vendor: str, count: int, vram: str) -> dict[str, Any]:
    devices = [
        {"id": f"{vendor}-{i}", "uuid": f"{name}-{i}", "vendor": vendor, "model": model}
        | {"vram": vram}
        for i in range(count)
    ]
    return {
        "apiVersion": "hcs.io/v1alpha1",
        "kind": "ComputeNode",
        "metadata": {"name": name},
        "spec": {"nodeName": name, "vendors": [vendor], "devices": devices},
    }


NODES = [
    computenode("gpu-a100-40g", "A100-SXM4-40G", "nvidia", 1, "40Gi"),
    computenode("gpu-h100", "H100-SXM5-80G", "nvidia", 2, "80Gi"),
    computenode("npu-910b1", "Ascend-910B1", "ascend", 2, "64Gi"),
]


def pod(name: str, vram: str = "48Gi", namespace: str = "ml", **extra: Any) -> dict[str, Any]:
    requests = {"ai.compute/vram": vram, **extra}
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {"containers": [{"name": "main", "resources": {"requests": requests}}]},
    }


class Harness:
    def __init__(self, kube: InMemoryKube, extender: Extender, client: TestClient) -> None:
        self.kube, self.extender, self.client = kube, extender, client
        self.now = 0.0

    async def post(self, path: str, body: Any, status: int = 200) -> Any:
        response = await self.client.post(path, json=body)
        assert response.status == status, await response.text()
        return await response.json()

    async def settle(self) -> None:
        for _ in range(20):  # let the watch tasks apply what the fake API server emitted
            await asyncio.sleep(0)


async def _start(kube: InMemoryKube) -> Harness:
    holder: list[float] = [0.0]
    extender = build_extender(ExtenderSettings(), kube, clock=lambda: holder[0])
    client = TestClient(TestServer(create_app(extender)))
    await client.start_server()
    harness = Harness(kube, extender, client)
    harness.clock = holder  # type: ignore[attr-defined]
    for _ in range(100):
        # Synced, and holding the Lease (the only replica: it takes it at its first round).
        if extender.state.synced and extender.leader is not None and extender.leader.is_leader:
            break
        await asyncio.sleep(0.01)
    return harness


@pytest_asyncio.fixture
async def harness() -> AsyncIterator[Harness]:
    kube = InMemoryKube()
    for node in NODES:
        kube.apply(Kind.COMPUTE_NODE, node)
    started = await _start(kube)
    yield started
    await started.client.close()


@pytest.mark.asyncio
async def test_filter_answers_upstreams_exact_payload(harness: Harness) -> None:
    result = await harness.post("/filter", FILTER_ARGS)
    # 48Gi on one device: the H100 (80Gi) and the 910B1 (64Gi) fit; the 40G A100 cannot.
    assert result["NodeNames"] == ["gpu-h100", "npu-910b1"]
    assert result["FailedNodes"] == {
        "gpu-a100-40g": "A100-SXM4-40G: 48Gi VRAM must fit on one device and it holds 40Gi "
        "(ai.compute/vram is per device; ask ai.compute/devices, or annotate "
        'hcs.io/sharded: "true", to spread it over devices)'
    }
    assert result["FailedAndUnresolvableNodes"] == {
        "cpu-only": "no ComputeNode for this node: hcs-agent does not report it"
    }
    assert result["Error"] == ""


@pytest.mark.asyncio
async def test_lower_case_keys_are_accepted_like_gos_decoder(harness: Harness) -> None:
    args = {"pod": FILTER_ARGS["Pod"], "nodenames": ["gpu-h100"]}
    assert (await harness.post("/filter", args))["NodeNames"] == ["gpu-h100"]


@pytest.mark.asyncio
async def test_prioritize_scores_are_integers_0_to_10(harness: Harness) -> None:
    priorities = await harness.post("/prioritize", FILTER_ARGS)
    assert [p["Host"] for p in priorities] == FILTER_ARGS["NodeNames"]
    scores = {p["Host"]: p["Score"] for p in priorities}
    assert all(isinstance(s, int) and 0 <= s <= 10 for s in scores.values())
    assert scores["gpu-a100-40g"] == 0
    assert scores["cpu-only"] == 0
    assert max(scores["gpu-h100"], scores["npu-910b1"]) == 10


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/filter", b"{not json", "not JSON"),
        ("/filter", b'{"NodeNames": ["a"]}', "Pod"),
        ("/bind", b'{"PodName": "x"}', "PodNamespace"),
        ("/plan", b"[]", "PlanRequest"),
    ],
    ids=["not-json", "filter-without-pod", "bind-missing-fields", "plan-not-an-object"],
)
async def test_malformed_bodies_get_400_with_a_message(
    harness: Harness, path: str, body: bytes, fragment: str
) -> None:
    response = await harness.client.post(path, data=body)
    assert response.status == 400
    assert fragment in (await response.json())["Error"]


@pytest.mark.asyncio
async def test_a_malformed_pod_request_fails_every_node_with_the_reason(harness: Harness) -> None:
    bad = pod("bad", vram="lots")
    result = await harness.post("/filter", {"Pod": bad, "NodeNames": ["gpu-h100"]})
    assert result["NodeNames"] == []
    assert "invalid" in result["FailedAndUnresolvableNodes"]["gpu-h100"]


@pytest.mark.asyncio
async def test_bind_writes_the_allocation_with_the_binding(harness: Harness) -> None:
    harness.kube.apply(Kind.POD, pod("p1"))
    args = {"PodName": "p1", "PodNamespace": "ml", "PodUID": "uid-p1", "Node": "gpu-h100"}
    assert await harness.post("/bind", args) == {"Error": ""}
    stored = harness.kube.stored(Kind.POD, "ml", "p1")
    assert stored is not None
    annotations = stored["metadata"]["annotations"]
    assert stored["spec"]["nodeName"] == "gpu-h100"
    assert annotations["hcs.io/bind-phase"] == "bound"
    assert annotations["hcs.io/devices.main"] in {"0", "1"}
    assert annotations["hcs.io/vram-quota.main"] == str(48 * GI)
    allocation = read_allocation(annotations)
    assert allocation is not None
    assert allocation.vendor == "nvidia"
    # The record names the device as the ComputeNode does; the env gets NVML's index.
    assert allocation.device_ids() == [f"nvidia-{annotations['hcs.io/devices.main']}"]
    # One write: the Binding carries the annotations (no pod is bound without them).
    assert [c[0] for c in harness.kube.calls] == ["bind"]


@pytest.mark.asyncio
async def test_a_repeated_bind_never_frees_what_the_bound_pod_holds(harness: Harness) -> None:
    harness.kube.apply(Kind.POD, pod("p3"))
    args = {"PodName": "p3", "PodNamespace": "ml", "PodUID": "uid-p3", "Node": "gpu-h100"}
    assert await harness.post("/bind", args) == {"Error": ""}
    held = harness.extender.state.holds("uid-p3")
    assert held is not None
    # kube-scheduler retries a bind whose answer it lost: success, nothing written again.
    assert await harness.post("/bind", args) == {"Error": ""}
    # A bind to another node is refused and releases nothing.
    result = await harness.post("/bind", {**args, "Node": "gpu-other"})
    assert "already bound to node gpu-h100" in result["Error"]
    assert harness.extender.state.holds("uid-p3") == held
    stored = harness.kube.stored(Kind.POD, "ml", "p3")
    assert stored is not None
    assert read_allocation(stored["metadata"]["annotations"]) == held
    assert [c[0] for c in harness.kube.calls] == ["bind"]


@pytest.mark.asyncio
async def test_a_failed_binding_writes_nothing_and_says_why(harness: Harness) -> None:
    harness.kube.apply(Kind.POD, pod("p2"))
    harness.kube.fail_next["bind_pod"] = Conflict("pod ml/p2 is already bound", 409)
    args = {"PodName": "p2", "PodNamespace": "ml", "PodUID": "uid-p2", "Node": "gpu-h100"}
    result = await harness.post("/bind", args)
    assert "already bound" in result["Error"]
    assert "released" in result["Error"]
    stored = harness.kube.stored(Kind.POD, "ml", "p2")
    assert stored is not None
    annotations = stored["metadata"].get("annotations") or {}
    assert not any(key.startswith("hcs.io/") for key in annotations)
    assert harness.extender.state.holds("uid-p2") is None


@pytest.mark.asyncio
async def test_100_concurrent_binds_never_overcommit_a_device() -> None:
    kube = InMemoryKube(delay=0.001)
    kube.apply(Kind.COMPUTE_NODE, computenode("gpu-h100", "H100-SXM5-80G", "nvidia", 2, "80Gi"))
    for i in range(100):
        kube.apply(Kind.POD, pod(f"w{i}", vram="30Gi"))
    harness = await _start(kube)
    try:
        binds = [
            harness.post(
                "/bind",
                {
                    "PodName": f"w{i}",
                    "PodNamespace": "ml",
                    "PodUID": f"uid-w{i}",
                    "Node": "gpu-h100",
                },
            )
            for i in range(100)
        ]
        results = await asyncio.gather(*binds)
        bound = [r for r in results if not r["Error"]]
        # 80Gi devices take two 30Gi slices each: four pods, whatever the interleaving.
        assert len(bound) == 4
        per_device: dict[str, int] = {}
        for stored in kube.stored_all(Kind.POD):
            allocation = read_allocation(stored["metadata"].get("annotations", {}))
            if allocation is not None and stored["spec"].get("nodeName"):
                for device in allocation.device_ids():
                    per_device[device] = per_device.get(device, 0) + allocation.vram
        assert per_device == {"nvidia-0": 60 * GI, "nvidia-1": 60 * GI}
        refused = [r["Error"] for r in results if r["Error"]]
        assert all("largest free here is 20Gi" in e for e in refused)
    finally:
        await harness.client.close()


@pytest.mark.asyncio
async def test_a_restarted_extender_rebuilds_allocations_from_pods(harness: Harness) -> None:
    for name in ("r1", "r2"):
        harness.kube.apply(Kind.POD, pod(name, vram="70Gi"))
        args = {"PodName": name, "PodNamespace": "ml", "PodUID": f"uid-{name}", "Node": "gpu-h100"}
        assert (await harness.post("/bind", args))["Error"] == ""
    fresh = await _start(harness.kube)
    try:
        full = await fresh.post(
            "/filter", {"Pod": pod("r3", vram="70Gi"), "NodeNames": ["gpu-h100"]}
        )
        assert full["NodeNames"] == []
        # A pod that finished releases its device; a deleted one too.
        done = harness.kube.stored(Kind.POD, "ml", "r1")
        done["status"] = {"phase": "Succeeded"}
        harness.kube.apply(Kind.POD, done)
        await fresh.settle()
        again = await fresh.post(
            "/filter", {"Pod": pod("r3", vram="70Gi"), "NodeNames": ["gpu-h100"]}
        )
        assert again["NodeNames"] == ["gpu-h100"]
        harness.kube.delete(Kind.POD, "ml", "r2")
        await fresh.settle()
        assert len(list(fresh.extender.state.held())) == 0
    finally:
        await fresh.client.close()


@pytest.mark.asyncio
async def test_an_assumption_whose_bind_never_completes_expires(harness: Harness) -> None:
    state = harness.extender.state
    allocation = harness.extender.decider.choose(pod("slow", vram="80Gi"), "gpu-h100")
    state.assume("uid-slow", allocation, ttl=30)
    state.assume(
        "uid-slow2", harness.extender.decider.choose(pod("s2", vram="80Gi"), "gpu-h100"), 30
    )
    blocked = await harness.post(
        "/filter", {"Pod": pod("x", vram="80Gi"), "NodeNames": ["gpu-h100"]}
    )
    assert blocked["NodeNames"] == []
    harness.clock[0] = 31.0  # type: ignore[attr-defined]
    free = await harness.post("/filter", {"Pod": pod("x", vram="80Gi"), "NodeNames": ["gpu-h100"]})
    assert free["NodeNames"] == ["gpu-h100"]


@pytest.mark.asyncio
async def test_a_namespace_over_its_quota_is_filtered_naming_the_quota(harness: Harness) -> None:
    harness.kube.apply(
        Kind.COMPUTE_QUOTA,
        {
            "apiVersion": "hcs.io/v1alpha1",
            "kind": "ComputeQuota",
            "metadata": {"name": "team-a", "namespace": "ml"},
            "spec": {"hard": {"vram": "64Gi"}},
        },
    )
    harness.kube.apply(Kind.POD, pod("q1"))
    args = {"PodName": "q1", "PodNamespace": "ml", "PodUID": "uid-q1", "Node": "gpu-h100"}
    assert (await harness.post("/bind", args))["Error"] == ""
    await harness.settle()
    result = await harness.post("/filter", {"Pod": pod("q2"), "NodeNames": ["npu-910b1"]})
    reason = result["FailedAndUnresolvableNodes"]["npu-910b1"]
    assert "ComputeQuota ml/team-a" in reason
    assert "over the limit of 64Gi" in reason
    other = await harness.post(
        "/filter", {"Pod": pod("q3", namespace="x"), "NodeNames": ["npu-910b1"]}
    )
    assert other["NodeNames"] == ["npu-910b1"]
    # The holder itself, asked again, is not counted twice (48Gi of 64Gi).
    again = harness.kube.stored(Kind.POD, "ml", "q1")
    assert (await harness.post("/filter", {"Pod": again, "NodeNames": ["npu-910b1"]}))[
        "NodeNames"
    ] == ["npu-910b1"]
    # Once the holder is gone, the namespace has room again.
    harness.kube.delete(Kind.POD, "ml", "q1")
    await harness.settle()
    freed = await harness.post("/filter", {"Pod": pod("q2"), "NodeNames": ["npu-910b1"]})
    assert freed["NodeNames"] == ["npu-910b1"]


@pytest.mark.asyncio
async def test_plan_names_the_vendor_an_early_bound_pod_would_get(harness: Harness) -> None:
    ascend_only = pod("e1", vram="60Gi")
    ascend_only["metadata"]["annotations"] = {"hcs.io/vendors": "ascend"}
    plan = await harness.post("/plan", {"pod": ascend_only})
    assert plan["vendor"] == "ascend"
    assert plan["model"] == "Ascend-910B1"
    assert plan["candidates"] == [{"vendor": "ascend", "model": "Ascend-910B1", "nodes": 1}]
    impossible = await harness.post("/plan", {"pod": pod("e2", vram="200Gi")})
    assert "vendor" not in impossible
    assert impossible["error"]


@pytest.mark.asyncio
async def test_readyz_waits_for_the_first_sync_and_metrics_count_decisions() -> None:
    kube = InMemoryKube()
    extender = build_extender(ExtenderSettings(leader_elect=False), kube)
    app = create_app(extender)
    app.cleanup_ctx.clear()  # no sync task: the cache stays unsynced
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/readyz")).status == 503
        # Unsynced, no verb answers (an empty or half-read cache would mislead): 503 is an
        # error kube-scheduler retries, never a verdict on the pod.
        bind = {"PodName": "m", "PodNamespace": "ml", "PodUID": "u", "Node": "gpu-h100"}
        for verb, body in (
            ("/filter", {"Pod": pod("m"), "NodeNames": ["gpu-h100"]}),
            ("/prioritize", {"Pod": pod("m"), "NodeNames": ["gpu-h100"]}),
            ("/bind", bind),
            ("/plan", {"pod": pod("m")}),
        ):
            refused = await client.post(verb, json=body)
            assert refused.status == 503, verb
            assert "not synced" in (await refused.json())["Error"]
        assert not kube.calls
        extender.state.synced = True
        assert (await client.get("/readyz")).status == 200
        await client.post("/filter", json={"Pod": pod("m"), "NodeNames": []})
        text = await (await client.get("/metrics")).text()
        assert 'hcs_extender_decision_seconds_count{verb="filter"} 1.0' in text
        assert 'hcs_extender_decisions_total{outcome="none",verb="filter"} 1.0' in text


@pytest.mark.asyncio
async def test_static_mode_filters_from_a_file_and_refuses_to_bind(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(yaml.safe_dump(NODES))
    extender = build_extender(ExtenderSettings(cluster=cluster), None)
    async with TestClient(TestServer(create_app(extender))) as client:
        assert (await client.get("/readyz")).status == 200
        result = await (await client.post("/filter", json=FILTER_ARGS)).json()
        assert result["NodeNames"] == ["gpu-h100", "npu-910b1"]
        args = {"PodName": "p", "PodNamespace": "ml", "PodUID": "u", "Node": "gpu-h100"}
        bound = await (await client.post("/bind", json=args)).json()
        assert "static mode" in bound["Error"]


def test_the_shipped_scheduler_configuration_matches_the_server() -> None:
    from hcs_api.names import Resource
    from hcs_scheduler.extender.app import create_app as make_app

    path = Path(__file__).absolute().parents[3] / "deploy" / "scheduler"
    config = yaml.safe_load((path / "kube-scheduler-config.yaml").read_text())
    assert config["apiVersion"] == "kubescheduler.config.k8s.io/v1"
    # HCS must see every node: kube-scheduler's own filters ignore ai.compute/*.
    assert config["percentageOfNodesToScore"] == 100
    (extender,) = config["extenders"]
    managed = {r["name"]: r["ignoredByScheduler"] for r in extender["managedResources"]}
    assert managed == dict.fromkeys((r.value for r in Resource), True)
    assert extender["nodeCacheCapable"] is True
    assert extender["urlPrefix"].endswith(f":{ExtenderSettings().port}")
    routes = {
        r.resource.canonical
        for r in make_app(build_extender(ExtenderSettings(), InMemoryKube())).router.routes()
        if r.resource is not None
    }
    for verb in ("filterVerb", "prioritizeVerb", "bindVerb"):
        assert f"/{extender[verb]}" in routes


@pytest.mark.asyncio
async def test_what_is_held_is_summed_into_computenode_status(harness: Harness) -> None:
    writer = harness.extender.status_writer
    assert writer is not None
    harness.kube.apply(Kind.POD, pod("s1", vram="30Gi"))
    harness.kube.apply(Kind.POD, pod("s2", vram="30Gi"))
    for name in ("s1", "s2"):
        args = {"PodName": name, "PodNamespace": "ml", "PodUID": f"uid-{name}", "Node": "gpu-h100"}
        assert (await harness.post("/bind", args))["Error"] == ""
    assert await writer.write_changed() == 1  # only the H100 node holds anything
    devices = harness.kube.stored(Kind.COMPUTE_NODE, "", "gpu-h100")["status"]["devices"]
    # Two 30Gi slices, on one device or two (the policy's choice).
    assert sum(d["pods"] for d in devices) == 2
    assert {d["vram"] for d in devices} <= {"30Gi", "60Gi"}
    await harness.settle()
    assert await writer.write_changed() == 0  # unchanged: nothing written again
    harness.kube.delete(Kind.POD, "ml", "s1")
    await harness.settle()
    assert await writer.write_changed() == 1
    devices = harness.kube.stored(Kind.COMPUTE_NODE, "", "gpu-h100")["status"]["devices"]
    assert [(d["vram"], d["pods"]) for d in devices] == [("30Gi", 1)]
    assert writer.state.holds("uid-s1") is None


def test_status_devices_scale_the_devices_throughput_by_the_share_held() -> None:
    from hcs_api import ContainerAllocation, PodAllocation
    from hcs_api.v1alpha1 import ComputeNode
    from hcs_scheduler.extender.status import device_allocations

    path = Path(__file__).absolute().parents[3] / "deploy" / "examples" / "computenode-h100.yaml"
    node = ComputeNode.model_validate(yaml.safe_load(path.read_text()))
    held = [
        PodAllocation(
            node="gpu-h100-01",
            vendor="nvidia",
            model="H100-SXM5-80G",
            vram=20 * GI,
            share=250,
            containers=[
                ContainerAllocation(container="c", devices=["nvidia-2"], vram=20 * GI, share=250)
            ],
        )
    ]
    (device,) = device_allocations(node, held)
    # A quarter of an H100 SXM: 989.5 / 4 FP16 and BF16 TFLOPS, 67 / 4 FP32, 1979 / 4 INT8 TOPS.
    assert device == {
        "id": "nvidia-2",
        "vram": "20Gi",
        "compute": {"fp16": "247375m", "bf16": "247375m", "fp32": "16750m", "int8": "494750m"},
        "pods": 1,
    }


@pytest.mark.parametrize(
    "hosts",
    [["gpu-01", "rack2.gpu-02"], ['odd"name', "back\\slash"], ["new\nline", "x"], ["one"], []],
    ids=["dns-names", "names-needing-escapes", "newline-in-a-name", "one-host", "empty"],
)
def test_host_priorities_encode_as_json_whatever_the_names(hosts: list[str]) -> None:
    from hcs_scheduler.extender.wire import HostPriorityEncoder, encode_host_priorities

    scores = [(i * 7) % 11 for i in range(len(hosts))]
    expected = [{"Host": host, "Score": score} for host, score in zip(hosts, scores, strict=True)]
    assert json.loads(encode_host_priorities(list(zip(hosts, scores, strict=True)))) == expected
    # The pre-encoded path: the encoder knows the hosts in another order, plus one more.
    known = ["spare", *reversed(hosts)]
    index = np.array([known.index(h) for h in hosts], dtype=np.int64)
    encoder = HostPriorityEncoder(known)
    assert json.loads(encoder.encode(hosts, index, np.array(scores, np.int64))) == expected
    # A host the encoder does not know (-1) falls back to encoding every pair by name.
    if hosts:
        index[0] = -1
        assert json.loads(encoder.encode(hosts, index, np.array(scores, np.int64))) == expected
