"""The cluster and the processes the kube reliability parts (binds.py, restarts.py) run against.

A loopback control plane (hcs_envtest) holds Node objects and ComputeNodes built the way
bench/kube_cluster.py builds them (the first node reported by the real `hcs-agent run --once`,
the rest cloned through the API), a namespace of pods asking for a mix of shares and whole
devices, and `hcs-scheduler serve` as its own process, killable and restartable on one port.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from random import Random
from typing import Any

import orjson
import yaml
from hcs_envtest import ControlPlane, Process, free_port, http_status, wait_for
from kubernetes import client
from kubernetes.client.exceptions import ApiException

# bench/kube_cluster.py (the throughput bench's cluster build) lives one folder up; bench scripts
# are run as files, not as a package, so its folder goes on the path the way theirs is.
BENCH = Path(__file__).resolve().parents[1]
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
import kube_cluster as kc  # noqa: E402

GIB = 2**30
SHARE_VRAM_GIB = (2, 4, 8, 12, 16, 24)
SHARE_TFLOPS = (25, 50, 100, 200)
WHOLE_DEVICES = ((1, 0.08), (2, 0.04), (4, 0.02), (8, 0.01))
"""`ai.compute/devices` counts and the share of pods asking for each; the rest ask for a slice
(VRAM + FP16 TFLOPS) of one device. 1,000 such pods want about 3x what 16 x 8 H100s hold."""


# -- cluster
def prepare(plane: ControlPlane) -> None:
    """hcs-system and HCS's CRDs, tolerating what an earlier part on this plane created."""
    api = plane.api_client()
    try:
        _create_namespace(client.CoreV1Api(api), kc.SYSTEM_NAMESPACE, service_account=False)
        extensions = client.ApiextensionsV1Api(api)
        names = []
        for path in sorted((kc.DEPLOY / "crds").glob("*.yaml")):
            body = yaml.safe_load(path.read_text())
            names.append(body["metadata"]["name"])
            _create_ignoring_conflict(
                lambda b=body: extensions.create_custom_resource_definition(b)
            )
        for name in names:
            wait_for(lambda n=name: kc._established(extensions, n), 60, f"CRD {name} Established")
    finally:
        api.close()


def _create_ignoring_conflict(create: Any) -> None:
    try:
        create()
    except ApiException as error:
        if error.status != 409:
            raise


def _create_namespace(core: Any, name: str, service_account: bool) -> None:
    _create_ignoring_conflict(lambda: core.create_namespace({"metadata": {"name": name}}))
    if service_account:  # kube-controller-manager would make it; the ServiceAccount plugin needs it
        _create_ignoring_conflict(
            lambda: core.create_namespaced_service_account(name, {"metadata": {"name": "default"}})
        )


def build_nodes(plane: ControlPlane, prefix: str, count: int, threads: int = 8) -> list[str]:
    """`count` Nodes x 8 H100s with their ComputeNodes, named `<prefix>-NN`: the first reported
    by the agent, the others its clones (kube_cluster's recipe). Returns their names."""
    names = [f"{prefix}-{n:02d}" for n in range(count)]
    capacity, template = kc.report_first_node(plane, names[0])
    clients = kc.Clients(plane)

    def create(name: str) -> None:
        clients.send("POST", "/api/v1/nodes", kc.node_body(name, capacity))
        clients.send("PATCH", f"/api/v1/nodes/{name}", kc.UNTAINT, kc.STRATEGIC_MERGE)
        body, status = kc.clone_compute_node(template, name)
        clients.send("POST", kc.COMPUTE_NODES, body)
        clients.send("PATCH", f"{kc.COMPUTE_NODES}/{name}/status", status, kc.MERGE)

    try:
        kc.run_all(create, names[1:], threads)
    finally:
        clients.close()
    return names


# -- pods
def pod_requests(rng: Random) -> dict[str, str]:
    """One pod's `ai.compute/*` request, drawn from the mix above."""
    draw = rng.random()
    for devices, weight in WHOLE_DEVICES:
        if draw < weight:
            return {"ai.compute/devices": str(devices)}
        draw -= weight
    return {
        "ai.compute/vram": f"{rng.choice(SHARE_VRAM_GIB)}Gi",
        "ai.compute/tflops-fp16": str(rng.choice(SHARE_TFLOPS)),
    }


