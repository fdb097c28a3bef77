"""Exchange rates between accelerator models, and how many devices of a model a request needs.

Pure arithmetic over a ProfileDatabase: no I/O. Every ratio is an exact Fraction of the sourced
decimal figures; rounding happens only when a result is shown.

Rates are relative to the reference model (A100-SXM4-80G = 1), per precision and per workload:
- compute: dense throughput in that precision over the reference's;
- memory: memory bandwidth over the reference's (the same for every precision);
- balanced: a workload that spends half its reference time compute-bound and half memory-bound.
  Its time on X is 0.5/compute + 0.5/memory, so its rate is the harmonic mean of the two.
1 ACU is 1 % of the reference in the chosen precision, so a device's ACU is 100 x its rate.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from hcs_api import ComputeRequest
from hcs_exchange.profiles import REFERENCE_MODEL, Precision, Profile, ProfileDatabase


class Workload(enum.StrEnum):
    COMPUTE = "compute"
    MEMORY = "memory"
    BALANCED = "balanced"


@dataclass(frozen=True)
class RateOverride:
    """An operator's rate for one model, precision and workload, replacing the derived one."""

    model: str
    precision: Precision
    workload: Workload
    rate: Fraction
    reason: str = ""


@dataclass(frozen=True)
class Demand:
    """What a request needs: bytes of VRAM and TFLOPS (TOPS for int8) per precision.

    `vram` is what ONE device must hold unless `spread_vram`: a single process cannot use memory
    spread over devices. Throughput may always be met by several devices.
    """

    vram: int = 0
    throughput: Mapping[Precision, Fraction] = field(default_factory=dict)
    spread_vram: bool = False
    """The VRAM is a total that may be split over the devices (the pod asked for N devices, or
    said its work is sharded)."""

    @classmethod
    def from_request(cls, request: ComputeRequest, sharded: bool = False) -> Demand:
        amounts = {
            Precision.FP16: request.tflops_fp16,
            Precision.FP32: request.tflops_fp32,
            Precision.INT8: request.tops_int8,
        }
        return cls(
            vram=request.vram,
            throughput={p: Fraction(a) for p, a in amounts.items() if a},
            spread_vram=sharded or request.devices > 0,
        )

    def is_empty(self) -> bool:
        return not self.vram and not any(self.throughput.values())


@dataclass(frozen=True)
class Fit:
    """How many devices of one model a demand needs."""

    model: str
    vendor: str
    per_resource: Mapping[str, Fraction]
    """Devices needed for each resource alone ("vram", "fp16", ...)."""
    missing: tuple[str, ...] = ()
    """Figures the answer needs that the profile lacks (or that are zero)."""
    too_small: str | None = None
    """Why no number of these devices can serve the demand (its VRAM exceeds one device's and
    may not be spread), in words for the user."""

    @property
    def needed(self) -> Fraction | None:
        """Fractional devices: the most any one resource needs (None when a figure is missing
        or the model is too small)."""
        if self.missing or self.too_small:
            return None
        return max(self.per_resource.values(), default=Fraction(0))

    @property
    def devices(self) -> int | None:
        """Whole devices."""
        needed = self.needed
        return None if needed is None else math.ceil(needed)

    @property
    def limited_by(self) -> str | None:
        """The resource that sets the device count."""
        if self.missing or self.too_small or not self.per_resource:
            return None
        return max(self.per_resource, key=lambda name: self.per_resource[name])

    def can_serve(self, max_devices: int | None = None) -> bool:
        devices = self.devices
        return devices is not None and (max_devices is None or devices <= max_devices)


