"""The agent's periodic vendor reading (NVML, npu-smi, hy-smi, cnmon) as health events.

The vendor tools report lifetime counters and a status, not events; the analyzer wants events.
Two readings of one device in a row give the deltas. A counter that went DOWN means the driver
reloaded (counters restart from zero): the new reading is the new baseline and says nothing on
its own, so no event comes from it. The first reading (no previous one) is a baseline too: the
agent's snapshot score already weighs "since the driver loaded" totals.
"""

from __future__ import annotations

from dataclasses import dataclass

from hcs_health.errors import HealthError
from hcs_health.events import EventKind, HealthEvent, Severity, Source
from hcs_health.xid import classify_xid

_STATUS = {
    "critical": Severity.FATAL,
    "alarm": Severity.ERROR,
    "warning": Severity.WARNING,
}
"""npu-smi's "info -t health" values (OK, Warning, Alarm, Critical); OK and unknown words add
nothing, since the snapshot score already reports the raw status."""


@dataclass(frozen=True)
class VendorSample:
    """One reading of one device by the vendor tool; None = the tool does not report it."""

    device: str
    """The ComputeNode device id (`nvidia-0`)."""
    vendor: str
    """nvidia, ascend, hygon or cambricon."""
    at: float
    """When it was read, on the analyzer's clock."""
    ecc_correctable: int | None = None
    """Correctable (single-bit) ECC errors since the driver loaded."""
    ecc_uncorrectable: int | None = None
    """Uncorrectable (double-bit) ECC errors since the driver loaded."""
    retired_pages: int | None = None
    """Retired pages or remapped rows over the device's life."""
    throttle_reasons: tuple[str, ...] = ()
    """Active throttle reasons that signal trouble (hw_slowdown, hw_thermal, sw_thermal...)."""
    xids: tuple[int, ...] = ()
    """NVIDIA Xid codes seen since the last reading."""
    vendor_status: str | None = None
    """The tool's own verdict (npu-smi's Health: OK, Warning, Alarm, Critical)."""


_COUNTERS: tuple[tuple[str, EventKind, Severity], ...] = (
    ("ecc_correctable", EventKind.ECC_CORRECTABLE, Severity.WARNING),
    ("ecc_uncorrectable", EventKind.ECC_UNCORRECTABLE, Severity.ERROR),
    ("retired_pages", EventKind.ROW_REMAP, Severity.WARNING),
)


def events_from_samples(previous: VendorSample | None, current: VendorSample) -> list[HealthEvent]:
    """The events `current` adds to `previous` (None: the device's first reading)."""
    if previous is not None and previous.device != current.device:
        raise HealthError(
            f"vendor samples of two devices compared: {previous.device!r} then {current.device!r}"
        )
    events = _counter_events(previous, current)
    events.extend(
        _event(current, EventKind.THROTTLE, Severity.WARNING, reason, None)
        for reason in current.throttle_reasons
    )
    for code in current.xids:
        kind, severity = classify_xid(code)
        events.append(_event(current, kind, severity, f"Xid {code}", code))
    status = (current.vendor_status or "").strip()
    verdict = _STATUS.get(status.lower())
    if verdict is not None:
        events.append(
            _event(current, EventKind.DRIVER_ERROR, verdict, f"vendor status {status}", None)
        )
    return events


def _counter_events(previous: VendorSample | None, current: VendorSample) -> list[HealthEvent]:
    events: list[HealthEvent] = []
    if previous is None:
        return events
    for field, kind, severity in _COUNTERS:
        before: int | None = getattr(previous, field)
        now: int | None = getattr(current, field)
        if before is None or now is None or now <= before:
            continue  # unknown, unchanged, or reset by a driver reload: a new baseline
        message = f"{field} {before} -> {now}"
        events.append(_event(current, kind, severity, message, None, count=now - before))
    return events


def _event(
    sample: VendorSample,
    kind: EventKind,
    severity: Severity,
    message: str,
    code: int | None,
    count: int = 1,
) -> HealthEvent:
    return HealthEvent(
        at=sample.at,
        kind=kind,
        severity=severity,
        source=Source.VENDOR,
        device=sample.device,
        vendor=sample.vendor,
        code=code,
        count=count,
        message=f"{sample.vendor} {sample.device}: {message}",
    )
