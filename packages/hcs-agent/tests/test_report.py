"""The reporter: spec, status and Node resources sent, retries with backoff, the last good kept."""

from __future__ import annotations

from datetime import UTC, datetime

from hcs_agent.collect import Collection
from hcs_agent.computenode import build
from hcs_agent.errors import ReportError
from hcs_agent.model import Detection, DeviceInfo
from hcs_agent.report import (
    Backoff,
    InMemoryKube,
    Reporter,
    RetryableError,
    spec_body,
    status_body,
)
from hcs_api.v1alpha1 import ComputeNode
from hcs_exchange import load_database

DB = load_database()


def node(devices: int = 2) -> ComputeNode:
    infos = tuple(
        DeviceInfo("nvidia", str(i), f"GPU-{i}", "NVIDIA A100-SXM4-80GB", vram_bytes=80 * 2**30)
        for i in range(devices)
    )
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    return build("gpu-7", Collection((Detection("nvidia", infos),), at=at), DB).node


def reporter(kube: InMemoryKube, sleeps: list[float], attempts: int = 3) -> Reporter:
    return Reporter(
        kube, Backoff(initial_s=1, max_s=4, attempts=attempts, rng=lambda: 1.0), sleeps.append
    )


def test_report_writes_spec_status_and_node_resources() -> None:
    kube = InMemoryKube()
    outcome = reporter(kube, []).report(node())
    assert outcome.ok
    assert kube.calls == ["apply", "apply-status", "patch-node"]
    stored = kube.compute_nodes["gpu-7"]
    assert len(stored["spec"]["devices"]) == 2
    assert stored["status"]["phase"] == "Ready"
    assert kube.node_status["gpu-7"]["allocatable"] == {
        "ai.compute/vram": str(160 * 2**30),
        "ai.compute/devices": "2",
        "ai.compute/tflops-fp16": "624",
        "ai.compute/tflops-fp32": "39",
        "ai.compute/tops-int8": "1248",
    }


def test_status_apply_leaves_the_schedulers_allocations_alone() -> None:
    body = status_body(node())
    assert "devices" not in body["status"]
    assert "spec" not in body


def test_retryable_errors_back_off_then_succeed() -> None:
    kube = InMemoryKube()
    kube.fail = [RetryableError("HTTP 503"), RetryableError("HTTP 429")]
    sleeps: list[float] = []
    send = reporter(kube, sleeps)
    outcome = send.report(node())
    assert (outcome.ok, outcome.attempts) == (True, 3)
    assert sleeps == [1.0, 2.0]  # doubling, jitter pinned at its top
    assert send.last_good is not None


def test_failure_after_every_retry_keeps_last_good_and_pending() -> None:
    kube = InMemoryKube()
    send = reporter(kube, [])
    first = node(2)
    assert send.report(first).ok
    kube.fail = [RetryableError("connection refused")] * 3
    newer = node(1)
    outcome = send.report(newer)
    assert (outcome.ok, outcome.attempts, outcome.error) == (False, 3, "connection refused")
    assert send.last_good is first
    assert send.pending is newer
    assert len(kube.compute_nodes["gpu-7"]["spec"]["devices"]) == 2  # nothing half-written lost
    assert send.report(newer).ok
    assert (send.last_good, send.pending) == (newer, None)


def test_a_permanent_error_is_not_retried() -> None:
    kube = InMemoryKube()
    kube.fail = [ReportError("apply computenodes/gpu-7: HTTP 404 Not Found")]
    sleeps: list[float] = []
    outcome = reporter(kube, sleeps).report(node())
    assert (outcome.ok, outcome.attempts, sleeps) == (False, 1, [])
    assert outcome.error is not None
    assert "404" in outcome.error


def test_health_owned_fields_and_empty_maps_stay_out_of_the_apply() -> None:
    """hcs-health owns cordons (its field manager): the agent's forced apply never names them,
    and a node with no usable device applies no `compute: {}`, which the API server stores as
    null and the schema then refuses."""
    infos = tuple(
        DeviceInfo("nvidia", str(i), f"GPU-{i}", "NVIDIA A100-SXM4-80GB", vram_bytes=80 * 2**30)
        for i in range(2)
    )
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    collection = Collection((Detection("nvidia", infos),), at=at)
    sick = build("gpu-7", collection, DB, analyzed={"nvidia-0": 0, "nvidia-1": 0}).node
    assert [d.health for d in sick.spec.devices] == [0, 0]
    sick.spec.devices[0].cordon_reason = "hcs-health: fell off the bus"
    sick.spec.devices[0].cordoned = True
    applied = spec_body(sick)
    assert all("cordoned" not in d and "cordonReason" not in d for d in applied["spec"]["devices"])
    status = status_body(sick)["status"]
    assert status["allocatable"]["devices"] == 0
    assert "compute" not in status["allocatable"]
