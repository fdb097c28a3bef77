"""What the API says once the binds are done, against what the extender says it holds.

From the API alone (pods' `spec.nodeName` and `hcs.io/allocation`, ComputeNode spec
capacities): bound pods without a valid allocation for their node, allocations on unbound pods,
pods a bind answered for that are not bound there, and devices over capacity (VRAM or compute
share summed over their pods above the device's, or a device given whole to one pod and shared).
Then the extender's own view: the per-device sums it writes into ComputeNode `status.devices`
and the per-node VRAM of its /metrics must equal the sums of the pods' annotations.
"""

from __future__ import annotations

import http.client
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kube_setup import get_json, kc
from prometheus_client.parser import text_string_to_metric_families

from hcs_api import HcsApiError, PodAllocation, Quantity, read_allocation

FULL_SHARE = 1000


@dataclass
class Held:
    """What the pods' annotations put on one device."""

    vram: int = 0
    share: int = 0
    pods: list[str] = field(default_factory=list)
    whole: list[str] = field(default_factory=list)


@dataclass
class Audit:
    bound: int = 0
    pending: int = 0
    lost: list[str] = field(default_factory=list)
    """Bound pods without an allocation, or with one for another node or unknown devices."""
    stray: list[str] = field(default_factory=list)
    """Pods not bound that carry an allocation annotation."""
    silent: list[str] = field(default_factory=list)
    """Pods a bind answered success for that are not bound to that node."""
    over: list[str] = field(default_factory=list)
    """Devices over capacity, or given whole and shared."""
    held: dict[tuple[str, str], Held] = field(default_factory=dict)


def audit(api: Any, namespace: str, nodes: list[str], claimed: dict[str, str]) -> Audit:
    """The API's state of `namespace`'s pods on `nodes`; `claimed`: pod -> node of every bind
    that answered success."""
    capacity = device_capacity(api, nodes)
    pods = get_json(api, f"/api/v1/namespaces/{namespace}/pods")["items"]
    result = Audit()
    held: dict[tuple[str, str], Held] = defaultdict(Held)
    for pod in pods:
        name = pod["metadata"]["name"]
        node = (pod.get("spec") or {}).get("nodeName")
        allocation, problem = _allocation(pod)
        if claimed.get(name, node) != node:
            result.silent.append(f"{name}: bind answered success for {claimed[name]}, on {node}")
        if not node:
            result.pending += 1
            if allocation is not None or problem:
                result.stray.append(f"{name}: pending with an allocation annotation")
            continue
        result.bound += 1
        problem = problem or _mismatch(allocation, node, capacity)
        if problem:
            result.lost.append(f"{name} on {node}: {problem}")
            continue
        assert allocation is not None
        for device in allocation.device_ids():
            entry = held[(node, device)]
            entry.vram += allocation.vram
            entry.share += allocation.share
            entry.pods.append(name)
            if allocation.share >= FULL_SHARE:
                entry.whole.append(name)
    result.held = dict(held)
    result.over = over_capacity(result.held, capacity)
    return result


def device_capacity(api: Any, nodes: list[str]) -> dict[tuple[str, str], int]:
    """(node, device id) -> VRAM bytes, from the ComputeNodes' specs."""
    capacity = {}
    for node in nodes:
        spec = get_json(api, f"{kc.COMPUTE_NODES}/{node}")["spec"]
        for device in spec["devices"]:
            capacity[(node, device["id"])] = Quantity(device["vram"]).ceil()
    return capacity


def _allocation(pod: dict[str, Any]) -> tuple[PodAllocation | None, str]:
    annotations = pod["metadata"].get("annotations") or {}
    try:
        return read_allocation(annotations), ""
    except HcsApiError as error:
        return None, str(error)


def _mismatch(
    allocation: PodAllocation | None, node: str, capacity: dict[tuple[str, str], int]
) -> str:
    if allocation is None:
        return "bound without an hcs.io/allocation annotation"
    if allocation.node != node:
        return f"its allocation names node {allocation.node}"
    unknown = [d for d in allocation.device_ids() if (node, d) not in capacity]
    return f"its allocation names devices the node lacks: {unknown}" if unknown else ""


def over_capacity(
    held: dict[tuple[str, str], Held], capacity: dict[tuple[str, str], int]
) -> list[str]:
    over = []
    for (node, device), entry in sorted(held.items()):
        where = f"{node}/{device}"
        if entry.vram > capacity[(node, device)]:
            over.append(f"{where}: VRAM {entry.vram} > {capacity[(node, device)]} ({entry.pods})")
        elif entry.share > FULL_SHARE:
            over.append(f"{where}: compute share {entry.share} > {FULL_SHARE} ({entry.pods})")
        elif entry.whole and len(entry.pods) > 1:
            over.append(f"{where}: given whole to {entry.whole} and also to {entry.pods}")
    return over


# -- the extender's view
def status_disagreements(
    api: Any, nodes: list[str], held: dict[tuple[str, str], Held]
) -> list[str]:
    """Devices whose ComputeNode status.devices (VRAM, pods) differs from the annotations."""
    reported: dict[tuple[str, str], tuple[int, int]] = {}
    for node in nodes:
        status = get_json(api, f"{kc.COMPUTE_NODES}/{node}").get("status") or {}
        for device in status.get("devices") or []:
            used = (Quantity(device.get("vram", 0)).ceil(), int(device.get("pods", 0)))
            if used != (0, 0):
                reported[(node, device["id"])] = used
    expected = {key: (entry.vram, len(entry.pods)) for key, entry in held.items()}
    return [
        f"{node}/{device}: status.devices says {reported.get((node, device))}, "
        f"the pods hold {expected.get((node, device))} (VRAM bytes, pods)"
        for node, device in sorted(set(reported) | set(expected))
        if reported.get((node, device)) != expected.get((node, device))
    ]


def metrics_disagreements(
    url: str, nodes: list[str], held: dict[tuple[str, str], Held]
) -> list[str]:
    """Nodes whose hcs_allocated_vram_bytes (the extender's cache) differs from the annotations."""
    reported: dict[str, int] = defaultdict(int)
    for family in text_string_to_metric_families(_get(url, "/metrics")):
        if family.name == "hcs_allocated_vram_bytes":
            for sample in family.samples:
                reported[sample.labels["node"]] += int(sample.value)
    expected: dict[str, int] = defaultdict(int)
    for (node, _), entry in held.items():
        expected[node] += entry.vram
    return [
        f"{node}: /metrics says {reported[node]} bytes of VRAM held, the pods hold {expected[node]}"
        for node in nodes
        if reported[node] != expected[node]
    ]


def _get(url: str, path: str) -> str:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().read().decode()
    finally:
        connection.close()


def settled(check: Callable[[], list[str]], timeout: float) -> list[str]:
    """`check()` until it finds nothing or `timeout` seconds pass (the extender writes status
    every half second and sees a Binding when its watch delivers it); its last findings."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)
