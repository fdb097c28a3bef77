"""The remediation's I/O shell: reads the node's state through the port, asks `plan` what to do,
does it, and says so in Kubernetes Events on the node and the pods.

Order matters for the 1 s budget and for the replacement's checkpoint: cordons first (the
scheduler stops placing work at once), taints, then per pod: find its newest complete
checkpoint, record it where its replacement will be admitted (the controller owner's
annotations, or the replacement HCS creates for a bare pod), and only then evict.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hcs_api import HcsApiError
from hcs_api.allocation import read_allocation
from hcs_api.names import Annotation
from hcs_health.analyzer import Assessment
from hcs_health.checkpoint import find_newest
from hcs_health.errors import CheckpointError
from hcs_health.remediation import resume
from hcs_health.remediation.plan import (
    Cordon,
    DeviceView,
    Eviction,
    Memory,
    Plan,
    PodView,
    RemediationConfig,
    plan,
)
from hcs_health.remediation.port import EvictOutcome, ObjectRef, RemediationPort

log = logging.getLogger("hcs_health")
OWNER_LEVELS = 2
"""Pod -> Job -> JobSet: a JobSet recreates its Jobs, so the resume point goes one level up."""


@dataclass
class Outcome:
    """What one reconcile did, as lines an operator reads (also logged)."""

    actions: list[str] = field(default_factory=list)
    cordoned_at: dict[str, float] = field(default_factory=dict)
    """Device -> the clock when its cordon was written (the latency benchmark reads it)."""
    evictions: list[tuple[str, EvictOutcome]] = field(default_factory=list)
    """(namespace/name, what the API server answered)."""


class Remediator:
    def __init__(
        self,
        node: str,
        port: RemediationPort,
        config: RemediationConfig,
        kubelet_root: Path = Path("/var/lib/kubelet"),
        find_checkpoint: Callable[[Path], Any] = find_newest,
        retry_s: float = 10.0,
    ) -> None:
        self.node = node
        self._port = port
        self._config = config
        self._kubelet = kubelet_root
        self._find = find_checkpoint
        self._retry_s = retry_s
        self.memory = Memory()
        self._devices: dict[str, DeviceView] = {}
        self._blocked: dict[str, tuple[Eviction, float]] = {}

    def refresh(self) -> None:
        """Re-read the ComputeNode's devices and cordons (at start and every agent cycle): the
        remediation keeps no state of its own across restarts."""
        found = self._port.compute_node(self.node)
        devices = (found or {}).get("spec", {}).get("devices") or []
        self._devices = {
            d["id"]: DeviceView(d["id"], bool(d.get("cordoned")), d.get("cordonReason"))
            for d in devices
        }

    def release(self, present: Iterable[str], clock: float) -> Outcome:
        """Drop HCS's cordon entries of devices the agent no longer detects (a device that fell
        off the bus vanishes from its tool): the agent's next report removes the device, which
        the API server refuses while another manager still holds fields of it."""
        gone = {d for d, v in self._devices.items() if v.cordoned_by_hcs} - set(present)
        outcome = Outcome()
        if gone:
            self._write_cordons([], list(gone), outcome, clock)
        return outcome

    def reconcile(self, assessments: Mapping[str, Assessment], now: float) -> Outcome:
        outcome = Outcome()
        raw_pods: dict[str, dict[str, Any]] = {}
        if self._may_evict(assessments):
            raw_pods = {p["metadata"]["uid"]: p for p in self._port.pods_on_node(self.node)}
        views = [v for v in (_pod_view(p, self.node) for p in raw_pods.values()) if v]
        actions = plan(assessments, self._devices.values(), views, self.memory, now, self._config)
        self._apply(actions, raw_pods, outcome, now)
        self._retry_blocked(raw_pods, outcome, now)
        return outcome

    def _may_evict(self, assessments: Mapping[str, Assessment]) -> bool:
        if not self._config.evict:
            return False
        if any(v.cordoned_by_hcs for v in self._devices.values()):
            return True
        return any(a.score < self._config.cordon_below for a in assessments.values())

    def _apply(
        self, actions: Plan, raw_pods: dict[str, dict[str, Any]], outcome: Outcome, now: float
    ) -> None:
        if actions.cordon or actions.uncordon:
            self._write_cordons(actions.cordon, actions.uncordon, outcome, now)
        if actions.taints is not None:
            self._port.set_hcs_taints(self.node, actions.taints)
            shown = ", ".join(f"{k}:{v}" for k, v in actions.taints.items()) or "none"
            self._say(self._node_ref(), "HCSNodeTaints", f"HCS taints now {shown}", outcome)
        for eviction in actions.evict:
            self._evict(eviction, raw_pods.get(eviction.pod.uid) or {}, outcome, now)

    def _write_cordons(
        self, add: Iterable[Cordon], lift: Iterable[str], outcome: Outcome, now: float
    ) -> None:
        held = {d: v.cordon_reason or "" for d, v in self._devices.items() if v.cordoned_by_hcs}
        added = {c.device: c.reason for c in add}
        lifted = set(lift)
        wanted = {d: r for d, r in (held | added).items() if d not in lifted}
        self._port.apply_cordons(self.node, wanted)
        for device, reason in added.items():
            self._devices[device] = DeviceView(device, True, reason)
            outcome.cordoned_at[device] = now
            self._say(
                self._node_ref(), "HCSDeviceCordoned", f"{device} cordoned: {reason}", outcome
            )
        for device in lifted & set(self._devices):
            self._devices[device] = DeviceView(device)
            message = f"{device} uncordoned after {self._config.quiet_period_s:g} s healthy"
            self._say(self._node_ref(), "HCSDeviceUncordoned", message, outcome, warning=False)

    def _evict(self, eviction: Eviction, pod: dict[str, Any], outcome: Outcome, now: float) -> None:
        target = eviction.pod
        resume_from, note = self._resume_point(pod)
        owner = resume.controller_of(pod)
        if resume_from is not None and owner is not None:
            note += self._record_on_owners(owner, resume_from)
        result = self._port.evict(target.namespace, target.name, target.uid)
        outcome.evictions.append((f"{target.namespace}/{target.name}", result.outcome))
        ref = _pod_ref(target)
        devices = ", ".join(eviction.devices)
        if result.outcome is EvictOutcome.BLOCKED:
            first = target.uid not in self._blocked
            self._blocked[target.uid] = (eviction, now + self._retry_s)
            if first:
                message = f"eviction off {devices} waits: {result.message} (retrying)"
                self._say(ref, "HCSEvictionBlocked", message, outcome)
            return
        self._blocked.pop(target.uid, None)
        if result.outcome is EvictOutcome.GONE:
            return
        message = f"evicted: {devices} unhealthy ({eviction.reason}); {note}"
        self._say(ref, "HCSEvicted", message, outcome)
        if owner is None:
            self._replace(pod, resume_from, ref, outcome)

    def _resume_point(self, pod: dict[str, Any]) -> tuple[str | None, str]:
        root = resume.checkpoint_dir(pod)
        if root is None:
            return None, "no hcs.io/checkpoint-dir: the replacement starts from scratch"
        namespace = pod["metadata"].get("namespace", "")
        host, how = resume.host_path(
            pod, root, self._kubelet, lambda claim: self._port.claim_volume(namespace, claim)
        )
        if host is None:
            return None, f"checkpoint dir {root} not readable from the node: {how}"
        try:
            found = self._find(host)
        except CheckpointError as error:
            return None, f"checkpoint dir {root}: {error}"
        if found is None:
            return None, f"no complete checkpoint in {root}"
        path = resume.container_path(root, host, found.path)
        return path, f"resumes from {path} ({found.layout}, step {found.step})"

    def _record_on_owners(self, owner: ObjectRef, path: str) -> str:
        written = []
        ref: ObjectRef | None = owner
        for _ in range(OWNER_LEVELS):
            if ref is None:
                break
            found = self._port.get(ref)
            if found is None:
                break
            self._port.annotate(ref, {Annotation.RESUME_FROM.value: path})
            written.append(str(ref))
            ref = resume.controller_of(found)
        return f"; resume point recorded on {', '.join(written)}" if written else ""

    def _replace(
        self, pod: dict[str, Any], resume_from: str | None, ref: dict[str, Any], outcome: Outcome
    ) -> None:
        body = resume.replacement(pod, resume_from)
        namespace = pod["metadata"].get("namespace", "")
        created = self._port.create_pod(namespace, body)
        name = body["metadata"]["name"]
        state = "created" if created else "already exists"
        self._say(ref, "HCSReplaced", f"bare pod: replacement {name} {state}", outcome, False)

    def _retry_blocked(
        self, raw_pods: dict[str, dict[str, Any]], outcome: Outcome, now: float
    ) -> None:
        for uid, (eviction, due) in list(self._blocked.items()):
            if due <= now and uid in raw_pods:
                self._evict(eviction, raw_pods[uid], outcome, now)
            elif due <= now:
                self._blocked.pop(uid)

    def _node_ref(self) -> dict[str, Any]:
        return {"kind": "Node", "apiVersion": "v1", "name": self.node, "namespace": "default"}

    def _say(
        self,
        involved: dict[str, Any],
        reason: str,
        message: str,
        outcome: Outcome,
        warning: bool = True,
    ) -> None:
        outcome.actions.append(f"{involved.get('name')}: {reason}: {message}")
        log.info("%s %s: %s", reason, involved.get("name"), message)
        try:
            self._port.event(involved, reason, message[:1024], warning)
        except Exception as error:  # an Event is a courtesy: never let it stop remediation
            log.warning("could not record event %s on %s: %s", reason, involved.get("name"), error)


def _pod_view(pod: dict[str, Any], node: str) -> PodView | None:
    meta = pod.get("metadata") or {}
    try:
        allocation = read_allocation(meta.get("annotations") or {})
    except HcsApiError:
        return None
    if allocation is None or allocation.node != node:
        return None
    devices = frozenset(allocation.device_ids())
    return PodView(meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", ""), devices)


def _pod_ref(pod: PodView) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "name": pod.name,
        "namespace": pod.namespace,
        "uid": pod.uid,
    }
