"""Vendor readings become events: counter deltas, throttle reasons, Xids and the tool's status."""

from __future__ import annotations

from typing import Any

import pytest

from hcs_health.errors import HealthError
from hcs_health.events import EventKind, HealthEvent, Severity, Source
from hcs_health.samples import VendorSample, events_from_samples


def sample(at: float = 10.0, device: str = "nvidia-0", **fields: Any) -> VendorSample:
    return VendorSample(device=device, vendor="nvidia", at=at, **fields)


def kinds(events: list[HealthEvent]) -> list[tuple[EventKind, Severity, int]]:
    return [(e.kind, e.severity, e.count) for e in events]


def test_first_reading_is_a_baseline_for_counters() -> None:
    first = sample(ecc_correctable=500, ecc_uncorrectable=2, retired_pages=3)
    assert events_from_samples(None, first) == []


@pytest.mark.parametrize(
    ("field", "kind", "severity"),
    [
        ("ecc_correctable", EventKind.ECC_CORRECTABLE, Severity.WARNING),
        ("ecc_uncorrectable", EventKind.ECC_UNCORRECTABLE, Severity.ERROR),
        ("retired_pages", EventKind.ROW_REMAP, Severity.WARNING),
    ],
    ids=["correctable", "uncorrectable", "retired-pages"],
)
def test_counter_rise_is_one_event_carrying_the_delta(
    field: str, kind: EventKind, severity: Severity
) -> None:
    before: dict[str, Any] = {field: 10}
    after: dict[str, Any] = {field: 14}
    events = events_from_samples(sample(0.0, **before), sample(30.0, **after))
    assert kinds(events) == [(kind, severity, 4)]
    event = events[0]
    assert (event.at, event.source, event.vendor, event.device) == (
        30.0, Source.VENDOR, "nvidia", "nvidia-0",
    )  # fmt: skip
    assert f"{field} 10 -> 14" in event.message


@pytest.mark.parametrize(
    ("before", "after"),
    [(10, 10), (10, 3), (None, 5), (5, None)],
    ids=["unchanged", "driver-reloaded", "newly-reported", "no-longer-reported"],
)
def test_no_event_without_a_rise(before: int | None, after: int | None) -> None:
    assert events_from_samples(sample(ecc_correctable=before), sample(ecc_correctable=after)) == []


def test_a_reset_counter_is_the_new_baseline() -> None:
    reloaded = sample(20.0, ecc_correctable=1)
    assert events_from_samples(sample(10.0, ecc_correctable=900), reloaded) == []
    assert kinds(events_from_samples(reloaded, sample(30.0, ecc_correctable=3))) == [
        (EventKind.ECC_CORRECTABLE, Severity.WARNING, 2)
    ]


def test_each_throttle_reason_is_a_warning() -> None:
    events = events_from_samples(None, sample(throttle_reasons=("hw_slowdown", "sw_thermal")))
    assert kinds(events) == [(EventKind.THROTTLE, Severity.WARNING, 1)] * 2
    assert "hw_slowdown" in events[0].message
    assert "sw_thermal" in events[1].message


def test_xids_use_the_shared_xid_table() -> None:
    events = events_from_samples(None, sample(xids=(79, 13, 31999)))
    assert [(e.kind, e.severity, e.code) for e in events] == [
        (EventKind.FALLEN_OFF_BUS, Severity.FATAL, 79),
        (EventKind.XID, Severity.INFO, 13),
        (EventKind.XID, Severity.WARNING, 31999),
    ]


@pytest.mark.parametrize(
    ("status", "severity"),
    [("Critical", Severity.FATAL), ("Alarm", Severity.ERROR), ("Warning", Severity.WARNING),
     ("warning ", Severity.WARNING), ("OK", None), (None, None), ("Unknown", None)],
    ids=["critical", "alarm", "warning", "lowercase-padded", "ok", "none", "unknown-word"],
)  # fmt: skip
def test_vendor_status(status: str | None, severity: Severity | None) -> None:
    events = events_from_samples(None, sample(vendor_status=status))
    expected = [] if severity is None else [(EventKind.DRIVER_ERROR, severity, 1)]
    assert kinds(events) == expected


def test_samples_of_two_devices_are_refused() -> None:
    with pytest.raises(HealthError, match=r"nvidia-0.*nvidia-1"):
        events_from_samples(sample(device="nvidia-0"), sample(device="nvidia-1"))


def test_messages_name_the_device_the_xid_and_the_status() -> None:
    """An operator reads the message: it names the vendor, the device and what was seen."""
    xid, status = events_from_samples(None, sample(xids=(79,), vendor_status="Alarm"))
    assert xid.message == "nvidia nvidia-0: Xid 79"
    assert status.message == "nvidia nvidia-0: vendor status Alarm"
