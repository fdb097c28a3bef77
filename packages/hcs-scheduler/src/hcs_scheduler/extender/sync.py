"""Keep the cache true: list every kind, then follow its watch; on a broken watch, list again.

A relist replaces the kind's whole content, so objects deleted while the watch was down are
dropped. The cache reports synced (readyz) once every kind has been listed once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from hcs_api import describe_validation_error
from hcs_api.v1alpha1 import ComputeNode, ComputeQuota
from hcs_scheduler.extender.kube import EventType, Kind, KubeError, KubePort, object_key
from hcs_scheduler.extender.state import ClusterState

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Seconds between attempts after a failed list or watch (the last repeats)."""


class Syncer:
    def __init__(
        self, state: ClusterState, kube: KubePort, on_synced: Callable[[], None] = lambda: None
    ) -> None:
        self.state = state
        self.kube = kube
        self.on_synced = on_synced
        """Called once, when the cache first holds every kind (the server freezes its heap)."""
        self._listed: set[Kind] = set()
        self._node_specs: dict[str, Any] = {}
        """Each ComputeNode's spec as last applied, to skip events that change only status."""

    async def run(self) -> None:
        """Follow every kind until cancelled."""
        await asyncio.gather(*(self._follow(kind) for kind in Kind))

    async def _follow(self, kind: Kind) -> None:
        failures = 0
        while True:
            try:
                self.replace(kind, await self.kube.list(kind))
                failures = 0
                async for event in self.kube.watch(kind):
                    self.apply(kind, event.type, event.object)
                    await asyncio.sleep(0)  # a burst of events must not hold up requests
            except KubeError as error:
                log.warning("%s list/watch failed: %s", kind, error)
            delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
            failures += 1
            await asyncio.sleep(delay)

    def replace(self, kind: Kind, objects: list[dict[str, Any]]) -> None:
        """A full list: the kind's cache becomes exactly these objects."""
        if kind is Kind.COMPUTE_NODE:
            names = {
                str((o.get("spec") or {}).get("nodeName") or object_key(o)[1]) for o in objects
            }
            for name in set(self.state.nodes) - names:
                self._node_specs.pop(name, None)
                self.state.delete_node(name)
        elif kind is Kind.COMPUTE_QUOTA:
            keys = {object_key(o) for o in objects}
            for namespace, name in set(self.state.quotas) - keys:
                self.state.delete_quota(namespace, name)
        else:
            uids = {str((o.get("metadata") or {}).get("uid")) for o in objects}
            for uid in set(self.state.pods) - uids:
                self.state.delete_pod(uid)
        for obj in objects:
            self.apply(kind, EventType.MODIFIED, obj)
        self._listed.add(kind)
        if self._listed == set(Kind) and not self.state.synced:
            self.state.cluster()  # the snapshot now, not at the first request
            self.state.synced = True
            log.info("cache synced: %d nodes, %d pods", len(self.state.nodes), len(self.state.pods))
            self.on_synced()

    def apply(self, kind: Kind, event: EventType, obj: dict[str, Any]) -> None:
        namespace, name = object_key(obj)
        if kind is Kind.POD:
            uid = str((obj.get("metadata") or {}).get("uid") or "")
            if event is EventType.DELETED:
                self.state.delete_pod(uid)
            else:
                self.state.upsert_pod(obj)
            return
        if event is EventType.DELETED:
            if kind is Kind.COMPUTE_NODE:
                self._node_specs.pop(_node_name(obj), None)
                self.state.delete_node(_node_name(obj))
            else:
                self.state.delete_quota(namespace, name)
            return
        try:
            if kind is Kind.COMPUTE_NODE:
                # status.devices is ours (StatusWriter): its echo, and any other status-only
                # change, leaves what we decide over as it is; skipping it keeps thousands of
                # nodes' worth of new objects (and collector pauses) out of the process.
                node_name, spec = _node_name(obj), obj.get("spec")
                known = node_name in self.state.nodes
                if (
                    event is EventType.MODIFIED
                    and known
                    and self._node_specs.get(node_name) == spec
                ):
                    return
                self.state.upsert_node(ComputeNode.model_validate(obj))
                self._node_specs[node_name] = spec
            else:
                self.state.upsert_quota(ComputeQuota.model_validate(obj))
        except ValidationError as error:
            problems = "; ".join(describe_validation_error(error))
            log.warning("ignoring invalid %s %s: %s", kind, name, problems)


def _node_name(obj: dict[str, Any]) -> str:
    """The Kubernetes node a ComputeNode describes (spec.nodeName; its own name if unset)."""
    return str((obj.get("spec") or {}).get("nodeName") or object_key(obj)[1])
