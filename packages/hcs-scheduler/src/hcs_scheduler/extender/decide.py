"""The extender's answers, computed over the cache: pure functions of state and pod.

filter: which of kube-scheduler's candidate nodes can take the pod, and why not the others;
prioritize: 0-10 per fitting node from HCS's policy; choose: the devices on the node
kube-scheduler bound to; plan: the vendor an early-bound pod would get now (the webhook's
question). Quota is checked first: a namespace over its ComputeQuota fits nowhere.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from hcs_api import (
    ContainerAllocation,
    HcsApiError,
    PlanCandidate,
    PlanResult,
    PodAllocation,
    PodRequest,
    read_pod_request,
)
from hcs_api.names import Vendor
from hcs_exchange import Exchange, fill_from_reports, lacking
from hcs_scheduler.catalog import NAMES as POLICY_NAMES
from hcs_scheduler.catalog import PolicyFactory
from hcs_scheduler.cluster import Cluster
from hcs_scheduler.containers import split
from hcs_scheduler.errors import ConfigError
from hcs_scheduler.extender.caches import NameRows, Recent
from hcs_scheduler.extender.quota import QuotaBook
from hcs_scheduler.extender.state import ClusterState
from hcs_scheduler.extender.wire import (
    MAX_EXTENDER_PRIORITY,
    ExtenderFilterResult,
    HostPriorityEncoder,
    encode_host_priorities,
)
from hcs_scheduler.fit import DeviceFit, device_fit, explain, refit
from hcs_scheduler.fragmentation import WorkloadMix
from hcs_scheduler.placement import Placement, place, score_nodes
from hcs_scheduler.policies import Policy, normalise
from hcs_scheduler.request import PlacementRequest, request_from_pod

NO_COMPUTENODE = "no ComputeNode for this node: hcs-agent does not report it"
MIX_WINDOW = 512
"""Recent requests that make up the expected mix the fragmentation-aware policy plans for."""
MIX_REFRESH = 64
"""Rebuild the policy after this many new requests (the mix drifts slowly)."""
RESOLVED_CACHE = 256
"""Pod requests whose per-model resolution is kept (oldest dropped first)."""
FIT_CACHE = 16
"""Request shapes whose device fit is kept, and brought up to date row by row as allocations
change (a fit of the whole cluster is most of a filter's time)."""


class Unschedulable(HcsApiError):
    """The pod cannot be placed as asked; the message says why, for the user."""


class NoModelServes(Unschedulable):
    """No device model of the cluster can serve the pod at all: every node fails, each for the
    reason of its own models (`asked` lets filter say which)."""

    def __init__(self, message: str, asked: Asked) -> None:
        super().__init__(message)
        self.asked = asked


@dataclass(frozen=True)
class Asked:
    """A pod's request, read and resolved against the current snapshot."""

    pod: PodRequest
    placement: PlacementRequest
    cluster: Cluster


@dataclass(frozen=True)
class Priorities:
    """Prioritize's answer: `names[i]` (snapshot row `rows[i]`, -1 if unknown) scores
    `scores[i]` (0-10). Arrays, not pairs: thousands of hosts per answer."""

    names: list[str]
    rows: np.ndarray
    scores: np.ndarray
    version: int
    """The snapshot the rows belong to."""

    def pairs(self) -> list[tuple[str, int]]:
        return list(zip(self.names, self.scores.tolist(), strict=True))


class Decider:
    """Answers over one ClusterState with one policy (rebuilt as the workload mix drifts)."""

    def __init__(
        self,
        state: ClusterState,
        exchange: Exchange,
        policy: str = "default",
        seed: int = 0,
        quota_ttl: float = 30.0,
    ) -> None:
        self.state = state
        self.exchange = exchange
        self.policy_name = policy
        self.rng = np.random.default_rng(seed)
        self._recent: deque[PodRequest] = deque(maxlen=MIX_WINDOW)
        self._since_refresh = 0
        self._policy: tuple[int, Policy] | None = None
        self._resolved: Recent[tuple[PodRequest, int], PlacementRequest] = Recent(RESOLVED_CACHE)
        self._fits: Recent[tuple[PodRequest, int], tuple[int, DeviceFit]] = Recent(FIT_CACHE)
        self._explained: Recent[tuple[PodRequest, int], dict[int, str]] = Recent(FIT_CACHE)
        self._encoder: tuple[int, HostPriorityEncoder] | None = None
        self._names = NameRows(state)
        self.quotas = QuotaBook(state, exchange, quota_ttl)
        self._filled: tuple[int, Exchange] | None = None
        _check_policy_name(policy)

    # -- the verbs
    def filter(self, pod: dict[str, Any], names: list[str]) -> ExtenderFilterResult:
        names = list(dict.fromkeys(names))  # a name sent twice is answered once
        try:
            asked = self.ask(pod)
        except NoModelServes as error:
            rows = self._rows(names)
            every = np.ones(len(names), dtype=bool)
            failed, unknown = self._explain_failures(error.asked, names, rows, every)
            return ExtenderFilterResult.of([], unresolvable={**failed, **unknown})
        except Unschedulable as error:
            return ExtenderFilterResult.of([], unresolvable=dict.fromkeys(names, str(error)))
        if asked is None:
            return ExtenderFilterResult.of(names)
        self._remember(asked.pod)
        rows = self._rows(names)
        # One extra row stands for names without a ComputeNode (row -1): never fits.
        fits = np.append(self._fit(asked).nodes, False)[rows]
        passed = list(itertools.compress(names, fits.tolist()))
        self._names.remember(passed, rows[fits])  # prioritize is sent this list
        if passed:  # its bind is on the way: its quota share is taken now, not at bind
            self.quotas.reserve(pod)
        if fits.all():
            return ExtenderFilterResult.of(passed)
        failed, unresolvable = self._explain_failures(asked, names, rows, ~fits)
        return ExtenderFilterResult.of(passed, failed, unresolvable)

    def _explain_failures(
        self, asked: Asked, names: list[str], rows: np.ndarray, failing: np.ndarray
    ) -> tuple[dict[str, str], dict[str, str]]:
        """(reason per failing node with a ComputeNode, reason per name without one)."""
        cluster, request = asked.cluster, asked.placement
        failed_names = list(itertools.compress(names, failing.tolist()))
        failed_rows = rows[failing]
        known = failed_rows >= 0
        unresolvable = dict.fromkeys(
            itertools.compress(failed_names, (~known).tolist()), NO_COMPUTENODE
        )
        # A node's state decides why it fails: one explanation per state, kept per shape.
        states = cluster.state_ids[failed_rows[known]]
        reasons = self._reasons(asked)
        unique, first = np.unique(states, return_index=True)
        for state, row in zip(unique.tolist(), failed_rows[known][first].tolist(), strict=True):
            if state not in reasons:
                reasons[state] = explain(cluster, request, row)
        explained = map(reasons.__getitem__, states.tolist())
        failed = dict(zip(itertools.compress(failed_names, known.tolist()), explained, strict=True))
        return failed, unresolvable

    def prioritize(self, pod: dict[str, Any], names: list[str]) -> Priorities:
        """A 0-10 score per name (0 for a name that cannot take the pod), each name once."""
        names = list(dict.fromkeys(names))
        rows = self._rows(names)
        try:
            asked = self.ask(pod)
        except Unschedulable:
            asked = None
        if asked is None:
            return Priorities(names, rows, np.zeros(len(names), np.int64), self.state.version)
        cluster = asked.cluster
        among = np.zeros(cluster.size, dtype=bool)
        among[rows[rows >= 0]] = True
        decision, scored = score_nodes(
            cluster, asked.placement, self.policy(asked), self.rng, among, self._fit(asked)
        )
        per_node = np.zeros(cluster.size + 1, dtype=np.int64)  # the extra row: unknown nodes
        scaled = normalise(scored.scores) * (MAX_EXTENDER_PRIORITY / 100)
        per_node[decision.candidates] = np.clip(np.rint(scaled), 0, MAX_EXTENDER_PRIORITY)
        return Priorities(names, rows, per_node[rows], self.state.version)

    def encode(self, priorities: Priorities) -> bytes:
        """Prioritize's answer as a HostPriorityList (JSON)."""
        version = self.state.version
        if self._encoder is None or self._encoder[0] != version:
            hosts = [node.name for node in self.state.cluster().nodes]
            self._encoder = (version, HostPriorityEncoder(hosts))
        if priorities.version != version:  # rows of an older snapshot: encode by name
            return encode_host_priorities(priorities.pairs())
        return self._encoder[1].encode(priorities.names, priorities.rows, priorities.scores)

    def choose(self, pod: dict[str, Any], node: str) -> PodAllocation:
        """The allocation for `pod` on `node`; raises Unschedulable saying why there is none."""
        asked = self.ask(pod)
        if asked is None:
            raise Unschedulable("the pod asks for no ai.compute resource; HCS does not bind it")
        if node not in self.state.index():
            raise Unschedulable(f"node {node}: {NO_COMPUTENODE}")
        among = np.zeros(asked.cluster.size, dtype=bool)
        among[self.state.index()[node]] = True
        policy, fit = self.policy(asked), self._fit(asked)
        outcome = place(asked.cluster, asked.placement, policy, self.rng, among, fit)
        if not isinstance(outcome, Placement):
            raise Unschedulable("; ".join(outcome.reasons))
        return to_pod_allocation(outcome, asked.pod)

    def plan(self, pod: dict[str, Any]) -> PlanResult:
        try:
            asked = self.ask(pod)
        except Unschedulable as error:
            return PlanResult(error=str(error))
        if asked is None:
            return PlanResult(error="the pod asks for no ai.compute resource")
        cluster, request = asked.cluster, asked.placement
        fit = self._fit(asked)
        outcome = place(cluster, request, self.policy(asked), self.rng, fit=fit)
        if not isinstance(outcome, Placement):
            return PlanResult(error="no node can take the pod now: " + "; ".join(outcome.reasons))
        candidates = _candidates(cluster, fit, first=outcome.model)
        return PlanResult(
            vendor=Vendor(outcome.vendor),
            model=outcome.model,
            node=outcome.node,
            candidates=candidates,
        )

    # -- shared steps
    def ask(self, pod: dict[str, Any]) -> Asked | None:
        """The pod's request resolved per model; None if it asks for nothing.

        Raises Unschedulable for a malformed request, a namespace over quota, or a request no
        model in the cluster can serve.
        """
        try:
            request = read_pod_request(pod)
        except HcsApiError as error:
            raise Unschedulable(f"the pod's request is invalid: {error}") from error
        if request.is_empty():
            return None
        self._check_quota(pod, request)
        cluster = self.state.cluster()
        name = str((pod.get("metadata") or {}).get("name") or "pod")
        resolved = self._resolve(name, request, cluster)
        if not resolved.allowed.any():
            raise NoModelServes(
                "; ".join(resolved.reasons) or "no device model in the cluster can serve it",
                Asked(request, resolved, cluster),
            )
        return Asked(request, resolved, cluster)

    def policy(self, asked: Asked) -> Policy:
        """The policy, planning for the recent mix of requests (this one's if none yet)."""
        cluster = asked.cluster
        if (
            self._policy is None
            or self._policy[0] != self.state.version
            or self._since_refresh >= MIX_REFRESH
        ):
            requests = [self._resolve("mix", r, cluster) for r in self._recent]
            factory = PolicyFactory(
                WorkloadMix.from_requests(requests or [asked.placement]), cluster
            )
            self._policy = (self.state.version, factory.make(self.policy_name))
            self._since_refresh = 0
        return self._policy[1]

    def _resolve(self, name: str, request: PodRequest, cluster: Cluster) -> PlacementRequest:
        """Per model plans of `request`, once per request shape and snapshot: filter and
        prioritize of a cycle, and the policy's mix, ask for the same ones again and again."""
        key = (request, self.state.version)
        resolved = self._resolved.get(key)
        if resolved is None:
            exchange = self._exchange_for(cluster)
            resolved = request_from_pod(
                name, request, cluster.models, cluster.vendors, exchange, max(cluster.slots, 1)
            )
            self._resolved.put(key, resolved)
        return resolved

    def _exchange_for(self, cluster: Cluster) -> Exchange:
        """The exchange with the figures its profiles lack filled from the ComputeNodes
        (hcs-agent's measured VRAM of a model without a published one), once per snapshot."""
        version = self.state.version
        if self._filled is None or self._filled[0] != version:
            exchange = self.exchange
            if lacking(exchange.database, cluster.models):
                nodes = self.state.nodes.values()
                exchange = exchange.over(fill_from_reports(exchange.database, nodes))
            self._filled = (version, exchange)
        return self._filled[1]

    def _fit(self, asked: Asked) -> DeviceFit:
        """The request's device fit over the current allocations: the one kept for its shape
        with the rows changed since refitted, or a fit of the whole cluster."""
        key = (asked.pod, self.state.version)
        mark = self.state.changes.mark()
        kept = self._fits.get(key)
        rows = self.state.changes.since(kept[0]) if kept is not None else None
        if kept is not None and rows is not None and len(rows) <= asked.cluster.size // 8:
            fit = refit(asked.cluster, asked.placement, kept[1], rows)
        else:
            fit = device_fit(asked.cluster, asked.placement)
        self._fits.put(key, (mark, fit))
        return fit

    def _reasons(self, asked: Asked) -> dict[int, str]:
        """Why a node in each state cannot take the request (state id -> reason). A state
        (free host resources and devices, interned) decides the reason, so it holds for every
        node in that state and for as long as the snapshot's specs stay (its version)."""
        key = (asked.pod, self.state.version)
        reasons = self._explained.get(key)
        return reasons if reasons is not None else self._explained.put(key, {})

    def _remember(self, request: PodRequest) -> None:
        self._recent.append(request)
        self._since_refresh += 1

    def _rows(self, names: list[str]) -> np.ndarray:
        """Each name's row in the snapshot; -1 (and, as an index, the extra row) if unknown."""
        return self._names.rows(names)

    def _check_quota(self, pod: dict[str, Any], request: PodRequest) -> None:
        problems = self.quotas.excess(pod, request)
        if problems:
            raise Unschedulable("; ".join(problems))


def to_pod_allocation(placement: Placement, pod: PodRequest) -> PodAllocation:
    """The placement as the annotations record it, per container."""
    containers = [
        ContainerAllocation(
            container=c.container, devices=list(c.device_ids), vram=c.vram, share=c.share
        )
        for c in split(placement, pod)
    ]
    return PodAllocation(
        node=placement.node,
        vendor=Vendor(placement.vendor),
        model=placement.model,
        vram=placement.allocation.vram,
        share=placement.allocation.share,
        containers=containers,
    )


def _candidates(cluster: Cluster, fit: DeviceFit, first: str) -> list[PlanCandidate]:
    usable = fit.share_ok | fit.whole_ok
    out = []
    for model, name in enumerate(cluster.models):
        nodes = int((usable & (cluster.dev_model == model)).any(axis=1)[fit.nodes].sum())
        if nodes:
            out.append(
                PlanCandidate(vendor=Vendor(cluster.vendors[model]), model=name, nodes=nodes)
            )
    return sorted(out, key=lambda c: (c.model != first, -c.nodes, c.model))


def _check_policy_name(spec: str) -> None:
    for part in spec.split(","):
        name = part.partition(":")[0].strip()
        if name not in POLICY_NAMES:
            raise ConfigError(f"unknown policy {name!r}; known: {', '.join(POLICY_NAMES)}")