class Exchange:
    """Rates and conversions over one profile database (plus operator rate overrides)."""

    def __init__(self, database: ProfileDatabase, overrides: Iterable[RateOverride] = ()) -> None:
        self.database = database
        self.reference = database.get(REFERENCE_MODEL)
        self._override_list = tuple(overrides)
        self._overrides = {
            (database.get(o.model).model, o.precision, o.workload): o.rate
            for o in self._override_list
        }

    def over(self, database: ProfileDatabase) -> Exchange:
        """The same operator rate overrides over `database` (this one's, figures filled)."""
        return self if database is self.database else Exchange(database, self._override_list)

    def rate(
        self, model: str, precision: Precision, workload: Workload = Workload.COMPUTE
    ) -> Fraction | None:
        """Speed of one `model` device relative to the reference; None when a figure is unknown."""
        profile = self.database.get(model)
        override = self._overrides.get((profile.model, precision, workload))
        if override is not None:
            return override
        compute = _ratio(profile.tflops(precision), self.reference.tflops(precision))
        memory = _ratio(
            profile.memory_bandwidth_gbps.value, self.reference.memory_bandwidth_gbps.value
        )
        if workload is Workload.COMPUTE:
            return compute
        if workload is Workload.MEMORY:
            return memory
        if compute is None or memory is None:
            return None
        if not compute or not memory:
            return Fraction(0)
        return 2 / (1 / compute + 1 / memory)

    def device_acu(
        self, model: str, precision: Precision, workload: Workload = Workload.COMPUTE
    ) -> Fraction | None:
        """ACU of one device of `model` (100 x its rate)."""
        rate = self.rate(model, precision, workload)
        return None if rate is None else rate * 100

    def demand_acu(self, demand: Demand) -> dict[Precision, Fraction]:
        """The demand's throughput in ACU, per precision it asks for."""
        acu: dict[Precision, Fraction] = {}
        for precision, amount in demand.throughput.items():
            reference = self.reference.tflops(precision)
            if not reference:
                raise ValueError(f"the reference {REFERENCE_MODEL} has no {precision} figure")
            acu[precision] = Fraction(amount) / Fraction(reference) * 100
        return acu

    def fit(self, demand: Demand, model: str, workload: Workload = Workload.COMPUTE) -> Fit:
        """How many `model` devices serve `demand` (VRAM and every throughput at once)."""
        profile = self.database.get(model)
        per_resource: dict[str, Fraction] = {}
        missing: list[str] = []
        too_small = None
        if demand.vram:
            if profile.vram.value is None:
                missing.append("vram unknown")
            else:
                held = profile.vram.value.ceil()
                per_resource["vram"] = Fraction(demand.vram, held)
                if demand.vram > held and not demand.spread_vram:
                    too_small = one_device_vram_reason(demand.vram, profile.model, held)
        for precision, acu in self.demand_acu(demand).items():
            device_acu = self.device_acu(profile.model, precision, workload)
            if not device_acu:
                missing.append(_missing_figure(profile, precision, workload))
                continue
            per_resource[str(precision)] = acu / device_acu
        return Fit(profile.model, profile.vendor, per_resource, tuple(missing), too_small)

    def candidates(
        self,
        demand: Demand,
        workload: Workload = Workload.COMPUTE,
        models: Iterable[str] | None = None,
    ) -> list[Fit]:
        """A fit for every model (or the ones named): fewest devices first, unknowns last."""
        names = [p.model for p in self.database.profiles] if models is None else list(models)
        fits = [self.fit(demand, name, workload) for name in names]
        return sorted(fits, key=_fit_order)

    def equivalence(
        self, model: str, other: str, precision: Precision, workload: Workload = Workload.COMPUTE
    ) -> Fraction | None:
        """How many `other` devices do the work of one `model` device."""
        mine, theirs = self.rate(model, precision, workload), self.rate(other, precision, workload)
        if mine is None or not theirs:
            return None
        return mine / theirs


def one_device_vram_reason(vram: int, model: str, held: int) -> str:
    """The rule that refuses a model whose one device holds less VRAM than asked, in words."""
    return (
        f"{model}: {_gib(vram)} VRAM must fit on one device and it holds {_gib(held)} "
        "(ai.compute/vram is per device; ask ai.compute/devices, or annotate "
        'hcs.io/sharded: "true", to spread it over devices)'
    )


def _gib(value: int) -> str:
    return f"{value / 2**30:.4g}Gi"


def _ratio(value: Decimal | None, reference: Decimal | None) -> Fraction | None:
    if value is None or not reference:
        return None
    return Fraction(value) / Fraction(reference)


def _missing_figure(profile: Profile, precision: Precision, workload: Workload) -> str:
    """Why `profile` has no rate: a figure unknown before a figure zero, bandwidth first."""
    uses_bandwidth = workload is not Workload.COMPUTE
    bandwidth = profile.memory_bandwidth_gbps.value
    if uses_bandwidth and bandwidth is None:
        return "memory bandwidth unknown"
    if profile.tflops(precision) is None:
        return f"{precision} throughput unknown"
    if uses_bandwidth and bandwidth == 0:
        return "memory bandwidth is zero"
    return f"{precision} throughput is zero"


def _fit_order(fit: Fit) -> tuple[int, Fraction, str]:
    needed = fit.needed
    return (0, needed, fit.model) if needed is not None else (1, Fraction(0), fit.model)
