"""bind: choose the devices on kube-scheduler's node, record them on the pod, then bind it.

The order makes every failure safe:
1. choose devices and *assume* them in the cache (one synchronous step: no other request can
   take the same devices in between, however many binds run at once);
2. write the allocation annotations (bind phase "reserved"), so the kubelet's downward API
   finds them when the container starts;
3. create the Binding;
4. mark the assumption confirmed and the bind phase "bound".
If 2 or 3 fails, the assumption is dropped and the annotations removed, and kube-scheduler
is told why (it retries the pod). If the process dies midway, the assumption dies with it, and
a pod annotated but never bound holds nothing on restart.

With several replicas only the leader binds (`leader`): a standby refuses, naming the leader,
and a replica that loses the lease between 2 and 3 drops its assumption and writes nothing more
(the pod is not bound, so its reserved annotations hold nothing; the leader's bind replaces
them).
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
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        if uid != args.pod_uid:
            return ExtenderBindingResult(
                error=f"cannot bind {where}: the pod was replaced (uid {uid}, not {args.pod_uid})"
            )
        try:
            if read_pod_request(pod).is_empty():
                return await self._bind_only(args, where)
            allocation = self.decider.choose(pod, args.node)
        except HcsApiError as error:
            return ExtenderBindingResult(error=f"cannot bind {where}: {error}")
        self.state.assume(uid, allocation, self.assume_ttl)
        annotations: dict[str, str | None] = {
            **allocation_annotations(allocation, BindPhase.RESERVED),
            Annotation.BIND_TIME.value: self._stamp(),
        }
        try:
            await self.kube.patch_pod_annotations(args.pod_namespace, args.pod_name, annotations)
            if (standby := self._standby()) is not None:
                # Lost the lease mid-bind: write nothing more (the leader may be annotating
                # this pod by now). Unbound, the reserved annotations hold nothing.
                self.state.forget(uid)
                return ExtenderBindingResult(error=f"cannot bind {where}: {standby}")
            await self.kube.bind_pod(args.pod_namespace, args.pod_name, uid, args.node)
        except KubeError as error:
            await self._roll_back(args, uid, annotations)
            return ExtenderBindingResult(
                error=f"binding {where} failed: {error}; its devices were released"
            )
        self.state.confirm(uid)
        await self._mark_bound(args)
        log.info("bound %s: %s", where, allocation.to_wire())
        return ExtenderBindingResult()

    async def _bind_only(self, args: ExtenderBindingArgs, where: str) -> ExtenderBindingResult:
        assert self.kube is not None
        try:
            await self.kube.bind_pod(args.pod_namespace, args.pod_name, args.pod_uid, args.node)
        except KubeError as error:
            return ExtenderBindingResult(error=f"binding {where} failed: {error}")
        return ExtenderBindingResult()

    async def _roll_back(
        self, args: ExtenderBindingArgs, uid: str, annotations: dict[str, Any]
    ) -> None:
        assert self.kube is not None
        self.state.forget(uid)
        removal: dict[str, str | None] = dict.fromkeys(annotations)
        try:
            await self.kube.patch_pod_annotations(args.pod_namespace, args.pod_name, removal)
        except KubeError as error:
            # The pod is not bound, so the leftover record holds nothing (see ClusterState).
            log.warning("could not remove the allocation of %s: %s", args.pod_name, error)

    async def _mark_bound(self, args: ExtenderBindingArgs) -> None:
        assert self.kube is not None
        phase: dict[str, str | None] = {
            Annotation.BIND_PHASE.value: BindPhase.BOUND.value,
            Annotation.BIND_TIME.value: self._stamp(),
        }
        try:
            await self.kube.patch_pod_annotations(args.pod_namespace, args.pod_name, phase)
        except KubeError as error:
            # The Binding exists; spec.nodeName is the proof, the phase only informs humans.
            log.warning("pod %s is bound but its bind phase was not updated: %s", args, error)

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
