"""Every Xid maps to the kind and severity NVIDIA's Xid catalogue gives it."""

from __future__ import annotations

import pytest

from hcs_health.events import EventKind, Severity
from hcs_health.xid import classify_xid

K, S = EventKind, Severity


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (79, (K.FALLEN_OFF_BUS, S.FATAL)),
        (48, (K.ECC_UNCORRECTABLE, S.ERROR)),
        (63, (K.ROW_REMAP, S.WARNING)),
        (64, (K.ROW_REMAP, S.ERROR)),
        (74, (K.LINK_DEGRADED, S.ERROR)),
        (92, (K.ECC_CORRECTABLE, S.WARNING)),
        (94, (K.ECC_UNCORRECTABLE, S.ERROR)),
        (95, (K.ECC_UNCORRECTABLE, S.FATAL)),
        (119, (K.DRIVER_ERROR, S.ERROR)),
        (120, (K.DRIVER_ERROR, S.ERROR)),
        (13, (K.XID, S.INFO)),
        (31, (K.XID, S.INFO)),
        (43, (K.XID, S.INFO)),
        (45, (K.XID, S.INFO)),
        (109, (K.XID, S.INFO)),
        (144, (K.LINK_DEGRADED, S.ERROR)),
        (147, (K.LINK_DEGRADED, S.ERROR)),
        (150, (K.LINK_DEGRADED, S.ERROR)),
        (143, (K.XID, S.WARNING)),
        (151, (K.XID, S.WARNING)),
        (8, (K.XID, S.WARNING)),
        (0, (K.XID, S.WARNING)),
        (100_000, (K.XID, S.WARNING)),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else None,
)
def test_classify_xid(code: int, expected: tuple[EventKind, Severity]) -> None:
    assert classify_xid(code) == expected
