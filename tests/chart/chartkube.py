"""Helpers the chart's real-API tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = (Path(os.environ.get("TEST_SRCDIR", "")) / os.environ.get("TEST_WORKSPACE", "")).absolute()
if not (REPO / "deploy").is_dir():
    REPO = Path(__file__).resolve().parents[2]
NS = "hcs-system"
SECRETS = ["hcs-ca", "hcs-scheduler-tls", "hcs-webhook-tls", "hcs-kube-scheduler-client"]


def container(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The first container of the workload `kind`/`name`."""
    found = next(d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name)
    return found["spec"]["template"]["spec"]["containers"][0]


def python(module: str, *args: str) -> list[str]:
    """An HCS command as the image runs it, on this interpreter."""
    return [sys.executable, "-m", module, *args]


def https(
    port: int, path: str, ca: Path, body: Any = None, token: str = "", client: Path | None = None
) -> tuple[int, Any]:
    """GET (no body) or POST `path` on 127.0.0.1:`port`, verifying the server against `ca`
    (not its names: they are the Service's); `client`: a folder with tls.crt and tls.key."""
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    if client is not None:
        context.load_cert_chain(client / "tls.crt", client / "tls.key")
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}", data, headers)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.status, _decoded(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, _decoded(error.read())
    except OSError:  # nothing listening, or the TLS handshake refused
        return 0, None


def _decoded(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode()


def run_hook(manifests: list[dict[str, Any]], kubeconfig: Path) -> subprocess.CompletedProcess:
    """The hook Job's command, with the hook's account."""
    args = container(manifests, "Job", "hcs-certificates")["args"]
    argv = python("hcs_webhook", *args, f"--kubeconfig={kubeconfig}")
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
