"""The one Xid -> (kind, severity) table, shared by the kernel-line parser and the vendor samples.

Meanings from NVIDIA's "XID Errors" catalogue (docs.nvidia.com/deploy/xid-errors). The severity
says how bad one occurrence is on its own; the analyzer weighs rates on top:

- 79 "GPU has fallen off the bus": FALLEN_OFF_BUS FATAL (the device is gone until a reset).
- 48 double-bit ECC, 94 contained ECC: ECC_UNCORRECTABLE ERROR; 95 uncontained ECC: FATAL.
- 63 row-remap / page-retirement recorded: ROW_REMAP WARNING; 64 remap failure: ROW_REMAP ERROR.
- 74 NVLink error: LINK_DEGRADED ERROR. 92 high single-bit ECC rate: ECC_CORRECTABLE WARNING.
- 119, 120 GSP RPC timeout / GSP error: DRIVER_ERROR ERROR.
- 13, 31, 43, 45, 109 (graphics exception, MMU fault, channel stopped, preemptive cleanup, context
  switch timeout): XID INFO, usually the program's fault rather than the device's.
- 144-150, the catalogue's NVLink error family (145 RLW, 149 NETIR; seen in the recorded
  syslog-xid45-caused-by-xid149-xid145-nvlink file): LINK_DEGRADED ERROR, as 74.
- any other Xid: XID WARNING.
"""

from __future__ import annotations

from types import MappingProxyType

from hcs_health.events import EventKind, Severity

XID_TABLE: MappingProxyType[int, tuple[EventKind, Severity]] = MappingProxyType(
    {
        79: (EventKind.FALLEN_OFF_BUS, Severity.FATAL),
        48: (EventKind.ECC_UNCORRECTABLE, Severity.ERROR),
        63: (EventKind.ROW_REMAP, Severity.WARNING),
        64: (EventKind.ROW_REMAP, Severity.ERROR),
        74: (EventKind.LINK_DEGRADED, Severity.ERROR),
        92: (EventKind.ECC_CORRECTABLE, Severity.WARNING),
        94: (EventKind.ECC_UNCORRECTABLE, Severity.ERROR),
        95: (EventKind.ECC_UNCORRECTABLE, Severity.FATAL),
        119: (EventKind.DRIVER_ERROR, Severity.ERROR),
        120: (EventKind.DRIVER_ERROR, Severity.ERROR),
        13: (EventKind.XID, Severity.INFO),
        31: (EventKind.XID, Severity.INFO),
        43: (EventKind.XID, Severity.INFO),
        45: (EventKind.XID, Severity.INFO),
        109: (EventKind.XID, Severity.INFO),
        # NVLink error family of the catalogue (docs.nvidia.com/deploy/xid-errors: 144-150).
        **dict.fromkeys(range(144, 151), (EventKind.LINK_DEGRADED, Severity.ERROR)),
    }
)
"""Xids with a known meaning; every other code is (XID, WARNING)."""

_OTHER = (EventKind.XID, Severity.WARNING)


def classify_xid(code: int) -> tuple[EventKind, Severity]:
    """The event kind and severity one occurrence of Xid `code` stands for."""
    return XID_TABLE.get(code, _OTHER)
