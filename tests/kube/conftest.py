"""Fixtures for the tests that run HCS against a real control plane (tools/controlplane).

One control plane (etcd + kube-apiserver) per pytest session, from hcs_envtest's plugin; the
CRDs applied once; the HCS components run as the commands users run (`python -m hcs_scheduler
serve`, `python -m hcs_agent run`, `python -m hcs_webhook serve`), as child processes, so a
test can kill one the way a node failure would.
"""

from __future__ import annotations

import os
import secrets
import ssl
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hcs_envtest import ControlPlane, Process, free_port, http_status, start_scheduler, wait_for

# The helpers module beside this file, importable from the tests (pytest's importlib mode does
# not put test folders on sys.path).
sys.path.insert(0, str(Path(__file__).parent))
import contextlib

from kubetest import (
    DEPLOY,
    GROUP,
    VERSION,
    Webhook,
    apis,
    ensure_namespace,
    python_command,
    registrations,
)

pytest_plugins = ["hcs_envtest.pytest_plugin"]


@pytest.fixture(scope="session")
def api(kube_api: Any) -> Any:
    return apis(kube_api)


@pytest.fixture(scope="session")
def crds(api: Any) -> list[str]:
    """HCS's generated CRDs, applied and Established."""
    names = []
    for path in sorted((DEPLOY / "crds").glob("*.yaml")):
        body = yaml.safe_load(path.read_text())
        api.extensions.create_custom_resource_definition(body)
        names.append(body["metadata"]["name"])
    for name in names:
        wait_for(lambda n=name: _established(api, n), 30, f"CRD {name} Established")
    return names


def _established(api: Any, name: str) -> bool:
    crd = api.extensions.read_custom_resource_definition(name)
    return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])


