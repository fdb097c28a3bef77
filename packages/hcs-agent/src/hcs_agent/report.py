"""Reporting to Kubernetes through a port: the ComputeNode (spec, then status) and the Node's
`ai.compute/*` extended resources, with retry and backoff, never losing the last good report.

`KubePort` is all the agent needs from the API server; `InMemoryKube` is the adapter for logic
tests and the simulator, `hcs_agent.kube.KubernetesApi` the production one (official client).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hcs_agent.computenode import extended_resources
from hcs_agent.errors import ReportError
from hcs_api.v1alpha1 import ComputeNode

FIELD_MANAGER = "hcs-agent"


class RetryableError(ReportError):
    """The API server may answer next time (connection refused, 429, 5xx)."""


class KubePort(Protocol):
    def apply_compute_node(self, body: dict[str, Any]) -> None:
        """Server-side apply of metadata + spec."""
        ...

    def apply_compute_node_status(self, body: dict[str, Any]) -> None:
        """Server-side apply of the status subresource."""
        ...

    def patch_node_status(
        self, name: str, capacity: dict[str, str], allocatable: dict[str, str]
    ) -> None:
        """Merge `ai.compute/*` into the Node's status.capacity and status.allocatable."""
        ...


HEALTH_OWNED = ("cordoned", "cordonReason")
"""Device fields hcs-health applies under its own field manager: the agent never names them, so
its forced apply neither lifts a cordon nor takes an operator's."""


def spec_body(node: ComputeNode) -> dict[str, Any]:
    wire = node.to_wire()
    for device in wire["spec"].get("devices", []):
        for key in HEALTH_OWNED:
            device.pop(key, None)
    return {
        "apiVersion": wire["apiVersion"],
        "kind": wire["kind"],
        "metadata": {"name": node.metadata.name},
        "spec": without_empty_maps(wire["spec"]),
    }


def without_empty_maps(value: Any) -> Any:
    """`value` without empty objects: an apply naming `compute: {}` (no device usable, so no
    throughput) makes the API server store null there, which the schema then refuses."""
    if isinstance(value, dict):
        kept = {k: without_empty_maps(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v != {}}
    if isinstance(value, list):
        return [without_empty_maps(item) for item in value]
    return value


def status_body(node: ComputeNode) -> dict[str, Any]:
    """The agent's status fields only: status.devices (allocations) belongs to the scheduler, and
    naming it in an apply would take its ownership and clear the scheduler's entries."""
    assert node.status is not None
    status = node.status.to_wire()
    status.pop("devices", None)
    body = spec_body(node)
    del body["spec"]
    body["status"] = without_empty_maps(status)
    return body


@dataclass
class Backoff:
    """Exponential backoff with jitter: initial x 2^attempt, capped, times a factor in [0.5, 1]."""

    initial_s: float = 0.5
    max_s: float = 30.0
    attempts: int = 5
    rng: Callable[[], float] = field(default=random.random)

    def delay(self, attempt: int) -> float:
        return min(self.max_s, self.initial_s * 2.0**attempt) * (0.5 + self.rng() / 2)


@dataclass
class ReportOutcome:
    ok: bool
    attempts: int
    error: str | None = None


class Reporter:
    """Sends reports; keeps the last one the API server accepted and the newest unsent one."""

    def __init__(
        self,
        port: KubePort,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._port = port
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self.last_good: ComputeNode | None = None
        """The last report the API server accepted in full."""
        self.pending: ComputeNode | None = None
        """A report that failed after every retry: the next call sends its newer replacement."""

    def report(self, node: ComputeNode) -> ReportOutcome:
        attempt = 0
        while True:
            try:
                self._send(node)
            except RetryableError as error:
                attempt += 1
                if attempt >= self._backoff.attempts:
                    self.pending = node
                    return ReportOutcome(False, attempt, str(error))
                self._sleep(self._backoff.delay(attempt - 1))
                continue
            except ReportError as error:
                self.pending = node
                return ReportOutcome(False, attempt + 1, str(error))
            self.last_good, self.pending = node, None
            return ReportOutcome(True, attempt + 1)

    def _send(self, node: ComputeNode) -> None:
        assert node.status is not None
        self._port.apply_compute_node(spec_body(node))
        self._port.apply_compute_node_status(status_body(node))
        capacity = node.status.capacity
        allocatable = node.status.allocatable
        if capacity is not None and allocatable is not None:
            self._port.patch_node_status(
                node.spec.node_name,
                extended_resources(capacity),
                extended_resources(allocatable),
            )


class InMemoryKube:
    """A KubePort that keeps what it was sent; `fail` makes the next calls raise, for tests."""

    def __init__(self) -> None:
        self.compute_nodes: dict[str, dict[str, Any]] = {}
        self.node_status: dict[str, dict[str, dict[str, str]]] = {}
        self.calls: list[str] = []
        self.fail: list[ReportError] = []

    def _maybe_fail(self, call: str) -> None:
        self.calls.append(call)
        if self.fail:
            raise self.fail.pop(0)

    def apply_compute_node(self, body: dict[str, Any]) -> None:
        self._maybe_fail("apply")
        stored = self.compute_nodes.setdefault(body["metadata"]["name"], {})
        stored.update({k: v for k, v in body.items() if k != "status"})

    def apply_compute_node_status(self, body: dict[str, Any]) -> None:
        self._maybe_fail("apply-status")
        name = body["metadata"]["name"]
        if name not in self.compute_nodes:
            raise ReportError(f"computenodes {name} not found")
        self.compute_nodes[name]["status"] = body["status"]

    def patch_node_status(
        self, name: str, capacity: dict[str, str], allocatable: dict[str, str]
    ) -> None:
        self._maybe_fail("patch-node")
        status = self.node_status.setdefault(name, {"capacity": {}, "allocatable": {}})
        status["capacity"].update(capacity)
        status["allocatable"].update(allocatable)
