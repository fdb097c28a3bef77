"""The documented health score: each rule of the README moves the score as stated."""

from __future__ import annotations

import pytest

from hcs_agent.health import score
from hcs_agent.model import HealthSignals

CASES = [
    ("healthy", HealthSignals(vendor_status="OK"), None, 100),
    ("npu-critical", HealthSignals(vendor_status="Critical"), None, 0),
    ("fallen-off-bus-xid79", HealthSignals(xids=(79,)), None, 0),
    ("remap-failed", HealthSignals(remap_failed=True), None, 0),
    ("npu-alarm", HealthSignals(vendor_status="Alarm"), None, 40),
    ("npu-warning", HealthSignals(vendor_status="Warning"), None, 70),
    (
        "error-code-without-status",
        HealthSignals(vendor_status="OK", error_codes=("80E01801",)),
        None,
        70,
    ),
    ("double-bit-xid48", HealthSignals(xids=(48,)), None, 30),
    ("application-xid13", HealthSignals(xids=(13,)), None, 90),
    ("uncorrectable-ecc", HealthSignals(ecc_uncorrectable=1), None, 60),
    ("remap-pending", HealthSignals(retired_pages=1, retirement_pending=True), None, 80),
    ("correctable-ecc", HealthSignals(ecc_correctable=353), None, 95),
    ("two-throttles", HealthSignals(throttle_reasons=("hw_slowdown", "hw_thermal")), None, 70),
    ("warm-80c", HealthSignals(), 80.0, 90),
    ("hot-95c", HealthSignals(), 95.0, 80),
    (
        "everything-at-once",
        HealthSignals(
            ecc_uncorrectable=2,
            retirement_pending=True,
            ecc_correctable=9,
            throttle_reasons=("hw_thermal",),
        ),
        91.0,
        0,
    ),
    ("cap-and-penalty", HealthSignals(vendor_status="Warning", ecc_correctable=1), 85.0, 70),
]


@pytest.mark.parametrize(
    ("signals", "temperature", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_score(signals: HealthSignals, temperature: float | None, expected: int) -> None:
    result = score(signals, temperature)
    assert result.value == expected
    assert bool(result.reasons) == (expected < 100)
