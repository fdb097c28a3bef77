"""ComputeQuota admission: would this pod take its namespace over a quota? Pure, no I/O.

Usage is what the namespace's live pods ask (their effective `ai.compute/*` request), summed
per quota over the pods its scope selects, measured by hcs-exchange's `QuotaUsage` — the same
measure the extender enforces at filter time, so admission and scheduling never disagree about
a pod. A pod is refused only for units it adds to (a namespace already over an ACU quota can
still admit a VRAM-only pod that fits its VRAM quota).

Two pods admitted at the same moment can both fit alone and exceed together; the scheduler's
own quota accounting at bind is the hard stop, this check is the early, explainable one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hcs_api import ComputeRequest, HcsApiError, read_pod_request
from hcs_api.v1alpha1 import ComputeQuota
from hcs_exchange import Exchange, QuotaUsage, quota_excess
from hcs_webhook.validation import Denied

_DONE = {"Succeeded", "Failed"}


def _selects(quota: ComputeQuota, pod: Mapping[str, Any]) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    priority_class = (pod.get("spec") or {}).get("priorityClassName")
    return quota.spec.selects(labels, priority_class)


def _used(quota: ComputeQuota, pods: Iterable[Mapping[str, Any]], exchange: Exchange) -> QuotaUsage:
    usages = []
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in _DONE or not _selects(quota, pod):
            continue
        try:
            usages.append(QuotaUsage.of(read_pod_request(pod).effective, exchange))
        except HcsApiError:
            continue  # admitted before HCS or by hand: nothing HCS can count
    return QuotaUsage.total(usages)


def check_quota(
    pod: Mapping[str, Any],
    request: ComputeRequest,
    quotas: Iterable[ComputeQuota],
    pods: Iterable[Mapping[str, Any]],
    exchange: Exchange,
) -> None:
    """Denied naming the quota and the figures when `pod` would exceed one."""
    name = (pod.get("metadata") or {}).get("name")
    others = [p for p in pods if not name or (p.get("metadata") or {}).get("name") != name]
    asking = QuotaUsage.of(request, exchange)
    for quota in quotas:
        if not _selects(quota, pod):
            continue
        problems = quota_excess(quota, _used(quota, others, exchange), asking)
        if problems:
            raise Denied("; ".join(problems))
