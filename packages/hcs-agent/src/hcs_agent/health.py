"""A simple, documented health score per device (0-100) from the signals the detectors read.

The full analyzer (trends, prediction) belongs to hcs-health; this is the agent's first opinion,
rule by rule, so an operator can tell why a device scored what it did. Rules apply in order:
caps set a ceiling, penalties subtract, and the result is clamped to 0..100.

- 0: vendor status Critical, Xid 79 (fallen off the bus), or row remapping failed: the device
  is gone or cannot repair its memory.
- cap 40: vendor status Alarm (npu-smi's second-worst state).
- cap 70: vendor status Warning, or any vendor error code: the tool itself flags trouble.
- cap 30: Xid 48, 63, 64, 74, 92, 94, 95, 119 or 120 (double-bit ECC, row-remap events,
  NVLink, contained / uncontained ECC, GSP errors).
- -10: any other Xid (13, 31, 43... are usually the program's fault, not the device's).
- -40: uncorrectable ECC errors since the driver loaded: data may already be corrupt.
- -20: a page retirement or row remap waits for a reset.
- -5: correctable ECC errors: corrected, but a trend starts somewhere.
- -15 each: hardware slowdown, hardware or software thermal, power-brake throttling.
- -10 at 80 C or more, -20 at 90 C or more: near the slowdown limits of most datasheets.

Xid meanings: NVIDIA's "XID Errors" catalogue (docs.nvidia.com/deploy/xid-errors). npu-smi
health values: OK, Warning, Alarm, Critical (npu-smi command reference, "info -t health").
"""

from __future__ import annotations

from dataclasses import dataclass

from hcs_agent.model import HealthSignals

SEVERE_XIDS = frozenset({48, 63, 64, 74, 92, 94, 95, 119, 120})
LOST_XIDS = frozenset({79})
HEALTHY = 50
"""A device scoring below this is left out of allocatable and makes the node Degraded (the
scheduler treats health < 50 as sick too)."""


@dataclass(frozen=True)
class Score:
    value: int
    reasons: tuple[str, ...]


def score(signals: HealthSignals, temperature_c: float | None = None) -> Score:
    """The device's score and the rules that lowered it."""
    reasons: list[str] = []
    status = (signals.vendor_status or "").lower()
    if status == "critical" or LOST_XIDS & set(signals.xids) or signals.remap_failed:
        if status == "critical":
            return Score(0, ("vendor status Critical",))
        return Score(0, ("device lost or memory unrepairable",))
    cap = 100
    if status == "alarm":
        cap = 40
        reasons.append("vendor status Alarm")
    elif status == "warning" or signals.error_codes:
        cap = 70
        codes = " ".join(signals.error_codes)
        reasons.append(f"vendor reports {signals.vendor_status} {codes}".strip())
    severe = sorted(SEVERE_XIDS & set(signals.xids))
    if severe:
        cap = min(cap, 30)
        reasons.append(f"Xid {', '.join(map(str, severe))}")
    penalty = _penalties(signals, temperature_c, reasons)
    return Score(max(0, min(cap, 100 - penalty)), tuple(reasons))


def _penalties(signals: HealthSignals, temperature_c: float | None, reasons: list[str]) -> int:
    penalty = 0
    other = sorted(set(signals.xids) - SEVERE_XIDS - LOST_XIDS)
    if other:
        penalty += 10
        reasons.append(f"Xid {', '.join(map(str, other))}")
    if signals.ecc_uncorrectable:
        penalty += 40
        reasons.append(f"{signals.ecc_uncorrectable} uncorrectable ECC errors")
    if signals.retirement_pending:
        penalty += 20
        reasons.append("page retirement / row remap pending")
    if signals.ecc_correctable:
        penalty += 5
        reasons.append(f"{signals.ecc_correctable} correctable ECC errors")
    for reason in signals.throttle_reasons:
        penalty += 15
        reasons.append(f"throttled: {reason}")
    if temperature_c is not None and temperature_c >= 80:
        penalty += 20 if temperature_c >= 90 else 10
        reasons.append(f"temperature {temperature_c:g} C")
    return penalty
