"""ComputeQuota admission: would this pod take its namespace over a quota? Pure, no I/O.

Usage is what the namespace's live pods ask (their effective `ai.compute/*` request), summed
per quota over the pods its scope selects. ACU come from hcs-exchange: a pod's ACU is the
largest of its per-precision ACU (the share of one A100-80G it needs; one device serves every
precision at once). A pod asking only VRAM or whole devices counts 0 ACU here: which model it
gets, and so its ACU, is known only at bind, where the scheduler accounts it.

Two pods admitted at the same moment can both fit alone and exceed together; the scheduler's
own quota accounting at bind is the hard stop, this check is the early, explainable one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hcs_api import ComputeRequest, HcsApiError, Quantity, QuantityFormat, read_pod_request
from hcs_api.v1alpha1 import ComputeQuota
from hcs_exchange import Demand, Exchange
from hcs_webhook.validation import Denied

_DONE = {"Succeeded", "Failed"}


@dataclass(frozen=True)
class Usage:
    vram: int = 0
    acu: Fraction = Fraction(0)
    tflops_fp16: int = 0
    tflops_fp32: int = 0
    tops_int8: int = 0
    devices: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.vram + other.vram,
            self.acu + other.acu,
            self.tflops_fp16 + other.tflops_fp16,
            self.tflops_fp32 + other.tflops_fp32,
            self.tops_int8 + other.tops_int8,
            self.devices + other.devices,
        )


def usage(request: ComputeRequest, exchange: Exchange) -> Usage:
    acu = exchange.demand_acu(Demand.from_request(request)).values()
    return Usage(
        vram=request.vram,
        acu=max(acu, default=Fraction(0)),
        tflops_fp16=request.tflops_fp16,
        tflops_fp32=request.tflops_fp32,
        tops_int8=request.tops_int8,
        devices=request.devices,
    )


def _selects(quota: ComputeQuota, pod: Mapping[str, Any]) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    priority_class = (pod.get("spec") or {}).get("priorityClassName")
    return quota.spec.selects(labels, priority_class)


def _used(quota: ComputeQuota, pods: Iterable[Mapping[str, Any]], exchange: Exchange) -> Usage:
    total = Usage()
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in _DONE or not _selects(quota, pod):
            continue
        try:
            total = total + usage(read_pod_request(pod).effective, exchange)
        except HcsApiError:
            continue  # admitted before HCS or by hand: nothing HCS can count
    return total


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
    asking = usage(request, exchange)
    for quota in quotas:
        if not _selects(quota, pod):
            continue
        used = _used(quota, others, exchange)
        for unit, hard, have, want in _units(quota, used, asking):
            if have + want > hard:
                where = f"{quota.metadata.name} in namespace {quota.metadata.namespace or '?'}"
                raise Denied(
                    f"ComputeQuota {where}: {unit} would reach {_show(unit, have + want)}, "
                    f"over its limit of {_show(unit, hard)} (in use {_show(unit, have)}, this pod "
                    f"asks {_show(unit, want)})"
                )


def _units(
    quota: ComputeQuota, used: Usage, asking: Usage
) -> Iterable[tuple[str, Fraction, Fraction, Fraction]]:
    hard = quota.spec.hard
    pairs: list[tuple[str, Quantity | int | None, str]] = [
        ("vram", hard.vram, "vram"),
        ("acu", hard.acu, "acu"),
        ("tflops-fp16", hard.tflops_fp16, "tflops_fp16"),
        ("tflops-fp32", hard.tflops_fp32, "tflops_fp32"),
        ("tops-int8", hard.tops_int8, "tops_int8"),
        ("devices", hard.devices, "devices"),
    ]
    for unit, limit, attr in pairs:
        if limit is None:
            continue
        value = Fraction(limit.value) if isinstance(limit, Quantity) else Fraction(limit)
        yield unit, value, Fraction(getattr(used, attr)), Fraction(getattr(asking, attr))


def _show(unit: str, value: Fraction) -> str:
    if unit == "vram":
        return str(Quantity.from_value(int(value), QuantityFormat.BINARY_SI))
    if unit == "acu":
        return f"{float(value):.2f} ACU"
    return f"{float(value):g}"
