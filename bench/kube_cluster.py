"""The cluster `kube_scheduler_throughput.py` schedules onto, and the schedulers it starts.

Set-up: HCS's CRDs, Node objects (no kubelet: capacity as a kubelet would report it), one node
reported by the real `hcs-agent run --once`, the rest cloned from it through the API by a pool
of threads (one ApiClient each). Processes: `hcs-scheduler serve` (ready once its cache holds
every ComputeNode) and kube-scheduler through hcs_envtest (ready once it holds its Lease).
"""

from __future__ import annotations

import copy
import os
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import yaml
from hcs_envtest import ControlPlane, Process, free_port, http_status, start_scheduler, wait_for
from kubernetes import client
from kubernetes.client.exceptions import ApiException

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
GROUP, VERSION, PLURAL = "hcs.io", "v1alpha1", "computenodes"
SYSTEM_NAMESPACE = "hcs-system"
COMPUTE_NODES = f"/apis/{GROUP}/{VERSION}/{PLURAL}"
JSON, MERGE = "application/json", "application/merge-patch+json"
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
BASELINE_RESOURCE = "example.com/gpu"
DEVICES = 8
BASE_CAPACITY = {"cpu": "64", "memory": "512Gi", "pods": "110", BASELINE_RESOURCE: str(DEVICES)}


class Clients:
    """One ApiClient per thread (the generated client is not meant to be shared)."""

    def __init__(self, plane: ControlPlane) -> None:
        self._plane = plane
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    def get(self) -> Any:
        api = getattr(self._local, "api", None)
        if api is None:
            api = self._local.api = self._plane.api_client()
            with self._lock:
                self._all.append(api)
        return api

    def send(self, method: str, path: str, body: Any, content_type: str = JSON) -> None:
        """One request on this thread's ApiClient (its connections and credentials), `body`
        encoded by orjson: the generated client's validation and model conversion would cost
        this process more CPU than the API server spends on the request, on the same cores."""
        api = self.get()
        response = api.rest_client.pool_manager.request(
            method,
            api.configuration.host + path,
            body=orjson.dumps(body),
            headers={"Content-Type": content_type, "Accept": JSON},
            timeout=60,
        )
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}: {response.data[:300]!r}")

    def close(self) -> None:
        for api in self._all:
            api.close()


def run_all(task: Callable[[Any], None], items: Iterable[Any], threads: int) -> None:
    """`task(item)` for every item on `threads` threads; the first error is raised, and on
    Ctrl-C what is queued is cancelled (what runs finishes its one request)."""
    pool = ThreadPoolExecutor(threads)
    try:
        for future in [pool.submit(task, item) for item in items]:
            future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


# -- set-up
def prepare(plane: ControlPlane) -> None:
    """The hcs-system namespace (both schedulers' and the extender's Leases) and the CRDs."""
    api = plane.api_client()
    core, extensions = client.CoreV1Api(api), client.ApiextensionsV1Api(api)
    core.create_namespace({"metadata": {"name": SYSTEM_NAMESPACE}})
    names = []
    for path in sorted((DEPLOY / "crds").glob("*.yaml")):
        body = yaml.safe_load(path.read_text())
        extensions.create_custom_resource_definition(body)
        names.append(body["metadata"]["name"])
    for name in names:
        wait_for(lambda n=name: _established(extensions, n), 60, f"CRD {name} Established")
    api.close()


def _established(extensions: Any, name: str) -> bool:
    crd = extensions.read_custom_resource_definition(name)
    conditions = crd.status.conditions or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


