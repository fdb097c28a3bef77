"""ComputeQuota at filter time: what each quota's pods hold, kept until the cache changes.

A pod counts (hcs_exchange.quota's measure: what it asks for) while it holds devices: bound, or
assumed by a bind in flight. Summing every pod of a namespace for every filter call would cost
O(pods) per request; the sums are kept per quota and recomputed only when the cache's
generation moves (a pod, an allocation or a quota changed).
"""

from __future__ import annotations

from typing import Any

from hcs_api import PodRequest
from hcs_api.v1alpha1 import ComputeQuota
from hcs_exchange import Exchange, QuotaUsage, quota_excess
from hcs_scheduler.extender.state import ClusterState


class QuotaBook:
    def __init__(self, state: ClusterState, exchange: Exchange) -> None:
        self.state = state
        self.exchange = exchange
        self._generation = -1
        self._used: dict[tuple[str, str], tuple[QuotaUsage, frozenset[str]]] = {}
        self._of: dict[PodRequest, QuotaUsage] = {}

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
                used = self._sum(quota, exclude=uid)[0]
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
        if self._generation != self.state.generation:
            self._used.clear()
            self._generation = self.state.generation
        if key not in self._used:
            self._used[key] = self._sum(quota)
        return self._used[key]

    def _sum(self, quota: ComputeQuota, exclude: str = "") -> tuple[QuotaUsage, frozenset[str]]:
        namespace = quota.metadata.namespace or ""
        holders = [
            record
            for record in self.state.pods.values()
            if record.namespace == namespace
            and record.uid != exclude
            and self.state.holds(record.uid) is not None
            and quota.spec.selects(record.labels, record.priority_class)
        ]
        usage = QuotaUsage.total(self.usage_of(r.request) for r in holders)
        return usage, frozenset(r.uid for r in holders)
