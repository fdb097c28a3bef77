"""ComputeQuota at filter time: what each quota's pods hold, kept until the cache changes.

A pod counts (hcs_exchange.quota's measure: what it asks for) while it holds devices (bound, or
assumed by a bind in flight) or a quota reservation: a pod that passes filter reserves its share
at once, in the same synchronous step as the check, so of two pods of one namespace filtered
before either binds, the second is filtered out naming the ComputeQuota instead of failing at
bind. The reservation lives as long as a device assumption (`assume_ttl`) and is dropped with
it. Summing every pod of a namespace for every filter call would cost O(pods) per request; the
sums are kept per quota and recomputed only when the cache's generation moves (a pod, an
allocation, a reservation or a quota changed).
"""

from __future__ import annotations

from typing import Any

from hcs_api import PodRequest
from hcs_api.v1alpha1 import ComputeQuota
from hcs_exchange import Exchange, QuotaUsage, quota_excess
from hcs_scheduler.extender.state import ClusterState, PodRecord, pod_record


class QuotaBook:
    def __init__(self, state: ClusterState, exchange: Exchange, ttl: float = 30.0) -> None:
        self.state = state
        self.exchange = exchange
        self.ttl = ttl
        """Seconds a reservation made at filter lasts without a bind (the assumption's TTL)."""
        self._generation = -1
        self._used: dict[tuple[str, str], tuple[QuotaUsage, frozenset[str]]] = {}
        self._of: dict[PodRequest, QuotaUsage] = {}

    def reserve(self, pod: dict[str, Any]) -> None:
        """Count `pod` against the quotas that select it until it binds or `ttl` passes."""
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        record = pod_record(pod, uid) if uid else None
        if record is not None and any(self._selecting(record)):
            self.state.reserve_quota(record, self.ttl)

    def _selecting(self, record: PodRecord) -> list[ComputeQuota]:
        return [
            quota
            for (namespace, _), quota in self.state.quotas.items()
            if namespace == record.namespace
            and quota.spec.selects(record.labels, record.priority_class)
        ]

    def excess(self, pod: dict[str, Any], request: PodRequest) -> list[str]:
        """Why `pod` would take its namespace over a quota (empty: it fits every quota)."""
        metadata = pod.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "default")
        uid = str(metadata.get("uid") or "")
        labels = dict(metadata.get("labels") or {})
        priority = (pod.get("spec") or {}).get("priorityClassName")
        adding = self.usage_of(request)
        problems: list[str] = []
        for key, quota in sorted(self.state.quotas.items()):
            if key[0] != namespace or not quota.spec.selects(labels, priority):
                continue
            used, holders = self._held_under(key, quota)
            if uid in holders:  # asked again while holding: do not count it twice
                used = self._sum(quota, list(self.state.quota_reserved()), exclude=uid)[0]
            problems += quota_excess(quota, used, adding)
        return problems

    def usage_of(self, request: PodRequest) -> QuotaUsage:
        usage = self._of.get(request)
        if usage is None:
            usage = self._of[request] = QuotaUsage.of(request.effective, self.exchange)
        return usage

    def _held_under(
        self, key: tuple[str, str], quota: ComputeQuota
    ) -> tuple[QuotaUsage, frozenset[str]]:
        reserved = list(self.state.quota_reserved())  # drops expired ones: may move generation
        if self._generation != self.state.generation:
            self._used.clear()
            self._generation = self.state.generation
        if key not in self._used:
            self._used[key] = self._sum(quota, reserved)
        return self._used[key]

    def _sum(
        self, quota: ComputeQuota, reserved: list[PodRecord], exclude: str = ""
    ) -> tuple[QuotaUsage, frozenset[str]]:
        namespace = quota.metadata.namespace or ""
        # Each pod once: holding devices (its record from the watch) or reserved at filter.
        counted = {r.uid: r for r in reserved}
        counted.update(
            (r.uid, r) for r in self.state.pods.values() if self.state.holds(r.uid) is not None
        )
        holders = [
            record
            for record in counted.values()
            if record.namespace == namespace
            and record.uid != exclude
            and quota.spec.selects(record.labels, record.priority_class)
        ]
        usage = QuotaUsage.total(self.usage_of(r.request) for r in holders)
        return usage, frozenset(r.uid for r in holders)
