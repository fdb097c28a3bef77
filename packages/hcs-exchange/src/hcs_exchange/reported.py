"""Figures a profile lacks, taken from what hcs-agent reports of the devices themselves.

A bundled profile may have no published VRAM or throughput (Hygon Z100: no citable figure). The
agent measures VRAM on the node and writes it, with any throughput and bandwidth it knows, into
each device of its ComputeNode. Where a profile has no figure and nodes report one, the figure
becomes the smallest value reported for that model (a request placed on the promise of the
largest would fail on the smaller devices), cited to REPORTED_SOURCE. A figure the profile has
is never replaced: a datasheet or a calibration record outranks one node's report.

Pure: ComputeNodes in, a database out.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from hcs_api import Quantity, QuantityFormat
from hcs_api.v1alpha1 import ComputeNode
from hcs_exchange.errors import ExchangeError
from hcs_exchange.profiles import Figure, Precision, Profile, ProfileDatabase, Source, VramFigure

REPORTED_SOURCE = "reported-by-hcs-agent"
_SOURCE = Source(
    title="Device figures reported by hcs-agent in ComputeNode spec.devices",
    publisher="HCS",
)
_PRECISIONS = {
    "fp16": Precision.FP16,
    "bf16": Precision.BF16,
    "fp32": Precision.FP32,
    "int8": Precision.INT8,
}


def lacking(database: ProfileDatabase, models: Iterable[str]) -> set[str]:
    """The profile names among `models` with a figure a node could fill (unknown names left
    out): when empty, `fill_from_reports` has nothing to do and need not walk the nodes."""
    out = set()
    for name in models:
        try:
            profile = database.get(name)
        except ExchangeError:
            continue
        missing_throughput = any(profile.tflops(p) is None for p in _PRECISIONS.values())
        if (
            profile.vram.value is None
            or missing_throughput
            or (profile.memory_bandwidth_gbps.value is None)
        ):
            out.add(profile.model)
    return out


def fill_from_reports(database: ProfileDatabase, nodes: Iterable[ComputeNode]) -> ProfileDatabase:
    """`database` with every figure its profiles lack filled from the nodes' reports (the
    same database when there is nothing to fill)."""
    reported = _smallest_reports(database, nodes)
    filled = [_filled(profile, reported.get(profile.model, {})) for profile in database.profiles]
    if all(new is old for new, old in zip(filled, database.profiles, strict=True)):
        return database
    return ProfileDatabase(sources={**database.sources, REPORTED_SOURCE: _SOURCE}, profiles=filled)


def _smallest_reports(
    database: ProfileDatabase, nodes: Iterable[ComputeNode]
) -> dict[str, dict[str, Decimal]]:
    """model -> figure name -> the smallest value any device of that model reports."""
    out: dict[str, dict[str, Decimal]] = {}
    names: dict[str, str | None] = {}  # a device's model name -> its profile's (memoised)
    for node in nodes:
        for device in node.spec.devices:
            if device.model not in names:
                found = lacking(database, [device.model])
                names[device.model] = next(iter(found)) if found else None
            model = names[device.model]
            if model is None:
                continue  # no profile, or one with every figure: nothing to fill
            figures = {"vram": device.vram.value}
            if device.memory_bandwidth is not None:
                figures["bandwidth"] = device.memory_bandwidth.value
            for name in _PRECISIONS:
                value = getattr(device.compute, name)
                if value is not None:
                    figures[name] = value.value
            mine = out.setdefault(model, {})
            for name, value in figures.items():
                mine[name] = min(value, mine.get(name, value))
    return out


def _filled(profile: Profile, reported: dict[str, Decimal]) -> Profile:
    update: dict[str, object] = {}
    note = "smallest value hcs-agent reports for this model (no published figure)"
    if profile.vram.value is None and "vram" in reported:
        value = Quantity.from_value(reported["vram"], QuantityFormat.BINARY_SI)
        update["vram"] = VramFigure(value=value, source=REPORTED_SOURCE, note=note)
    if profile.memory_bandwidth_gbps.value is None and "bandwidth" in reported:
        gbps = reported["bandwidth"] / 10**9
        update["memory_bandwidth_gbps"] = Figure(value=gbps, source=REPORTED_SOURCE, note=note)
    throughput = dict(profile.throughput)
    for name, precision in _PRECISIONS.items():
        if profile.tflops(precision) is None and name in reported:
            throughput[precision] = Figure(value=reported[name], source=REPORTED_SOURCE, note=note)
    if throughput != profile.throughput:
        update["throughput"] = throughput
    return profile.model_copy(update=update) if update else profile
