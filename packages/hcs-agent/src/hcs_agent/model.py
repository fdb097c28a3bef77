"""What detectors find, before it becomes a ComputeNode: plain data, no I/O.

A detector returns a `Detection` per vendor: the devices it fingerprinted, or the error that
stopped it. Devices and their link peers are named by the vendor's own index (what
`*_VISIBLE_DEVICES` understands); the ComputeNode names them `<vendor>-<index>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hcs_api import HcsApiError
from hcs_api.names import device_id
from hcs_api.v1alpha1 import LinkType


@dataclass(frozen=True)
class HealthSignals:
    """The raw signals the health score is computed from; None = the vendor does not report it."""

    vendor_status: str | None = None
    """The vendor tool's own verdict (npu-smi's Health: OK, Warning, Alarm, Critical)."""
    ecc_uncorrectable: int | None = None
    """Uncorrectable (double-bit) ECC errors since the driver loaded."""
    ecc_correctable: int | None = None
    """Correctable (single-bit) ECC errors since the driver loaded."""
    retired_pages: int | None = None
    """Retired pages or remapped rows over the device's life."""
    retirement_pending: bool = False
    """A page retirement / row remap waits for the next reset."""
    remap_failed: bool = False
    """Row remapping failed: the memory cannot be repaired in place."""
    throttle_reasons: tuple[str, ...] = ()
    """Active clock throttle reasons that signal trouble (hw_slowdown, hw_thermal, sw_thermal)."""
    xids: tuple[int, ...] = ()
    """NVIDIA Xid error codes seen since the last collection."""
    error_codes: tuple[str, ...] = ()
    """Vendor error codes (npu-smi -t health's Error Code), NA removed."""


@dataclass(frozen=True)
class PeerLink:
    """A vendor link (NVLink, HCCS, xGMI) from one device to a peer on the same node."""

    type: LinkType
    peer: str
    """The peer's device index."""
    links: int = 1
    """How many physical links join the pair (NVLink counts them; HCCS topo does not)."""
    p2p: bool | None = None
    """Whether the pair can read each other's memory directly, where the vendor says."""


@dataclass(frozen=True)
class DeviceInfo:
    """One accelerator as its vendor's tool or library reported it."""

    vendor: str
    index: str
    """The vendor's own index, as its *_VISIBLE_DEVICES understands it (not yet qualified)."""
    uuid: str
    name: str
    """The name the tool reports (NVML's "NVIDIA H100 80GB HBM3", npu-smi's "910B3")."""
    vram_bytes: int | None = None
    vram_free_bytes: int | None = None
    pci_bus_id: str | None = None
    """domain:bus:device.function, lower-case, 4-digit domain (0000:c1:00.0)."""
    numa_node: int | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    utilization_pct: float | None = None
    """Share of the last sample period the device was busy (NVML utilization.gpu)."""
    sm_clock_ratio: float | None = None
    """Current compute clock over its maximum: under load, how much of its speed it keeps."""
    compute_capability: str | None = None
    mig_enabled: bool | None = None
    links: tuple[PeerLink, ...] = ()
    health: HealthSignals = field(default_factory=HealthSignals)


@dataclass(frozen=True)
class Detection:
    """One vendor's answer: devices found, an error that stopped it, and warnings on the way."""

    vendor: str
    devices: tuple[DeviceInfo, ...] = ()
    error: str | None = None
    """Why this vendor reported nothing (tool missing, timeout, unexpected output)."""
    warnings: tuple[str, ...] = ()
    """Parts that could not be read while the devices still were (a topology query failed)."""
    absent: bool = False
    """True when the vendor simply has no devices here (not an error)."""


def reported_id(info: DeviceInfo) -> str | None:
    """The ComputeNode id the device is reported under (`<vendor>-<index>`); None when its index
    is one no *_VISIBLE_DEVICES takes (the builder leaves such a device out and says why)."""
    try:
        return device_id(info.vendor, info.index)
    except HcsApiError:
        return None


def normalise_bus_id(bus_id: str) -> str:
    """PCI address as sysfs spells it: 4-digit lower-case domain (NVML gives 00000000:C1:00.0)."""
    parts = bus_id.strip().split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"not a PCI address: {bus_id!r}")
    domain, bus, devfn = parts
    return f"{int(domain, 16):04x}:{bus.lower()}:{devfn.lower()}"
