"""Helpers the real-API tests share (plain functions and constants; fixtures are in conftest)."""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from hcs_envtest import Process, free_port, http_status, tls_context

REPO = Path(os.environ.get("TEST_SRCDIR", "")) / os.environ.get("TEST_WORKSPACE", "")
if not (REPO / "deploy").is_dir():
    REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
GROUP, VERSION = "hcs.io", "v1alpha1"


def python_command(module: str, *args: str) -> list[str]:
    """An HCS command as users run it (`python -m hcs_agent run ...`), on this interpreter."""
    return [sys.executable, "-m", module, *args]


def apis(api_client: Any) -> Any:
    """The typed API groups a test uses, on one client."""
    from kubernetes import client

    class Apis:
        core = client.CoreV1Api(api_client)
        custom = client.CustomObjectsApi(api_client)
        extensions = client.ApiextensionsV1Api(api_client)
        admission = client.AdmissionregistrationV1Api(api_client)
        coordination = client.CoordinationV1Api(api_client)
        events = client.EventsV1Api(api_client)

    return Apis


def ensure_namespace(api: Any, name: str) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        api.core.create_namespace({"metadata": {"name": name}})
    except ApiException as error:
        if error.status != 409:
            raise


def h100(index: int, **extra: Any) -> dict[str, Any]:
    """One inventory entry of an H100 (80 GB) the agent reports as real hardware."""
    return {
        "vendor": "nvidia",
        "id": str(index),
        "uuid": f"GPU-{index:08d}",
        "name": "NVIDIA H100 80GB HBM3",
        "numaNode": 0,
        **extra,
    }


def agent_command(
    inventory: Path, devices: list[dict[str, Any]], node: str, interval: str
) -> list[str]:
    """`hcs-agent run` reporting `devices` (written to `inventory`) for `node`, every `interval`
    seconds."""
    inventory.write_text(yaml.safe_dump({"devices": devices}))
    return python_command(
        "hcs_agent",
        "run",
        "--inventory",
        str(inventory),
        "--node-name",
        node,
        "--interval",
        interval,
        "--listen-port",
        str(free_port()),
    )


def pod(name: str, requests: dict[str, str], **spec: Any) -> dict[str, Any]:
    """A pod asking `requests` of its one container (as limits: extended resources need them)."""
    annotations = spec.pop("annotations", None)
    body = {
        "metadata": {"name": name, **({"annotations": annotations} if annotations else {})},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "registry.example/train:1",
                    "resources": {"limits": requests, "requests": requests},
                }
            ],
            **spec,
        },
    }
    return body


HCS_USER = "hcs-test-scheduler"
"""The identity the tests' HCS writes as; the webhook is told it is HCS's own account."""


class Webhook:
    """`python -m hcs_webhook serve` with a serving certificate from the control plane's CA."""

    def __init__(self, plane: Any, tmp_path: Path) -> None:
        self.plane = plane
        self.port = free_port()
        self.cert = plane.serving_cert("hcs-webhook")
        self.log = tmp_path / "webhook.log"
        self.process: Process | None = None

    def start(self) -> None:
        argv = python_command(
            "hcs_webhook",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--tls-cert",
            str(self.cert.cert),
            "--tls-key",
            str(self.cert.key),
        )
        env = {
            **os.environ,
            "HCS_WEBHOOK_KUBECONFIG": str(self.plane.admin_kubeconfig),
            "HCS_WEBHOOK_HCS_SERVICE_ACCOUNTS": f'["{HCS_USER}"]',
        }
        self.process = Process("hcs-webhook", argv, self.log, env=env)
        context = tls_context(str(self.plane.ca))
        up = lambda: http_status(self.port, "/healthz", context) == 200  # noqa: E731
        self.process.wait_until(up, 30, "up")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def registrations(port: int, ca_pem: bytes) -> list[dict[str, Any]]:
    """The shipped configurations, each webhook pointed at the test's server by URL (no
    Service or DNS here) with the control plane's CA as its caBundle."""
    documents = list(
        yaml.safe_load_all((DEPLOY / "webhook" / "webhook-configurations.yaml").read_text())
    )
    for document in documents:
        document["metadata"].pop("annotations", None)  # cert-manager's; the bundle is set here
        for webhook in document["webhooks"]:
            path = webhook["clientConfig"]["service"]["path"]
            webhook["clientConfig"] = {
                "url": f"https://127.0.0.1:{port}{path}",
                "caBundle": base64.b64encode(ca_pem).decode(),
            }
    return documents
