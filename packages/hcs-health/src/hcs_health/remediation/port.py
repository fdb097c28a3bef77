"""What the remediation needs from the API server: one small port, and the in-memory adapter for
logic tests (`hcs_health.remediation.kube` is the production adapter on the official client)."""

from __future__ import annotations

import copy
import enum
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

FIELD_MANAGER = "hcs-health"
"""Owns spec.devices[].cordoned and .cordonReason of a ComputeNode (server-side apply); the
agent applies the rest of the spec and never names those two fields."""


class EvictOutcome(enum.StrEnum):
    EVICTED = "evicted"
    """The API server took the eviction: the pod is terminating."""
    BLOCKED = "blocked"
    """A PodDisruptionBudget does not allow it now (HTTP 429): try again later."""
    GONE = "gone"
    """The pod no longer exists."""


@dataclass(frozen=True)
class Evicted:
    outcome: EvictOutcome
    message: str = ""


@dataclass(frozen=True)
class ObjectRef:
    """Enough to find any namespaced object (a pod's owner)."""

    api_version: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class RemediationPort(Protocol):
    def compute_node(self, node: str) -> dict[str, Any] | None:
        """The node's ComputeNode as JSON, None when there is none."""
        ...

    def apply_cordons(self, node: str, cordons: Mapping[str, str]) -> None:
        """Server-side apply (FIELD_MANAGER) of exactly these cordons (device -> reason); a
        device HCS cordoned before and left out here is uncordoned."""
        ...

    def pods_on_node(self, node: str) -> list[dict[str, Any]]:
        """Pods bound to the node that are not finished, as JSON."""
        ...

    def set_hcs_taints(self, node: str, taints: Mapping[str, str]) -> None:
        """Make the node's `hcs.io/*` taints exactly `taints` (key -> effect); others kept."""
        ...

    def evict(self, namespace: str, name: str, uid: str) -> Evicted:
        """An Eviction (policy/v1) for the pod, only if it still has this uid."""
        ...

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        """Any namespaced object as JSON (metadata is what is read); None when absent."""
        ...

    def annotate(self, ref: ObjectRef, annotations: Mapping[str, str]) -> None:
        """Merge these annotations into the object's metadata."""
        ...

    def create_pod(self, namespace: str, body: dict[str, Any]) -> bool:
        """Create the pod; False when one of that name exists already."""
        ...

    def claim_volume(self, namespace: str, claim: str) -> str | None:
        """The PersistentVolume bound to a claim (spec.volumeName), None when unbound."""
        ...

    def event(
        self, involved: dict[str, Any], reason: str, message: str, warning: bool = True
    ) -> None:
        """A core/v1 Event about `involved` (a pod or node reference)."""
        ...


@dataclass
class InMemoryRemediation:
    """A RemediationPort over dicts, for logic tests: records every call."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    objects: dict[ObjectRef, dict[str, Any]] = field(default_factory=dict)
    claims: dict[tuple[str, str], str] = field(default_factory=dict)
    taints: dict[str, dict[str, str]] = field(default_factory=dict)
    cordons: dict[str, dict[str, str]] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    """Pod names whose eviction a PodDisruptionBudget blocks."""
    events: list[tuple[str, str, str]] = field(default_factory=list)
    """(object name, reason, message)."""
    calls: list[str] = field(default_factory=list)
    _uids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def compute_node(self, node: str) -> dict[str, Any] | None:
        found = self.nodes.get(node)
        if found is None:
            return None
        found = copy.deepcopy(found)
        for device in found["spec"]["devices"]:
            reason = self.cordons.get(node, {}).get(device["id"])
            if reason is not None:
                device.update(cordoned=True, cordonReason=reason)
        return found

    def apply_cordons(self, node: str, cordons: Mapping[str, str]) -> None:
        self.calls.append(f"cordons {node} {sorted(cordons)}")
        self.cordons[node] = dict(cordons)

    def pods_on_node(self, node: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(p) for p in self.pods.values() if p["spec"].get("nodeName") == node]

    def set_hcs_taints(self, node: str, taints: Mapping[str, str]) -> None:
        self.calls.append(f"taints {node} {dict(taints)}")
        self.taints[node] = dict(taints)

    def evict(self, namespace: str, name: str, uid: str) -> Evicted:
        self.calls.append(f"evict {namespace}/{name}")
        pod = self.pods.get((namespace, name))
        if pod is None or pod["metadata"].get("uid") != uid:
            return Evicted(EvictOutcome.GONE)
        if name in self.blocked:
            return Evicted(
                EvictOutcome.BLOCKED,
                "Cannot evict pod as it would violate the pod's disruption budget.",
            )
        del self.pods[(namespace, name)]
        return Evicted(EvictOutcome.EVICTED)

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        found = self.objects.get(ref)
        return copy.deepcopy(found) if found is not None else None

    def annotate(self, ref: ObjectRef, annotations: Mapping[str, str]) -> None:
        self.calls.append(f"annotate {ref}")
        meta = self.objects[ref].setdefault("metadata", {})
        meta.setdefault("annotations", {}).update(annotations)

    def create_pod(self, namespace: str, body: dict[str, Any]) -> bool:
        name = body["metadata"]["name"]
        self.calls.append(f"create {namespace}/{name}")
        if (namespace, name) in self.pods:
            return False
        created = copy.deepcopy(body)
        created["metadata"].update(namespace=namespace, uid=f"uid-{next(self._uids)}")
        self.pods[(namespace, name)] = created
        return True

    def claim_volume(self, namespace: str, claim: str) -> str | None:
        return self.claims.get((namespace, claim))

    def event(
        self, involved: dict[str, Any], reason: str, message: str, warning: bool = True
    ) -> None:
        self.events.append((involved.get("name", ""), reason, message))
