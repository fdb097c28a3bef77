"""kube-scheduler and kube-controller-manager beside a running ControlPlane.

Both authenticate as system:masters through the admin kubeconfig (their own RBAC roles are
not what HCS tests), serve HTTPS on a free loopback port with a self-signed certificate, and
are ready when /healthz answers 200.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from hcs_envtest import _http
from hcs_envtest._controlplane import START_TIMEOUT, ControlPlane
from hcs_envtest._process import Process, free_port


def start_scheduler(
    plane: ControlPlane, config: Mapping[str, Any], name: str = "kube-scheduler"
) -> Process:
    """kube-scheduler with `config` (a KubeSchedulerConfiguration as a dict, e.g. HCS's shipped
    one with the extender's URL pointed at a test's extender). Its clientConnection is set to
    the admin kubeconfig; everything else is taken as given."""
    document = dict(config)
    document["clientConnection"] = {
        **dict(document.get("clientConnection") or {}),
        "kubeconfig": str(plane.admin_kubeconfig),
    }
    path = plane.workdir / f"{name}-config.yaml"
    path.write_text(json.dumps(document, indent=1))
    return _start(plane, name, "kube-scheduler", [f"--config={path}"])


def start_controller_manager(
    plane: ControlPlane,
    controllers: Iterable[str] = ("*",),
    name: str = "kube-controller-manager",
) -> Process:
    """kube-controller-manager running `controllers` (its --controllers syntax: `*`,
    `-name`, `name`): garbage collection, eviction, namespaces, service accounts and the rest."""
    admin = str(plane.admin_kubeconfig)
    accounts = plane.workdir / "pki"
    return _start(
        plane,
        name,
        "kube-controller-manager",
        [
            f"--kubeconfig={admin}",
            f"--controllers={','.join(controllers)}",
            "--leader-elect=false",
            f"--service-account-private-key-file={accounts / 'sa.key'}",
            f"--root-ca-file={plane.ca}",
            "--use-service-account-credentials=false",
        ],
    )


def _start(plane: ControlPlane, name: str, binary: str, args: list[str]) -> Process:
    port = free_port()
    admin = str(plane.admin_kubeconfig)
    argv = [
        plane.binaries.path(binary),
        *args,
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={plane.workdir / (name + '-certs')}",
        f"--authentication-kubeconfig={admin}",
        f"--authorization-kubeconfig={admin}",
        "--v=2",
    ]
    process = plane._spawn(name, argv)
    context = _http.tls_context(None)
    process.wait_until(
        lambda: _http.get(port, "/healthz", context) == 200, START_TIMEOUT, "healthy"
    )
    return process


def wait_for(condition: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `condition()` until it returns something truthy (returned); AssertionError naming
    `what` after `timeout` seconds. For tests that wait on the API's eventual state."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
