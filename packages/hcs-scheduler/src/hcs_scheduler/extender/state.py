"""The extender's cluster cache: ComputeNodes, pods' allocations, quotas and assumptions.

Fed by watch events (or a cluster file in static mode), it keeps one `Cluster` snapshot that
the placement core decides over. What a pod holds comes from its `hcs.io/allocation`
annotation once the pod is bound (`spec.nodeName` set), so a fresh process rebuilds every
allocation from the API alone. Between choosing devices and the Binding landing, the bind flow
holds an *assumption*: in memory only, with an expiry, so a bind that hangs or a process that
dies never leaks devices. A pod that passes filter under a ComputeQuota holds a *quota
reservation* the same way (same expiry, released with its assumption), so a second pod of the
namespace filtered before the first one's bind arrives sees the first one's share.

Node changes rebuild the snapshot (lazily, at the next read); pod changes apply or release
their allocation in place. Everything is synchronous and single-threaded: the aiohttp loop calls
it between awaits, so a decision and the assumption it takes are atomic.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hcs_api import HcsApiError, PodAllocation, PodRequest, read_allocation, read_pod_request
from hcs_api.v1alpha1 import ComputeNode, ComputeQuota
from hcs_scheduler.cluster import Allocation, Cluster, StateInterner, build_cluster
from hcs_scheduler.snapshot import node_from_computenode

log = logging.getLogger(__name__)

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
"""A pod in these phases holds nothing."""


@dataclass(frozen=True)
class PodRecord:
    """What the cache keeps of one pod that asks for `ai.compute/*`."""

    uid: str
    namespace: str
    name: str
    labels: dict[str, str]
    priority_class: str | None
    request: PodRequest
    allocation: PodAllocation | None
    """The allocation it holds: set once the pod is bound to the allocation's node."""
    annotated: PodAllocation | None
    """The allocation its annotation records, bound or not (a bind in flight shows this)."""


@dataclass
class _QuotaHold:
    record: PodRecord
    expires: float
    """Monotonic deadline; refreshed when the pod passes filter again."""


@dataclass
class _Held:
    allocation: PodAllocation
    applied: Allocation | None
    expires: float | None
    """Monotonic deadline of an assumption; None for a bound pod's allocation."""


class Rows(dict[str, int]):
    """Node name -> row of the snapshot; -1 for a name without a ComputeNode.

    A missing key answers -1 instead of raising, so thousands of names map to rows with the C
    loop of `map(rows.__getitem__, names)`.
    """

    def __missing__(self, name: str) -> int:
        return -1


class ChangeLog:
    """Snapshot rows whose allocations changed, in order: caches computed over the snapshot
    (a request's device fit) update only those rows instead of starting over."""

    LIMIT = 4096
    """Entries kept; older marks then read as "too old" (recompute everything)."""

    def __init__(self) -> None:
        self._base = 0
        self._rows: list[int] = []

    def mark(self) -> int:
        """A position to ask `since` about later."""
        return self._base + len(self._rows)

    def add(self, row: int) -> None:
        self._rows.append(row)
        if len(self._rows) > self.LIMIT:
            self.reset()

    def reset(self) -> None:
        """Forget every entry (the snapshot was rebuilt): every earlier mark is too old, the
        latest one included (+1)."""
        self._base += len(self._rows) + 1
        self._rows.clear()

    def since(self, mark: int) -> list[int] | None:
        """Distinct rows changed after `mark`, sorted; None if the log no longer goes back so
        far."""
        if mark < self._base:
            return None
        return sorted(set(self._rows[mark - self._base :]))


