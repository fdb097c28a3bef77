"""The webhook's two ports to the outside, and in-memory adapters for logic tests.

`ClusterReads`: what it reads from the Kubernetes API (kube.py has the adapter on the official
client). `Planner`: hcs-scheduler's `POST /plan` (planner.py has the aiohttp adapter). The
webhook never imports hcs_scheduler; it only speaks the wire models in hcs_api.plan.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hcs_api import PlanResult
from hcs_api.v1alpha1 import ComputeNode, ComputeQuota


class ClusterReads(Protocol):
    async def compute_quotas(self, namespace: str) -> list[ComputeQuota]:
        """The namespace's ComputeQuotas."""

    async def pods(self, namespace: str) -> list[dict[str, Any]]:
        """The namespace's pods, as JSON."""

    async def compute_nodes(self) -> list[ComputeNode]:
        """Every ComputeNode."""


class Planner(Protocol):
    async def plan(self, pod: dict[str, Any]) -> PlanResult:
        """The vendor HCS would choose for `pod` now; PlanError when it cannot be asked."""


@dataclass
class InMemoryCluster:
    """ClusterReads over lists held in memory."""

    quotas: list[ComputeQuota] = field(default_factory=list)
    pod_list: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[ComputeNode] = field(default_factory=list)

    async def compute_quotas(self, namespace: str) -> list[ComputeQuota]:
        return [q for q in self.quotas if q.metadata.namespace == namespace]

    async def pods(self, namespace: str) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(p)
            for p in self.pod_list
            if (p.get("metadata") or {}).get("namespace") == namespace
        ]

    async def compute_nodes(self) -> list[ComputeNode]:
        return list(self.nodes)


@dataclass
class FakePlanner:
    """Planner answering with a function of the pod (records what it was asked)."""

    answer: Callable[[dict[str, Any]], PlanResult]
    asked: list[dict[str, Any]] = field(default_factory=list)

    async def plan(self, pod: dict[str, Any]) -> PlanResult:
        self.asked.append(pod)
        return self.answer(pod)
