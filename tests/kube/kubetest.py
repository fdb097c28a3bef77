"""Helpers the real-API tests share (plain functions and constants; fixtures are in conftest)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

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