class ClusterState:
    """The cache. `clock` is monotonic seconds (tests pass a fake)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.interner = StateInterner()
        self.nodes: dict[str, ComputeNode] = {}
        self.pods: dict[str, PodRecord] = {}
        self.quotas: dict[tuple[str, str], ComputeQuota] = {}
        self._held: dict[str, _Held] = {}
        self._deadlines: list[tuple[float, str]] = []
        """Heap of (expiry, uid) of assumptions and quota reservations; an entry whose holder
        was confirmed, refreshed or released is skipped."""
        self._quota_holds: dict[str, _QuotaHold] = {}
        self._cluster: Cluster | None = None
        self._index = Rows()
        self.version = 0
        """Bumped on every rebuild of the snapshot (node set or specs changed)."""
        self.generation = 0
        """Bumped on every change of what pods hold, of the pods or of the quotas."""
        self.changes = ChangeLog()
        """Rows of the snapshot whose allocations changed (reset when it is rebuilt)."""
        self._changed_nodes: set[str] = set()
        """Nodes whose held allocations or spec changed since `take_changed_nodes`."""
        self.synced = False
        """True once the first full list of every kind has been applied."""

    # -- inputs
    def upsert_node(self, node: ComputeNode) -> None:
        name = node.spec.node_name
        old = self.nodes.get(name)
        self.nodes[name] = node
        if old is None or old.spec != node.spec:
            self._cluster = None
            self._changed_nodes.add(name)

    def delete_node(self, name: str) -> None:
        if self.nodes.pop(name, None) is not None:
            self._cluster = None

    def upsert_pod(self, pod: dict[str, Any]) -> None:
        """A pod as the API serves it. Pods that ask for nothing are ignored; bad annotations
        are logged and the pod counted as holding nothing it cannot prove."""
        metadata = pod.get("metadata") or {}
        uid = str(metadata.get("uid") or "")
        if not uid:
            return
        record = pod_record(pod, uid)
        if record is None:
            self.delete_pod(uid)
            return
        self.pods[uid] = record
        self.generation += 1
        if record.allocation is not None:
            self._hold(uid, record.allocation, expires=None)
        elif record.annotated is None and uid in self._held and self._held[uid].expires is None:
            # The record is gone from the pod (rolled back): it holds nothing. An event that
            # shows the annotation without the binding yet (ours, in flight) changes nothing.
            self._release(uid)

    def delete_pod(self, uid: str) -> None:
        self.generation += 1
        self.pods.pop(uid, None)
        self._release(uid)

    def upsert_quota(self, quota: ComputeQuota) -> None:
        self.quotas[(quota.metadata.namespace or "", quota.metadata.name)] = quota
        self.generation += 1

    def delete_quota(self, namespace: str, name: str) -> None:
        self.quotas.pop((namespace, name), None)
        self.generation += 1

    # -- assumptions (the bind flow)
    def assume(self, uid: str, allocation: PodAllocation, ttl: float) -> None:
        """Hold `allocation` for `uid` until confirmed, forgotten, or `ttl` seconds pass."""
        expires = self.clock() + ttl
        self._hold(uid, allocation, expires=expires)
        heapq.heappush(self._deadlines, (expires, uid))

    def confirm(self, uid: str) -> None:
        """The Binding landed: the assumption becomes the pod's allocation (no expiry)."""
        held = self._held.get(uid)
        if held is not None:
            held.expires = None

    def forget(self, uid: str) -> None:
        """Drop an assumption and its quota reservation (the bind failed and was rolled back)."""
        held = self._held.get(uid)
        if held is not None and held.expires is not None:
            self._release(uid)
        self._drop_quota_hold(uid)

    def reserve_quota(self, record: PodRecord, ttl: float) -> None:
        """Count `record` against its namespace's quotas until it binds, its bind fails, it is
        gone, or `ttl` seconds pass (filter passed it; its bind is on the way)."""
        expires = self.clock() + ttl
        if record.uid not in self._quota_holds:
            self.generation += 1
        self._quota_holds[record.uid] = _QuotaHold(record, expires)
        heapq.heappush(self._deadlines, (expires, record.uid))

    def quota_reserved(self) -> Iterator[PodRecord]:
        """Pods holding a quota reservation (expired ones dropped first)."""
        self._expire()
        for hold in self._quota_holds.values():
            yield hold.record

    def holds(self, uid: str) -> PodAllocation | None:
        held = self._held.get(uid)
        return held.allocation if held is not None else None

    # -- reads
    def cluster(self) -> Cluster:
        """The snapshot with every live allocation applied (expired assumptions dropped)."""
        self._expire()
        if self._cluster is None:
            self._rebuild()
        assert self._cluster is not None
        return self._cluster

    def index(self) -> Rows:
        """Node name -> row of the snapshot, -1 if none (valid until the next node change)."""
        self.cluster()
        return self._index

    def held(self) -> Iterator[tuple[str, PodAllocation]]:
        for uid, held in self._held.items():
            yield uid, held.allocation

    def take_changed_nodes(self) -> set[str]:
        """Names of the nodes whose allocations (or spec) changed since the last call."""
        changed, self._changed_nodes = self._changed_nodes, set()
        return changed

    # -- internals
    def _hold(self, uid: str, allocation: PodAllocation, expires: float | None) -> None:
        previous = self._held.get(uid)
        if previous is not None and previous.allocation == allocation:
            previous.expires = None if expires is None else previous.expires
            return
        self._release(uid, keep_quota=True)  # its quota share stays counted meanwhile
        self.generation += 1
        self._changed_nodes.add(allocation.node)
        held = _Held(allocation, None, expires)
        self._held[uid] = held
        if self._cluster is not None:
            held.applied = self._apply(uid, allocation)

    def _drop_quota_hold(self, uid: str) -> None:
        if self._quota_holds.pop(uid, None) is not None:
            self.generation += 1

    def _release(self, uid: str, keep_quota: bool = False) -> None:
        if not keep_quota:
            self._drop_quota_hold(uid)
        held = self._held.pop(uid, None)
        if held is not None:
            self.generation += 1
            self._changed_nodes.add(held.allocation.node)
        if held is not None and held.applied is not None and self._cluster is not None:
            self._cluster.release(held.applied)
            self.changes.add(held.applied.node)

    def _expire(self) -> None:
        now = self.clock()
        while self._deadlines and self._deadlines[0][0] <= now:
            _, uid = heapq.heappop(self._deadlines)
            hold = self._quota_holds.get(uid)
            if hold is not None and hold.expires <= now:
                self._drop_quota_hold(uid)
            held = self._held.get(uid)
            if held is not None and held.expires is not None and held.expires <= now:
                log.info("assumption for pod uid %s expired; its devices are free again", uid)
                self._release(uid)

    def _rebuild(self) -> None:
        names = sorted(self.nodes)
        specs = [node_from_computenode(self.nodes[n]) for n in names]
        self._cluster = build_cluster(specs, self.interner)
        self._index = Rows((n, i) for i, n in enumerate(names))
        self.version += 1
        self.changes.reset()
        for uid, held in self._held.items():
            held.applied = self._apply(uid, held.allocation)

    def _apply(self, uid: str, allocation: PodAllocation) -> Allocation | None:
        """Apply to the snapshot; an allocation the snapshot cannot hold is logged, not fatal
        (its node is gone, a device vanished, or the node shrank under it)."""
        assert self._cluster is not None
        applied = to_cluster_allocation(self._cluster, self._index, allocation)
        if applied is None:
            log.warning("pod uid %s holds devices not in the cluster: %s", uid, allocation)
            return None
        try:
            self._cluster.allocate(applied)
        except ValueError as error:
            log.warning("pod uid %s: %s", uid, error)
            return None
        self.changes.add(applied.node)
        return applied