def pod_body(name: str, requests: dict[str, str]) -> dict[str, Any]:
    """A pending pod for hcs-scheduler (as the webhook leaves it) asking `requests`."""
    return {
        "metadata": {"name": name},
        "spec": {
            "schedulerName": "hcs-scheduler",
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "main",
                    "image": "registry.example/train:1",
                    "resources": {"limits": requests, "requests": requests},
                }
            ],
        },
    }


def create_pods(plane: ControlPlane, namespace: str, count: int, rng: Random) -> list[str]:
    """A fresh namespace holding `count` pods of the mix; their names, in creation order."""
    api = plane.api_client()
    try:
        _create_namespace(client.CoreV1Api(api), namespace, service_account=True)
    finally:
        api.close()
    bodies = [pod_body(f"pod-{i:04d}", pod_requests(rng)) for i in range(count)]
    clients = kc.Clients(plane)
    path = f"/api/v1/namespaces/{namespace}/pods"
    try:
        kc.run_all(lambda body: clients.send("POST", path, body), bodies, 16)
    finally:
        clients.close()
    return [body["metadata"]["name"] for body in bodies]


def get_json(api: Any, path: str) -> Any:
    """GET `path` on an ApiClient's connections as JSON (no model conversion)."""
    response = api.rest_client.pool_manager.request(
        "GET", api.configuration.host + path, headers={"Accept": kc.JSON}, timeout=60
    )
    if response.status != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status}: {response.data[:300]!r}")
    return orjson.loads(response.data)


# -- the extender process
FAST_LEASE = {
    "HCS_SCHEDULER_LEASE_DURATION": "4",
    "HCS_SCHEDULER_RENEW_DEADLINE": "3",
    "HCS_SCHEDULER_RETRY_PERIOD": "0.5",
}
"""Lease timings of tests/kube: the mechanism of the defaults, in seconds instead of 15."""

SYNCED_LINE = "cache synced:"
"""What `hcs-scheduler serve` logs, in the same step that sets its cache synced."""


@dataclass
class Generation:
    """One run of the extender process: when it was started (wall clock, after the previous
    one was reaped), its log, and when it logged that its cache is synced (None: never)."""

    number: int
    started: float
    log: Path
    process: Process
    killed: float | None = None

    def synced_at(self) -> float | None:
        """Wall-clock time of its "cache synced" log line (asctime: local, milliseconds)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return None
        for line in text.splitlines():
            if SYNCED_LINE in line:
                stamp = " ".join(line.split()[:2])  # "2026-12-06 15:04:05,123"
                return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        return None


@dataclass
class Extender:
    """`hcs-scheduler serve` following `plane`, on one port and with one Lease identity for
    every restart (as a Deployment's restarted pod keeps its name: it re-takes its own Lease)."""

    plane: ControlPlane
    workdir: Path
    port: int = field(default_factory=free_port)
    lease: str = field(default_factory=lambda: f"hcs-reliability-{secrets.token_hex(4)}")
    generations: list[Generation] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def current(self) -> Generation:
        return self.generations[-1]

    def start(self) -> Generation:
        """A new process on the same port; returns at once (not waiting for readiness)."""
        number = len(self.generations)
        log = self.workdir / f"hcs-scheduler-{number:02d}.log"
        argv = [sys.executable, "-m", "hcs_scheduler", "serve"]
        argv += ["--kubeconfig", str(self.plane.admin_kubeconfig)]
        argv += ["--host", "127.0.0.1", "--port", str(self.port)]
        env = {
            **os.environ,
            **FAST_LEASE,
            "HCS_SCHEDULER_STATUS_INTERVAL": "0.5",
            "HCS_SCHEDULER_LEASE_NAME": self.lease,
            "HCS_SCHEDULER_LEASE_NAMESPACE": kc.SYSTEM_NAMESPACE,
            "HCS_SCHEDULER_IDENTITY": self.lease,
            # The stand-in for kube-scheduler speaks plain HTTP with no client certificate.
            "HCS_SCHEDULER_OPEN_BIND": "true",
        }
        started = time.time()
        process = Process(f"hcs-scheduler #{number}", argv, log, env=env)
        self.generations.append(Generation(number, started, log, process))
        return self.current

    def ready(self) -> bool:
        return http_status(self.port, "/readyz", None) == 200

    def wait_ready(self, timeout: float = 90) -> None:
        self.current.process.wait_until(self.ready, timeout, "ready (cache synced, leading)")

    def kill(self) -> None:
        """SIGKILL to the process group (a crash, an OOM kill), waited for."""
        self.current.process.kill()
        self.current.killed = time.time()

    def stop(self) -> None:
        for generation in self.generations:
            generation.process.stop()