@pytest.fixture
def make_node(api: Any) -> Iterator[Callable[..., str]]:
    """Creates Node objects (no kubelet: capacity as a kubelet would report it)."""
    made: list[str] = []

    def make(name: str, cpu: str = "64", memory: str = "512Gi", extra: dict | None = None) -> str:
        capacity = {"cpu": cpu, "memory": memory, "pods": "110", **(extra or {})}
        api.core.create_node(
            {
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                "status": {
                    "capacity": capacity,
                    "allocatable": capacity,
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        )
        made.append(name)
        # The TaintNodesByCondition admission plugin taints every new Node not-ready; the node
        # lifecycle controller lifts it once the kubelet reports Ready. No kubelet, no such
        # controller here: lift it as it would.
        api.core.patch_node(name, {"spec": {"taints": None}})
        return name

    yield make
    for name in made:
        api.core.delete_node(name)
        with contextlib.suppress(Exception):
            api.custom.delete_cluster_custom_object(GROUP, VERSION, "computenodes", name)


@pytest.fixture
def agent_report(control_plane: ControlPlane, tmp_path: Path) -> Callable[..., dict]:
    """Runs `hcs-agent run --once` with a device inventory for `node`: the agent writes the
    ComputeNode and the Node's ai.compute/* resources; returns the ComputeNode as stored."""

    def report(node: str, devices: list[dict[str, Any]]) -> dict:
        inventory = tmp_path / f"{node}-inventory.yaml"
        inventory.write_text(yaml.safe_dump({"devices": devices}))
        log = tmp_path / f"agent-{node}.log"
        argv = python_command(
            "hcs_agent",
            "run",
            "--once",
            "--inventory",
            str(inventory),
            "--node-name",
            node,
            "--listen-port",
            str(free_port()),
        )
        env = {**os.environ, "HCS_AGENT_KUBECONFIG": str(control_plane.admin_kubeconfig)}
        agent = Process(f"hcs-agent {node}", argv, log, env=env)
        agent.wait_until(lambda: not agent.running(), 60, "finished", exit_ok=True)
        assert agent.returncode == 0, agent.tail()
        api = apis(control_plane.api_client())
        return api.custom.get_cluster_custom_object(GROUP, VERSION, "computenodes", node)

    return report


@pytest.fixture
def webhook(control_plane, api, crds, tmp_path):
    server = Webhook(control_plane, tmp_path)
    server.start()
    mutating, validating = registrations(server.port, control_plane.ca_pem)
    api.admission.create_mutating_webhook_configuration(mutating)
    api.admission.create_validating_webhook_configuration(validating)
    yield server
    api.admission.delete_mutating_webhook_configuration(mutating["metadata"]["name"])
    api.admission.delete_validating_webhook_configuration(validating["metadata"]["name"])
    server.stop()


FAST_LEASE = {
    "HCS_SCHEDULER_LEASE_DURATION": "4",
    "HCS_SCHEDULER_RENEW_DEADLINE": "3",
    "HCS_SCHEDULER_RETRY_PERIOD": "0.5",
}
"""The extender's Lease timings in these tests: a killed leader is replaced in seconds, not the
15 s of the defaults (the mechanism is the same)."""


class Extender:
    """A running `hcs-scheduler serve` following the control plane."""

    def __init__(
        self,
        plane: ControlPlane,
        log: Path,
        *settings: str,
        port: int = 0,
        wait: bool = True,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.port = port or free_port()
        self.tls = tls
        """How a client verifies it when it serves HTTPS (None: plain HTTP)."""
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        argv = python_command(
            "hcs_scheduler",
            "serve",
            "--kubeconfig",
            str(plane.admin_kubeconfig),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        )
        env = {**os.environ, **FAST_LEASE, "HCS_SCHEDULER_STATUS_INTERVAL": "0.5"}
        # Plain HTTP, binds open to the loopback: test_access.py proves the closed default
        # (client certificates, TokenReview) with the real kube-scheduler.
        env["HCS_SCHEDULER_OPEN_BIND"] = "true"
        env.update(s.split("=", 1) for s in settings)
        self.identity = env.setdefault("HCS_SCHEDULER_IDENTITY", f"extender-{self.port}")
        self.process = Process("hcs-scheduler", argv, log, env=env)
        if wait:
            self.wait_ready()

    def ready(self) -> bool:
        return http_status(self.port, "/readyz", self.tls) == 200

    def wait_ready(self) -> None:
        self.process.wait_until(self.ready, 60, "ready (cache synced)")


@pytest.fixture
def extender(
    control_plane: ControlPlane, api: Any, tmp_path: Path, crds: list[str]
) -> Iterator[Callable]:
    """Starts extenders; its Lease lives in hcs-system, as the chart installs it."""
    ensure_namespace(api, "hcs-system")
    started: list[Extender] = []

    def start(
        *settings: str, port: int = 0, wait: bool = True, tls: ssl.SSLContext | None = None
    ) -> Extender:
        """`settings`: HCS_SCHEDULER_*=value pairs; `port`: 0 for a free one; `wait`: until
        /readyz answers 200 (the cache is synced and this replica leads); `tls`: how to
        verify it when the settings make it serve HTTPS."""
        log = tmp_path / f"extender-{len(started)}.log"
        ext = Extender(control_plane, log, *settings, port=port, wait=wait, tls=tls)
        started.append(ext)
        return ext

    yield start
    for ext in started:
        ext.process.stop()


@pytest.fixture
def hcs_kube_scheduler(
    control_plane: ControlPlane, api: Any, tmp_path: Path
) -> Iterator[Callable[[str], Process]]:
    """kube-scheduler on HCS's shipped configuration, its extender URL set to the test's."""
    started: list[Process] = []

    def start(extender_url: str, tls: dict[str, str] | None = None) -> Process:
        """`tls`: the extender `tlsConfig` (certFile, keyFile, caFile) for an HTTPS extender;
        None: the shipped one is dropped, for a plain-HTTP extender."""
        config = yaml.safe_load((DEPLOY / "scheduler" / "kube-scheduler-config.yaml").read_text())
        for extender in config["extenders"]:
            extender["urlPrefix"] = extender_url
            extender["enableHTTPS"] = tls is not None
            extender.pop("tlsConfig", None)
            if tls is not None:
                extender["tlsConfig"] = tls
        namespace = config["leaderElection"]["resourceNamespace"]
        ensure_namespace(api, namespace)
        name = f"kube-scheduler-{len(started)}"
        # A Lease of its own: a stopped scheduler of an earlier test may still hold the shipped
        # one for its 15 s, and the next would wait that long to lead.
        config["leaderElection"]["resourceName"] += f"-{secrets.token_hex(4)}"
        process = start_scheduler(control_plane, config, name=name)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """These tests start processes and wait on a real scheduler: 180 s each, not 60."""
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(180))
