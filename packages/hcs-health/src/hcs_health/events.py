"""The one event model every health signal arrives in, whichever source read it.

eBPF programs (native/ebpf), the polling fallback (/dev/kmsg, sysfs AER counters) and the
agent's periodic vendor readings (NVML, npu-smi, hy-smi, cnmon) all produce `HealthEvent`s; the
analyzer never knows which source is active. Plain data, no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class EventKind(enum.StrEnum):
    """What happened. The analyzer's rules (analyzer.py) are written per kind."""

    XID = "xid"
    """An NVIDIA Xid line (NVRM: Xid ...); `code` holds the Xid number."""
    FALLEN_OFF_BUS = "fallen-off-bus"
    """The device stopped answering on PCIe (Xid 79, "GPU has fallen off the bus", an Ascend
    "device abnormal"): it is gone until a reset."""
    ECC_CORRECTABLE = "ecc-correctable"
    """Single-bit / correctable memory errors; `count` holds how many."""
    ECC_UNCORRECTABLE = "ecc-uncorrectable"
    """Double-bit / uncorrectable memory errors (RAS UE, Xid 48); `count` holds how many."""
    ROW_REMAP = "row-remap"
    """A memory row was remapped or a page retired (Xid 63/64, retired pages)."""
    AER_CORRECTABLE = "aer-correctable"
    """A PCIe AER correctable error (RxErr, BadTLP, BadDLLP...) on the device's link."""
    AER_UNCORRECTABLE = "aer-uncorrectable"
    """A PCIe AER uncorrectable error, non-fatal or fatal."""
    LINK_DEGRADED = "link-degraded"
    """The PCIe link retrained to a lower speed or width, or a vendor link (NVLink, xGMI,
    HCCS) reported an error."""
    DRIVER_ERROR = "driver-error"
    """A driver error line that is not one of the kinds above (a ring timeout, a page fault,
    a failed queue restore)."""
    RESET = "reset"
    """The driver reset the device (amdgpu mode1 reset, GPU recovery)."""
    THROTTLE = "throttle"
    """The device is slowing itself down (hardware slowdown, thermal, power brake)."""
    IOCTL_SLOW = "ioctl-slow"
    """An ioctl on the device's file took longer than the slow threshold; `value` in ms."""
    EFFICIENCY = "efficiency"
    """A periodic efficiency sample (throughput per watt or utilisation); `value` holds it."""


class Severity(enum.IntEnum):
    """How bad one event is on its own; the score also weighs rates and trends."""

    INFO = 0
    """Worth counting, harmless alone (a slow ioctl, one correctable error)."""
    WARNING = 1
    """Degrades the device if it keeps happening."""
    ERROR = 2
    """The device misbehaved; work on it may have failed."""
    FATAL = 3
    """The device is unusable until a reset or a repair."""


class Source(enum.StrEnum):
    """Which reader produced the event (shown in /metrics and the evidence)."""

    EBPF_PRINTK = "ebpf-printk"
    EBPF_AER = "ebpf-aer"
    EBPF_IOCTL = "ebpf-ioctl"
    KMSG = "kmsg"
    SYSFS_AER = "sysfs-aer"
    VENDOR = "vendor"
    """The agent's periodic vendor reading (NVML, npu-smi, hy-smi, cnmon)."""


@dataclass(frozen=True)
class HealthEvent:
    """One signal about one device (or about a PCI address not yet mapped to a device)."""

    at: float
    """When it happened, seconds on the clock the analyzer is given (monotonic in the agent)."""
    kind: EventKind
    severity: Severity
    source: Source
    device: str | None = None
    """The ComputeNode device id (`nvidia-0`) when known."""
    pci: str | None = None
    """The PCI address the kernel named (0000:3b:00.0), sysfs spelling, when it named one."""
    vendor: str | None = None
    """nvidia, ascend, hygon or cambricon when the line names the vendor's driver."""
    code: int | None = None
    """The vendor's error code (the Xid number)."""
    count: int = 1
    """How many occurrences this event stands for (a counter delta)."""
    value: float | None = None
    """A measured value: ioctl latency in ms, efficiency."""
    message: str = ""
    """The kernel line or reading as it was seen, for the evidence (cut to 512 characters)."""

    def describe(self) -> str:
        """One line an operator reads: what, where, from which source."""
        what = self.kind.value if self.code is None else f"{self.kind.value} {self.code}"
        where = self.device or self.pci or "node"
        times = f" x{self.count}" if self.count != 1 else ""
        return f"{what}{times} on {where} ({self.source.value})"
