"""The extender's port to the Kubernetes API, and an in-memory adapter behind it.

Everything the extender needs from the API server, as plain JSON objects (dicts shaped as the
API serves them): list and watch ComputeNodes, ComputeQuotas and pods; read one pod; merge-patch
a pod's annotations; create a pod's Binding. The production adapter (`kube_client`) speaks to a
real API server through the official `kubernetes` client; `InMemoryKube` keeps objects in
dictionaries for logic tests and the static mode.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from hcs_scheduler.errors import SchedulerError

JsonObject = dict[str, Any]


class Kind(enum.StrEnum):
    """The object kinds the extender watches."""

    COMPUTE_NODE = "ComputeNode"
    COMPUTE_QUOTA = "ComputeQuota"
    POD = "Pod"


class EventType(enum.StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True)
class WatchEvent:
    type: EventType
    object: JsonObject


class KubeError(SchedulerError):
    """The API server refused or could not be reached; `status` is the HTTP status if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(KubeError):
    """The object does not exist (HTTP 404)."""


class Conflict(KubeError):
    """The write conflicts with the object's state, e.g. the pod is already bound (HTTP 409)."""


class KubePort(Protocol):
    """What the extender asks of the API server."""

    async def list(self, kind: Kind) -> list[JsonObject]:
        """Every object of `kind` (pods: in all namespaces)."""
        ...

    def watch(self, kind: Kind) -> AsyncIterator[WatchEvent]:
        """Changes to objects of `kind` from now on; ends (or raises KubeError) when the
        stream breaks, after which the caller lists again."""
        ...

    async def get_pod(self, namespace: str, name: str) -> JsonObject:
        """One pod; raises NotFound."""
        ...

    async def patch_pod_annotations(
        self, namespace: str, name: str, annotations: dict[str, str | None]
    ) -> None:
        """Merge-patch annotations (None removes a key); raises NotFound."""
        ...

    async def bind_pod(
        self,
        namespace: str,
        name: str,
        uid: str,
        node: str,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        """Create the pod's Binding to `node`; the API server sets `annotations` on the pod in
        the same write as spec.nodeName. Raises NotFound or Conflict."""
        ...

    async def patch_computenode_status(self, name: str, status: dict[str, Any]) -> None:
        """Merge-patch the ComputeNode's status subresource; raises NotFound."""
        ...

    async def get_lease(self, namespace: str, name: str) -> JsonObject:
        """One coordination.k8s.io/v1 Lease; raises NotFound."""
        ...

    async def create_lease(self, namespace: str, body: JsonObject) -> JsonObject:
        """Create a Lease; returns it as stored; raises Conflict if it exists already."""
        ...

    async def replace_lease(self, namespace: str, name: str, body: JsonObject) -> JsonObject:
        """PUT a Lease; `body` carries the metadata.resourceVersion it was read at, and a stale
        one raises Conflict (another writer came first); returns it as stored."""
        ...

    async def review_token(self, token: str) -> str | None:
        """The user the API server authenticates `token` as (a TokenReview); None if it does
        not. Raises KubeError when the review itself fails."""
        ...


def _decoded(encoded: bytes) -> JsonObject:
    obj: JsonObject = orjson.loads(encoded)
    return obj


def object_key(obj: JsonObject) -> tuple[str, str]:
    """(namespace, name) of an API object ("" namespace for cluster-scoped ones)."""
    metadata = obj.get("metadata") or {}
    return (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


class InMemoryKube:
    """A KubePort over dictionaries: writes are visible to lists and sent to watchers.

    Objects are kept encoded, as an API server keeps them: every read and every event is a
    fresh copy, and the store adds no object graphs to the process it runs in (the benchmark
    runs it inside the extender's, whose collector would otherwise scan them).
    `fail_next` makes the next call of a method raise, to test rollbacks; `delay` makes every
    write yield to the event loop first, so concurrent binds really interleave. Leases keep a
    resourceVersion, as the API server does: a PUT at a stale one raises Conflict.
    """

    def __init__(self, delay: float = 0.0) -> None:
        self._stored: dict[Kind, dict[tuple[str, str], bytes]] = {k: {} for k in Kind}
        self.watchers: dict[Kind, list[asyncio.Queue[WatchEvent]]] = {k: [] for k in Kind}
        self.fail_next: dict[str, KubeError] = {}
        self.delay = delay
        self.calls: list[tuple[str, ...]] = []
        self._leases: dict[tuple[str, str], bytes] = {}
        self._lease_version = 0
        self.tokens: dict[str, str] = {}
        """Bearer token -> the user a TokenReview authenticates it as."""

    # -- test set-up: put objects in (and tell watchers)
    def apply(self, kind: Kind, obj: JsonObject) -> None:
        key = object_key(obj)
        event = EventType.MODIFIED if key in self._stored[kind] else EventType.ADDED
        self._stored[kind][key] = encoded = orjson.dumps(obj)
        self._emit(kind, event, encoded)

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        encoded = self._stored[kind].pop((namespace, name), None)
        if encoded is not None:
            self._emit(kind, EventType.DELETED, encoded)

    def stored(self, kind: Kind, namespace: str, name: str) -> JsonObject | None:
        """A copy of the object as stored now, or None."""
        encoded = self._stored[kind].get((namespace, name))
        return None if encoded is None else _decoded(encoded)

    def stored_all(self, kind: Kind) -> list[JsonObject]:
        return [_decoded(encoded) for encoded in self._stored[kind].values()]

    def _emit(self, kind: Kind, event: EventType, encoded: bytes) -> None:
        for queue in self.watchers[kind]:
            queue.put_nowait(WatchEvent(event, _decoded(encoded)))

    # -- the port
    async def list(self, kind: Kind) -> list[JsonObject]:
        self._maybe_fail("list")
        return self.stored_all(kind)

    async def watch(self, kind: Kind) -> AsyncIterator[WatchEvent]:
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self.watchers[kind].append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self.watchers[kind].remove(queue)

    async def get_pod(self, namespace: str, name: str) -> JsonObject:
        self._maybe_fail("get_pod")
        pod = self.stored(Kind.POD, namespace, name)
        if pod is None:
            raise NotFound(f"pod {namespace}/{name} not found", 404)
        return pod

    async def patch_pod_annotations(
        self, namespace: str, name: str, annotations: dict[str, str | None]
    ) -> None:
        await asyncio.sleep(self.delay)
        self.calls.append(("patch", namespace, name))
        self._maybe_fail("patch_pod_annotations")
        pod = await self.get_pod(namespace, name)
        current = pod.setdefault("metadata", {}).setdefault("annotations", {})
        for key, value in annotations.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        self.apply(Kind.POD, pod)

    async def bind_pod(
        self,
        namespace: str,
        name: str,
        uid: str,
        node: str,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        await asyncio.sleep(self.delay)
        self.calls.append(("bind", namespace, name, node))
        self._maybe_fail("bind_pod")
        pod = await self.get_pod(namespace, name)
        if pod.get("metadata", {}).get("uid") not in (None, uid):
            raise Conflict(f"pod {namespace}/{name} has another uid", 409)
        if pod.get("spec", {}).get("nodeName"):
            raise Conflict(f"pod {namespace}/{name} is already bound", 409)
        pod.setdefault("spec", {})["nodeName"] = node
        if annotations:
            pod.setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)
        self.apply(Kind.POD, pod)

    async def patch_computenode_status(self, name: str, status: dict[str, Any]) -> None:
        await asyncio.sleep(self.delay)
        self.calls.append(("status", name))
        self._maybe_fail("patch_computenode_status")
        node = self.stored(Kind.COMPUTE_NODE, "", name)
        if node is None:
            raise NotFound(f"computenode {name} not found", 404)
        node.setdefault("status", {}).update(status)
        self.apply(Kind.COMPUTE_NODE, node)

    def stored_lease(self, namespace: str, name: str) -> JsonObject:
        """A copy of the Lease as stored now; raises NotFound."""
        encoded = self._leases.get((namespace, name))
        if encoded is None:
            raise NotFound(f'leases.coordination.k8s.io "{name}" not found', 404)
        return _decoded(encoded)

    async def get_lease(self, namespace: str, name: str) -> JsonObject:
        self._maybe_fail("get_lease")
        return self.stored_lease(namespace, name)

    async def create_lease(self, namespace: str, body: JsonObject) -> JsonObject:
        await asyncio.sleep(self.delay)
        self._maybe_fail("create_lease")
        name = str((body.get("metadata") or {}).get("name") or "")
        if (namespace, name) in self._leases:
            raise Conflict(f'leases.coordination.k8s.io "{name}" already exists', 409)
        return self._store_lease(namespace, name, body)

    async def replace_lease(self, namespace: str, name: str, body: JsonObject) -> JsonObject:
        await asyncio.sleep(self.delay)
        self._maybe_fail("replace_lease")
        current = self.stored_lease(namespace, name)
        version = (body.get("metadata") or {}).get("resourceVersion")
        if not version:
            # The API server would accept it (leases allow unconditional updates); the port's
            # contract does not: without a version, a PUT could overwrite another replica's lease.
            raise KubeError(f"lease {namespace}/{name}: a PUT must carry a resourceVersion", 400)
        if version != current["metadata"]["resourceVersion"]:
            raise Conflict(
                f'Operation cannot be fulfilled on leases.coordination.k8s.io "{name}": the '
                "object has been modified; please apply your changes to the latest version and "
                "try again",
                409,
            )
        return self._store_lease(namespace, name, body)

    async def review_token(self, token: str) -> str | None:
        self.calls.append(("review_token",))
        self._maybe_fail("review_token")
        return self.tokens.get(token)

    def _store_lease(self, namespace: str, name: str, body: JsonObject) -> JsonObject:
        self._lease_version += 1
        metadata = dict(body.get("metadata") or {})
        metadata |= {"name": name, "namespace": namespace}
        metadata["resourceVersion"] = str(self._lease_version)
        stored = {**body, "metadata": metadata}
        self._leases[(namespace, name)] = orjson.dumps(stored)
        return _decoded(self._leases[(namespace, name)])

    def _maybe_fail(self, method: str) -> None:
        error = self.fail_next.pop(method, None)
        if error is not None:
            raise error
