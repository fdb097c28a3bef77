"""The webhook's two ports to the outside, and in-memory adapters for logic tests.

`ClusterReads`: what it reads from the Kubernetes API (kube.py has the adapter on the official
client), including a pod's controller owners, where hcs-health records the checkpoint a
recreated pod resumes from. `Planner`: hcs-scheduler's `POST /plan` (planner.py has the aiohttp
adapter). The webhook never imports hcs_scheduler; it only speaks the wire models in
hcs_api.plan.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hcs_api import PlanResult
from hcs_api.v1alpha1 import ComputeNode, ComputeQuota
from hcs_webhook.errors import ClusterReadError


@dataclass(frozen=True)
class OwnerRef:
    """An object's controller, as its `metadata.ownerReferences` entry names it."""

    api_version: str
    kind: str
    name: str


@dataclass(frozen=True)
class OwnerMeta:
    """What the webhook reads of an owner: its annotations and its own controller, so the
    lookup can go one level up (a Job created by a JobSet)."""

    annotations: dict[str, str]
    controller: OwnerRef | None = None


def controller_of(obj: Mapping[str, Any]) -> OwnerRef | None:
    """The ownerReference with `controller: true` (Kubernetes allows one), or None."""
    metadata = obj.get("metadata")
    references = metadata.get("ownerReferences") if isinstance(metadata, Mapping) else None
    for reference in references if isinstance(references, list) else []:
        if not isinstance(reference, Mapping) or reference.get("controller") is not True:
            continue
        api_version, kind, name = (reference.get(k) for k in ("apiVersion", "kind", "name"))
        if isinstance(api_version, str) and isinstance(kind, str) and isinstance(name, str):
            return OwnerRef(api_version, kind, name) if api_version and kind and name else None
    return None


class ClusterReads(Protocol):
    async def compute_quotas(self, namespace: str) -> list[ComputeQuota]:
        """The namespace's ComputeQuotas."""

    async def pods(self, namespace: str) -> list[dict[str, Any]]:
        """The namespace's pods, as JSON."""

    async def compute_nodes(self) -> list[ComputeNode]:
        """Every ComputeNode."""

    async def owner_annotations(
        self, namespace: str, api_version: str, kind: str, name: str
    ) -> OwnerMeta | None:
        """An owner's annotations and controller; None when it does not exist or is in the core
        group (never looked up); ClusterReadError naming it when it cannot be read."""


class Planner(Protocol):
    async def plan(self, pod: dict[str, Any]) -> PlanResult:
        """The vendor HCS would choose for `pod` now; PlanError when it cannot be asked."""


@dataclass
class InMemoryCluster:
    """ClusterReads over lists held in memory."""

    quotas: list[ComputeQuota] = field(default_factory=list)
    pod_list: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[ComputeNode] = field(default_factory=list)
    owners: dict[tuple[str, str, str, str], OwnerMeta | ClusterReadError] = field(
        default_factory=dict
    )
    """By (namespace, apiVersion, kind, name); an error is raised when that owner is read."""
    owner_reads: list[tuple[str, str, str, str]] = field(default_factory=list)
    """Every owner read, in order, so tests can say what was (not) looked up."""

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

    async def owner_annotations(
        self, namespace: str, api_version: str, kind: str, name: str
    ) -> OwnerMeta | None:
        key = (namespace, api_version, kind, name)
        self.owner_reads.append(key)
        found = self.owners.get(key)
        if isinstance(found, ClusterReadError):
            raise found
        return copy.deepcopy(found)


@dataclass
class FakePlanner:
    """Planner answering with a function of the pod (records what it was asked)."""

    answer: Callable[[dict[str, Any]], PlanResult]
    asked: list[dict[str, Any]] = field(default_factory=list)

    async def plan(self, pod: dict[str, Any]) -> PlanResult:
        self.asked.append(pod)
        return self.answer(pod)
