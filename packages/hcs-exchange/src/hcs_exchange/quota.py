"""ComputeQuota accounting: what a pod counts against its namespace's quota, and what is over.

One measure for every component that enforces quota (the webhook at admission, the extender at
filter time), so they never disagree about whether a pod fits. A pod counts what it *asks for*
(its effective request), not what a placement happened to give it: the same pod weighs the same
on any vendor, which is the point of vendor-neutral quota.

ACU: the request's throughput in ACU, in the precision it asks for; a request naming several
precisions counts the largest (it is one workload, not several). A request for whole devices
without throughput counts devices and VRAM, not ACU: its compute depends on the model it lands
on, which quota at admission cannot know.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import Decimal
from fractions import Fraction

from hcs_api import ComputeRequest, Quantity, QuantityFormat
from hcs_api.v1alpha1 import ComputeQuota, QuotaLimits
from hcs_exchange.exchange import Demand, Exchange


@dataclass(frozen=True)
class QuotaUsage:
    """Amounts in ComputeQuota's units."""

    vram: Fraction = Fraction(0)
    acu: Fraction = Fraction(0)
    tflops_fp16: Fraction = Fraction(0)
    tflops_fp32: Fraction = Fraction(0)
    tops_int8: Fraction = Fraction(0)
    devices: Fraction = Fraction(0)

    def __add__(self, other: QuotaUsage) -> QuotaUsage:
        return QuotaUsage(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @classmethod
    def of(cls, request: ComputeRequest, exchange: Exchange) -> QuotaUsage:
        """What a pod with this effective request counts."""
        acu = exchange.demand_acu(Demand.from_request(request))
        return cls(
            vram=Fraction(request.vram),
            acu=max(acu.values(), default=Fraction(0)),
            tflops_fp16=Fraction(request.tflops_fp16),
            tflops_fp32=Fraction(request.tflops_fp32),
            tops_int8=Fraction(request.tops_int8),
            devices=Fraction(request.devices),
        )

    @classmethod
    def total(cls, usages: Iterable[QuotaUsage]) -> QuotaUsage:
        out = cls()
        for usage in usages:
            out = out + usage
        return out

    def to_limits(self) -> QuotaLimits:
        """As a ComputeQuota status's `used` (rounded up where a unit is fractional)."""
        return QuotaLimits(
            vram=Quantity(Decimal(_ceil(self.vram))),
            acu=_quantity(self.acu),
            tflops_fp16=_quantity(self.tflops_fp16),
            tflops_fp32=_quantity(self.tflops_fp32),
            tops_int8=_quantity(self.tops_int8),
            devices=_ceil(self.devices),
        )


def quota_excess(quota: ComputeQuota, used: QuotaUsage, adding: QuotaUsage) -> list[str]:
    """One message per unit in which `used + adding` goes over the quota's hard limit."""
    name = f"ComputeQuota {quota.metadata.namespace}/{quota.metadata.name}"
    after = used + adding
    problems = []
    for field in fields(QuotaUsage):
        limit = getattr(quota.spec.hard, field.name)
        if limit is None:
            continue
        hard = Fraction(limit.value) if isinstance(limit, Quantity) else Fraction(limit)
        wanted = getattr(after, field.name)
        if getattr(adding, field.name) > 0 and wanted > hard:
            problems.append(
                f"{name}: {_unit(field.name)} would be {_show(field.name, wanted)} "
                f"(in use {_show(field.name, getattr(used, field.name))} + this pod "
                f"{_show(field.name, getattr(adding, field.name))}), over the limit of "
                f"{_show(field.name, hard)}"
            )
    return problems


_UNITS = {
    "vram": "VRAM",
    "acu": "ACU",
    "tflops_fp16": "FP16 TFLOPS",
    "tflops_fp32": "FP32 TFLOPS",
    "tops_int8": "INT8 TOPS",
    "devices": "devices",
}


def _unit(name: str) -> str:
    return _UNITS[name]


def _show(name: str, value: Fraction) -> str:
    if name == "vram":  # exact, as Kubernetes prints bytes: 1Gi, 1536Mi, 1049600Ki, 1000
        return str(Quantity.from_value(_ceil(value), QuantityFormat.BINARY_SI))
    return f"{float(value):g}"


def _ceil(value: Fraction) -> int:
    return -(-value.numerator // value.denominator)


def _quantity(value: Fraction) -> Quantity:
    # Quantities carry up to nine decimals (nano); round up so that `used` never under-reports.
    return Quantity(Decimal(_ceil(value * 1_000_000_000)) / 1_000_000_000)
