"""A placement request, resolved per device model of the cluster.

A user asks for VRAM and throughput, not for a model. For each model the cluster has, the
request becomes a *plan*: a share of one device (thousandths of its compute, plus VRAM), or N
whole devices, or "this model cannot serve it". Placement then only compares plans with free
capacity, whatever the vendor.

VRAM is what one device must hold (a process cannot use memory spread over devices): a model
whose device holds less cannot serve the pod, and when throughput takes several devices each
holds the whole VRAM. It is spread (split evenly) only when the pod asks for N devices or
declares its work sharded (`hcs.io/sharded`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import numpy as np

from hcs_api import PodRequest, Preferences, TopologyPreference
from hcs_exchange import Demand, Exchange, ExchangeError, Workload
from hcs_scheduler.cluster import FULL_SHARE


@dataclass(frozen=True, eq=False)
class PlacementRequest:
    """Per model index (arrays the length of the cluster's model list): how to serve this."""

    name: str
    cpu_milli: int
    memory_mib: int
    whole: np.ndarray
    """Whole devices needed (0: a share of one device)."""
    share: np.ndarray
    """Thousandths of one device's compute, when `whole` is 0."""
    vram: np.ndarray
    """Bytes per device."""
    allowed: np.ndarray
    """Whether the model may serve it (preferences, constraints, known figures)."""
    downgraded: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """Models allowed only because the user consented to less throughput than asked."""
    topology: TopologyPreference = TopologyPreference.PREFERRED
    reasons: tuple[str, ...] = ()
    """Why models were ruled out, for messages a human can act on."""
    asks_device: bool = False
    """The pod asked for accelerators: it needs a device even where no model can serve it."""

    @cached_property
    def needs_device(self) -> bool:
        return self.asks_device or bool(
            (self.whole > 0).any() or (self.share > 0).any() or (self.vram > 0).any()
        )

    @cached_property
    def key(self) -> tuple[object, ...]:
        """Identity for memoising decisions: two requests with the same key place alike."""
        return (
            self.cpu_milli,
            self.memory_mib,
            self.whole.tobytes(),
            self.share.tobytes(),
            self.vram.tobytes(),
            self.allowed.tobytes(),
        )

    @cached_property
    def plan_lists(self) -> tuple[list[bool], list[int], list[int], list[int]]:
        """(allowed, whole, share, vram) per model as Python lists: fast scalar access in the
        pure-Python loops of the fragmentation index."""
        return (
            self.allowed.tolist(),
            self.whole.tolist(),
            self.share.tolist(),
            self.vram.tolist(),
        )

    def devices_for(self, model: int) -> float:
        """How many devices (fractional for a share) it takes on `model`: the GPU demand."""
        whole = int(self.whole[model])
        return float(whole) if whole else float(self.share[model]) / FULL_SHARE


def uniform_request(
    name: str,
    models: int,
    *,
    cpu_milli: int = 0,
    memory_mib: int = 0,
    whole: int = 0,
    share: int = 0,
    vram: int = 0,
    allowed: Collection[int] | None = None,
) -> PlacementRequest:
    """The same plan on every model (a trace task: 'one GPU, 470 thousandths, models P100|T4')."""
    mask = np.ones(models, dtype=bool)
    if allowed is not None:
        mask[:] = False
        mask[list(allowed)] = True
    return PlacementRequest(
        name=name,
        cpu_milli=cpu_milli,
        memory_mib=memory_mib,
        whole=np.full(models, whole, dtype=np.int32),
        share=np.full(models, share if not whole else FULL_SHARE, dtype=np.int32),
        vram=np.full(models, vram, dtype=np.int64),
        allowed=mask,
        downgraded=np.zeros(models, dtype=bool),
    )


@dataclass(frozen=True)
class _Plan:
    whole: int
    share: int
    vram: int
    downgraded: bool = False


def request_from_pod(
    name: str,
    pod: PodRequest,
    models: Sequence[str],
    vendors: Sequence[str],
    exchange: Exchange,
    max_devices: int,
    workload: Workload = Workload.COMPUTE,
) -> PlacementRequest:
    """Resolve a pod's effective `ai.compute/*` request against each model of the cluster."""
    demand = Demand.from_request(pod.effective, sharded=pod.preferences.sharded)
    count = len(models)
    whole = np.zeros(count, dtype=np.int32)
    share = np.zeros(count, dtype=np.int32)
    vram = np.zeros(count, dtype=np.int64)
    allowed = np.zeros(count, dtype=bool)
    downgraded = np.zeros(count, dtype=bool)
    reasons: list[str] = []
    for index, (model, vendor) in enumerate(zip(models, vendors, strict=True)):
        why = _excluded(model, vendor, pod.preferences)
        plan = None
        if why is None:
            plan, why = _plan(
                demand, pod.effective.devices, model, exchange, workload, pod.preferences
            )
        if plan is not None and max(plan.whole, 1) > max_devices:
            why = f"{model}: needs {plan.whole} devices, more than one node has"
            plan = None
        if plan is None:
            reasons.append(why or f"{model}: cannot serve the request")
            continue
        whole[index], share[index], vram[index] = plan.whole, plan.share, plan.vram
        allowed[index], downgraded[index] = True, plan.downgraded
    return PlacementRequest(
        name=name,
        cpu_milli=0,
        memory_mib=0,
        whole=whole,
        share=share,
        vram=vram,
        allowed=allowed,
        downgraded=downgraded,
        topology=pod.preferences.topology,
        reasons=tuple(reasons),
        asks_device=not pod.is_empty(),
    )


def _excluded(model: str, vendor: str, preferences: Preferences) -> str | None:
    if vendor not in {str(v) for v in preferences.exclude_vendors} and (
        not preferences.vendors or vendor in {str(v) for v in preferences.vendors}
    ):
        if preferences.allows_model(model):
            return None
        return f"{model}: excluded by the pod's model preferences"
    return f"{model}: vendor {vendor} excluded by the pod's preferences"


def _plan(
    demand: Demand,
    devices: int,
    model: str,
    exchange: Exchange,
    workload: Workload,
    preferences: Preferences,
) -> tuple[_Plan | None, str | None]:
    try:
        fit = exchange.fit(demand, model, workload)
        profile = exchange.database.get(model)
    except ExchangeError as error:
        return None, f"{model}: {error}"
    if fit.too_small:
        return None, fit.too_small
    compute = [need for name, need in fit.per_resource.items() if name != "vram"]
    compute_need = max(compute, default=Fraction(0))
    if fit.missing and not preferences.allow_downgrade:
        return None, f"{model}: {'; '.join(fit.missing)}"
    if "vram unknown" in fit.missing:
        return None, f"{model}: vram unknown"
    downgraded = bool(fit.missing)
    if devices:
        if compute_need > devices and not preferences.allow_downgrade:
            return None, f"{model}: {devices} devices give less throughput than asked"
        per_device = math.ceil(demand.vram / devices)
        if profile.vram.value is not None and per_device > profile.vram.value.ceil():
            return None, f"{model}: {per_device} bytes per device is more than it has"
        return _Plan(devices, FULL_SHARE, per_device, downgraded or compute_need > devices), None
    needed = fit.per_resource.get("vram", Fraction(0))
    if not downgraded:
        needed = max(needed, compute_need)
    if needed <= 1:
        return _Plan(
            0, min(FULL_SHARE, math.ceil(compute_need * FULL_SHARE)), demand.vram, downgraded
        ), None
    count = math.ceil(needed)
    # Several devices for throughput: each holds the whole VRAM unless the work is sharded.
    per_device = math.ceil(demand.vram / count) if demand.spread_vram else demand.vram
    return _Plan(count, FULL_SHARE, per_device, downgraded), None
