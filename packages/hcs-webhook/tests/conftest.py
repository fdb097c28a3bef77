"""Shared fixtures: settings, the exchange, pods and reviews built by hand, a TLS server."""

from __future__ import annotations

import copy
import io
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import jsonpatch
import kubernetes_validate
import pytest
import pytest_asyncio
from aiohttp import web

from hcs_api import PlanResult
from hcs_exchange import Exchange, load_database
from hcs_webhook import Deps
from hcs_webhook.ports import FakePlanner, InMemoryCluster
from hcs_webhook.server import make_runner
from hcs_webhook.settings import VendorRuntime, VendorTable, WebhookSettings
from hcs_webhook.tls import ReloadingTLS, self_signed

DATA = Path(__file__).absolute().parent / "data"
# tests/ -> hcs-webhook/ -> packages/ -> repository root (the runfiles root under `bazel test`).
REPO_ROOT = Path(__file__).absolute().parents[3]
KUBERNETES_VERSION = "1.31.0"


@pytest.fixture(scope="session")
def exchange() -> Exchange:
    return Exchange(load_database())


@pytest.fixture
def settings() -> WebhookSettings:
    return WebhookSettings(
        vendors=VendorTable(
            nvidia=VendorRuntime(runtime_image="nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04"),
            ascend=VendorRuntime(runtime_image="ascendhub.example/ascend-cann:8.0-ubuntu22.04"),
        )
    )


def recorded(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())


def container(name: str = "train", **resources: str) -> dict[str, Any]:
    """A container asking for `resources` (vram="16Gi", tflops_fp16="100") as limits."""
    limits = {f"ai.compute/{k.replace('_', '-')}": v for k, v in resources.items()}
    body: dict[str, Any] = {"name": name, "image": "registry.example.com/ml/app:1"}
    if limits:
        body["resources"] = {"limits": limits, "requests": dict(limits)}
    return body


def pod(
    *containers: dict[str, Any],
    init: tuple[dict[str, Any], ...] = (),
    annotations: dict[str, str] | None = None,
    name: str = "job",
    namespace: str = "ml",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = annotations
    if labels:
        metadata["labels"] = labels
    spec: dict[str, Any] = {"containers": list(containers) or [container(vram="16Gi")]}
    if init:
        spec["initContainers"] = list(init)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def review(
    obj: dict[str, Any] | None,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    username: str = "alice",
) -> dict[str, Any]:
    namespace = ((obj or old or {}).get("metadata") or {}).get("namespace", "ml")
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "uid-1",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": username},
            "object": copy.deepcopy(obj),
            "oldObject": copy.deepcopy(old),
        },
    }


def apply_patch(obj: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply with an independent RFC 6902 implementation (jsonpatch), not ours."""
    return jsonpatch.apply_patch(obj, patch)  # type: ignore[no-any-return]


def assert_valid_pod(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def env_of(obj: dict[str, Any], container_name: str) -> dict[str, Any]:
    spec = obj["spec"]
    for item in spec.get("initContainers", []) + spec["containers"]:
        if item["name"] == container_name:
            return {e["name"]: e.get("value", e.get("valueFrom")) for e in item.get("env", [])}
    raise KeyError(container_name)


@pytest.fixture
def kit() -> SimpleNamespace:
    """The builders above, for test modules (pytest's importlib mode cannot import conftest)."""
    return SimpleNamespace(
        pod=pod,
        container=container,
        review=review,
        recorded=recorded,
        apply_patch=apply_patch,
        assert_valid_pod=assert_valid_pod,
        env_of=env_of,
        repo_root=REPO_ROOT,
    )


@dataclass
class Served:
    """A webhook served over HTTPS on localhost, with a client that trusts its certificate."""

    url: str
    cert: Path
    key: Path
    tls: ReloadingTLS
    client: aiohttp.ClientSession
    cluster: InMemoryCluster
    planner: FakePlanner

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        # BytesIO: aiohttp warns about big raw-bytes bodies (the over-1-MiB test sends one).
        async with self.client.post(self.url + path, data=io.BytesIO(data)) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text


@pytest_asyncio.fixture
async def served(tmp_path, settings, exchange) -> AsyncIterator[Served]:
    cert, key = self_signed(tmp_path, ["localhost", "127.0.0.1"])
    tls = ReloadingTLS(cert, key)
    cluster = InMemoryCluster()
    planner = FakePlanner(lambda pod: PlanResult(vendor="nvidia", model="H100-SXM5-80G"))
    runner = make_runner(settings, Deps(cluster, planner, exchange))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.context)
    await site.start()
    port = runner.addresses[0][1]
    client_tls = ssl.create_default_context(cafile=str(cert))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_tls)) as client:
        yield Served(f"https://127.0.0.1:{port}", cert, key, tls, client, cluster, planner)
    await runner.cleanup()
