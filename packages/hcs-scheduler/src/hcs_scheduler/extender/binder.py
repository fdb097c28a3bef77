"""bind: choose the devices on kube-scheduler's node and bind the pod with them, in one write.

1. choose devices and *assume* them in the cache (one synchronous step: no other request can
   take the same devices in between, however many binds run at once);
2. create the Binding carrying the allocation annotations: the API server sets spec.nodeName
   and the annotations in one write, so the kubelet's downward API finds the devices when the
   container starts, and no pod is ever bound without its allocation or annotated without
   its binding;
3. mark the assumption confirmed.
If 2 fails, the assumption is dropped (nothing was written) and kube-scheduler is told why (it
retries the pod). If the process dies midway, the assumption dies with it.

A pod already bound is never assumed again: a repeated bind to its node answers success (the
first one landed; kube-scheduler retried), a bind to another node is refused, and what it
holds stays held.

With several replicas only the leader binds (`leader`): a standby refuses, naming the leader;
a replica that loses the lease while reading the pod writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hcs_api import HcsApiError, allocation_annotations, read_pod_request
from hcs_api.names import Annotation, BindPhase
from hcs_scheduler.extender.decide import Decider
from hcs_scheduler.extender.kube import KubeError, KubePort
from hcs_scheduler.extender.leader import LeaderElector
from hcs_scheduler.extender.state import ClusterState
from hcs_scheduler.extender.wire import ExtenderBindingArgs, ExtenderBindingResult

log = logging.getLogger(__name__)

STATIC_MODE = (
    "this hcs-scheduler serves a cluster file (static mode) and has no API server to bind "
    "through; run it with a kubeconfig or in the cluster to bind"
)


class Binder:
    def __init__(
        self,
        state: ClusterState,
        decider: Decider,
        kube: KubePort | None,
        assume_ttl: float,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        leader: LeaderElector | None = None,
    ) -> None:
        self.state = state
        self.decider = decider
        self.kube = kube
        self.assume_ttl = assume_ttl
        self.now = now
        self.leader = leader
        """Binds only while it leads; None: the only replica, always leading."""

    async def bind(self, args: ExtenderBindingArgs) -> ExtenderBindingResult:
        if self.kube is None:
            return ExtenderBindingResult(error=STATIC_MODE)
        where = f"pod {args.pod_namespace}/{args.pod_name} to node {args.node}"
        if (standby := self._standby()) is not None:
            return ExtenderBindingResult(error=f"cannot bind {where}: {standby}")
        try:
            pod = await self.kube.get_pod(args.pod_namespace, args.pod_name)
        except KubeError as error:
            return ExtenderBindingResult(error=f"cannot bind {where}: {error}")
        if (refusal := self._refusal(pod, args)) is not None:
            return ExtenderBindingResult(error=f"cannot bind {where}: {refusal}" if refusal else "")
        try:
            if read_pod_request(pod).is_empty():
                return await self._bind_only(args, where)
            allocation = self.decider.choose(pod, args.node)
        except HcsApiError as error:
            return ExtenderBindingResult(error=f"cannot bind {where}: {error}")
        self.state.assume(args.pod_uid, allocation, self.assume_ttl)
        annotations = {
            **allocation_annotations(allocation, BindPhase.BOUND),
            Annotation.BIND_TIME.value: self._stamp(),
        }
        try:
            await self.kube.bind_pod(
                args.pod_namespace, args.pod_name, args.pod_uid, args.node, annotations
            )
        except KubeError as error:
            self.state.forget(args.pod_uid)
            return ExtenderBindingResult(
                error=f"binding {where} failed: {error}; its devices were released"
            )
        self.state.confirm(args.pod_uid)
        log.info("bound %s: %s", where, allocation.to_wire())
        return ExtenderBindingResult()

    def _refusal(self, pod: dict[str, Any], args: ExtenderBindingArgs) -> str | None:
        """Why this pod cannot be bound now ("" when it already is, where it was asked to be),
        or None to go on. Checked after the pod was read: the lease may have moved meanwhile."""
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        if uid != args.pod_uid:
            return f"the pod was replaced (uid {uid}, not {args.pod_uid})"
        bound_to = (pod.get("spec") or {}).get("nodeName")
        if bound_to == args.node:
            return ""  # a retried bind whose first attempt landed: nothing to do, nothing freed
        if bound_to:
            return f"it is already bound to node {bound_to}; what it holds there stays held"
        return self._standby()

    async def _bind_only(self, args: ExtenderBindingArgs, where: str) -> ExtenderBindingResult:
        assert self.kube is not None
        try:
            await self.kube.bind_pod(args.pod_namespace, args.pod_name, args.pod_uid, args.node)
        except KubeError as error:
            return ExtenderBindingResult(error=f"binding {where} failed: {error}")
        return ExtenderBindingResult()

    def _standby(self) -> str | None:
        """Why this replica may not bind now, or None while it leads."""
        if self.leader is None or self.leader.is_leader:
            return None
        return (
            f"this hcs-scheduler replica ({self.leader.identity}) is a standby; "
            f"{self.leader.who_leads()} (kube-scheduler retries the pod)"
        )

    def _stamp(self) -> str:
        return self.now().strftime("%Y-%m-%dT%H:%M:%SZ")