def to_cluster_allocation(
    cluster: Cluster, index: dict[str, int], allocation: PodAllocation
) -> Allocation | None:
    """The snapshot's Allocation for a pod's recorded one, or None if its devices are gone."""
    node = index.get(allocation.node)
    if node is None:
        return None
    slots = {d.id: s for s, d in enumerate(cluster.nodes[node].devices)}
    try:
        devices = tuple(slots[d] for d in allocation.device_ids())
    except KeyError:
        return None
    return Allocation(node, devices, allocation.share, allocation.vram)


def pod_record(pod: dict[str, Any], uid: str) -> PodRecord | None:
    """The cache's view of a pod, or None if it asks for nothing or holds nothing any more."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    if metadata.get("deletionTimestamp") and not spec.get("nodeName"):
        return None
    if status.get("phase") in TERMINAL_PHASES:
        return None
    try:
        request = read_pod_request(pod)
    except HcsApiError as error:
        log.warning("pod %s/%s: %s", metadata.get("namespace"), metadata.get("name"), error)
        return None
    if request.is_empty():
        return None
    annotated = None
    try:
        annotated = read_allocation(metadata.get("annotations") or {})
    except HcsApiError as error:
        log.warning("pod %s/%s: %s", metadata.get("namespace"), metadata.get("name"), error)
    # Reserved but not bound (a bind in flight, or one a crash cut short) holds nothing by itself.
    bound = annotated is not None and spec.get("nodeName") == annotated.node
    return PodRecord(
        uid=uid,
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or ""),
        labels=dict(metadata.get("labels") or {}),
        priority_class=spec.get("priorityClassName"),
        request=request,
        allocation=annotated if bound else None,
        annotated=annotated,
    )