def node_body(name: str, capacity: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


UNTAINT = {"spec": {"taints": None}}
"""The TaintNodesByCondition admission plugin taints every new Node not-ready; the node lifecycle
controller lifts it once the kubelet reports Ready. Neither runs here: this strategic merge
patch lifts it as they would (as tests/kube's make_node does)."""


def h100_inventory(count: int = DEVICES) -> list[dict[str, Any]]:
    """What tests/kube/kubetest.h100 gives: H100s the agent reports as real hardware."""
    return [
        {
            "vendor": "nvidia",
            "id": str(i),
            "uuid": f"GPU-{i:08d}",
            "name": "NVIDIA H100 80GB HBM3",
            "numaNode": 0,
        }
        for i in range(count)
    ]


def report_first_node(plane: ControlPlane, name: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Create `name` and run the real agent once on it; its Node capacity (with ai.compute/*)
    and its ComputeNode as stored."""
    api = plane.api_client()
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    core.create_node(node_body(name, BASE_CAPACITY))
    core.patch_node(name, UNTAINT)
    inventory = plane.workdir / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"devices": h100_inventory()}))
    argv = [
        sys.executable,
        "-m",
        "hcs_agent",
        "run",
        "--once",
        "--inventory",
        str(inventory),
        "--node-name",
        name,
        "--listen-port",
        str(free_port()),
    ]
    env = {**os.environ, "HCS_AGENT_KUBECONFIG": str(plane.admin_kubeconfig)}
    agent = Process("hcs-agent", argv, plane.workdir / "hcs-agent.log", env=env)
    agent.wait_until(lambda: not agent.running(), 120, "finished", exit_ok=True)
    if agent.returncode != 0:
        raise RuntimeError(f"hcs-agent failed ({agent.returncode}):\n{agent.tail()}")
    capacity = dict(core.read_node(name).status.capacity)
    stored = custom.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)
    api.close()
    return capacity, stored


def clone_compute_node(template: dict[str, Any], name: str) -> tuple[dict, dict]:
    """`template`'s spec and status for node `name`, with device uuids of its own."""
    spec = copy.deepcopy(template["spec"])
    spec["nodeName"] = name
    for device in spec["devices"]:
        device["uuid"] = f"GPU-{name}-{device['id']}"
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ComputeNode",
        "metadata": {"name": name},
        "spec": spec,
    }
    status = copy.deepcopy(template.get("status") or {})
    status.pop("devices", None)  # the scheduler's part
    return body, {"status": status}


def create_cluster(plane: ControlPlane, count: int, threads: int) -> None:
    """`count` Nodes x 8 devices with their ComputeNodes: node-00000 by the agent, the rest
    cloned from it through the API, `threads` at a time."""
    names = [f"node-{n:05d}" for n in range(count)]
    capacity, template = report_first_node(plane, names[0])
    clients = Clients(plane)

    def create(name: str) -> None:
        clients.send("POST", "/api/v1/nodes", node_body(name, capacity))
        clients.send("PATCH", f"/api/v1/nodes/{name}", UNTAINT, STRATEGIC_MERGE)
        body, status = clone_compute_node(template, name)
        clients.send("POST", COMPUTE_NODES, body)
        clients.send("PATCH", f"{COMPUTE_NODES}/{name}/status", status, MERGE)

    try:
        run_all(create, names[1:], threads)
    finally:
        clients.close()


# -- processes
def start_extender(
    plane: ControlPlane, timeout: float, settings: dict[str, str]
) -> tuple[Process, str]:
    """`hcs-scheduler serve` on a free port with `settings` (HCS_SCHEDULER_* variables; none:
    its defaults), once /readyz says its cache holds every ComputeNode and it leads; its URL."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "hcs_scheduler",
        "serve",
        "--kubeconfig",
        str(plane.admin_kubeconfig),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    # Plain HTTP on loopback, bind open: the benchmark measures scheduling, not TLS handshakes
    # (tests/kube/test_access.py proves the closed default with the real kube-scheduler).
    env = {**os.environ, "HCS_SCHEDULER_OPEN_BIND": "true", **settings}
    process = Process("hcs-scheduler", argv, plane.log("hcs-scheduler"), env=env)
    ready = lambda: http_status(port, "/readyz", None) == 200  # noqa: E731
    try:
        process.wait_until(ready, timeout, "ready (cache synced, leading)")
    except BaseException:
        process.stop()
        raise
    return process, f"http://127.0.0.1:{port}"


def scheduler_config(
    lease: str, extender_url: str | None, qps: float | None, burst: int | None
) -> dict[str, Any]:
    """HCS's shipped KubeSchedulerConfiguration: with the extender at `extender_url`, or
    without `extenders` at all (kube-scheduler alone); a Lease of its own; qps/burst if set."""
    config = yaml.safe_load((DEPLOY / "scheduler" / "kube-scheduler-config.yaml").read_text())
    if extender_url is None:
        del config["extenders"]
    else:
        for extender in config["extenders"]:
            extender["urlPrefix"] = extender_url
            extender["enableHTTPS"] = False  # the extender above serves plain HTTP
            extender.pop("tlsConfig", None)
    config["leaderElection"]["resourceName"] = lease
    connection = dict(config.get("clientConnection") or {})
    if qps is not None:
        connection["qps"] = qps
    if burst is not None:
        connection["burst"] = burst
    config["clientConnection"] = connection
    return config


def start_kube_scheduler(plane: ControlPlane, name: str, config: dict[str, Any]) -> Process:
    """kube-scheduler on `config`, returned once it holds its Lease (it schedules from then)."""
    process = start_scheduler(plane, config, name=name)
    lease = config["leaderElection"]["resourceName"]
    api = plane.api_client()
    coordination = client.CoordinationV1Api(api)

    def leading() -> bool:
        try:
            held = coordination.read_namespaced_lease(lease, SYSTEM_NAMESPACE)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return bool(held.spec.holder_identity)

    try:
        process.wait_until(leading, 60, f"holding Lease {lease}")
    except BaseException:
        process.stop()
        raise
    finally:
        api.close()
    return process
