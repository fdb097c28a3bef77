"""NVIDIA through NVML (nvidia-ml-py, `import pynvml`), behind a port so tests feed a fake NVML.

The port is the handful of pynvml functions used here (`NvmlPort`); the production adapter is
the pynvml module itself. Optional queries a GPU does not support (MIG on a T4, remapped rows
before Ampere) read as unknown. Without the library or the driver, or with no GPU, the answer is
"no NVIDIA devices", not an error.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Protocol, TypeVar

from hcs_agent.model import Detection, DeviceInfo, HealthSignals, PeerLink, normalise_bus_id
from hcs_api.v1alpha1 import LinkType

VENDOR = "nvidia"
T = TypeVar("T")

# Throttle bits that mean trouble (nvmlClocksEventReason*); idle, power cap and
# application clocks are normal operation.
_TROUBLE_THROTTLES = {
    0x08: "hw_slowdown",
    0x20: "sw_thermal",
    0x40: "hw_thermal",
    0x80: "hw_power_brake",
}
# Absent library / driver / devices: this node simply has no NVIDIA GPU.
_ABSENT_ERRORS = {9: "NVIDIA driver not loaded", 12: "NVML library not found"}


class NvmlPort(Protocol):
    """The pynvml functions the detector calls (the pynvml module satisfies it)."""

    NVMLError: type[Exception]

    def nvmlInit(self) -> None: ...
    def nvmlDeviceGetCount(self) -> int: ...
    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any: ...
    def nvmlDeviceGetUUID(self, handle: Any) -> str: ...
    def nvmlDeviceGetName(self, handle: Any) -> str: ...
    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any: ...
    def nvmlDeviceGetPciInfo(self, handle: Any) -> Any: ...
    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> tuple[int, int]: ...
    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int: ...
    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int: ...
    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any: ...
    def nvmlDeviceGetClockInfo(self, handle: Any, clock: int) -> int: ...
    def nvmlDeviceGetMaxClockInfo(self, handle: Any, clock: int) -> int: ...
    def nvmlDeviceGetMigMode(self, handle: Any) -> tuple[int, int]: ...
    def nvmlDeviceGetTotalEccErrors(self, handle: Any, kind: int, counter: int) -> int: ...
    def nvmlDeviceGetRemappedRows(self, handle: Any) -> tuple[int, int, int, int]: ...
    def nvmlDeviceGetRetiredPages(self, handle: Any, cause: int) -> list[int]: ...
    def nvmlDeviceGetRetiredPagesPendingStatus(self, handle: Any) -> int: ...
    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int: ...
    def nvmlDeviceGetNvLinkState(self, handle: Any, link: int) -> int: ...
    def nvmlDeviceGetNvLinkRemotePciInfo(self, handle: Any, link: int) -> Any: ...
    def nvmlDeviceGetP2PStatus(self, a: Any, b: Any, index: int) -> int: ...


def _pynvml() -> Any:
    import pynvml  # type: ignore[import-untyped]

    return pynvml


class XidEvents:
    """Xid errors since the last call, per device index, from an NVML event set.

    The set is created on first use and kept, so no Xid between two collections is lost; a
    driver that cannot deliver events (a VM without them) gives none rather than an error.
    """

    def __init__(self, nvml: Any) -> None:
        self._nvml = nvml
        self._set: Any = None
        self._index: dict[str, str] = {}

    def __call__(self) -> dict[str, tuple[int, ...]]:
        nvml = self._nvml
        seen: dict[str, list[int]] = {}
        try:
            if self._set is None:
                self._set = nvml.nvmlEventSetCreate()
                for i in range(nvml.nvmlDeviceGetCount()):
                    handle = nvml.nvmlDeviceGetHandleByIndex(i)
                    self._index[_text(nvml.nvmlDeviceGetUUID(handle))] = str(i)
                    nvml.nvmlDeviceRegisterEvents(
                        handle, nvml.nvmlEventTypeXidCriticalError, self._set
                    )
            while True:  # NVMLError_Timeout ends the drain: no more events waiting
                event = nvml.nvmlEventSetWait(self._set, 0)
                index = self._index.get(_text(nvml.nvmlDeviceGetUUID(event.device)))
                if index is not None:
                    seen.setdefault(index, []).append(int(event.eventData))
        except nvml.NVMLError:
            pass
        return {index: tuple(codes) for index, codes in seen.items()}


class NvidiaDetector:
    """Fingerprints NVIDIA GPUs; `numa_of` maps a PCI address to its NUMA node (sysfs)."""

    vendor = VENDOR

    def __init__(
        self,
        nvml: NvmlPort | None = None,
        numa_of: Callable[[str], int | None] | None = None,
        watch_xids: bool = True,
    ) -> None:
        self._nvml: Any = nvml if nvml is not None else _pynvml()
        self._numa_of = numa_of or (lambda bus_id: None)
        self._xids = XidEvents(self._nvml) if watch_xids else None
        self._initialised = False

    def detect(self) -> Detection:
        nvml = self._nvml
        try:
            if not self._initialised:
                nvml.nvmlInit()
                self._initialised = True
            count = nvml.nvmlDeviceGetCount()
        except nvml.NVMLError as error:
            reason = _ABSENT_ERRORS.get(getattr(error, "value", None) or 0)
            if reason:
                return Detection(VENDOR, absent=True, error=f"no NVIDIA devices ({reason})")
            return Detection(VENDOR, error=f"NVML: {error}")
        if count == 0:
            return Detection(VENDOR, absent=True, error="no NVIDIA devices (NVML sees none)")
        try:
            handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            bus_ids = [normalise_bus_id(_text(nvml.nvmlDeviceGetPciInfo(h).busId)) for h in handles]
            xids = self._xids() if self._xids is not None else {}
            fabric = [self._nvlinks(h, bus_ids) for h in handles]
            devices = tuple(
                self._device(str(i), h, bus_ids, handles, fabric, xids.get(str(i), ()))
                for i, h in enumerate(handles)
            )
        except nvml.NVMLError as error:
            return Detection(VENDOR, error=f"NVML: {error}")
        return Detection(VENDOR, devices=devices)

    def _device(
        self,
        index: str,
        handle: Any,
        bus_ids: list[str],
        handles: list[Any],
        fabric: list[tuple[dict[str, int], int]],
        xids: tuple[int, ...],
    ) -> DeviceInfo:
        nvml = self._nvml
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        capability = self._optional(lambda: nvml.nvmlDeviceGetCudaComputeCapability(handle))
        mig = self._optional(lambda: nvml.nvmlDeviceGetMigMode(handle))
        power = self._optional(lambda: nvml.nvmlDeviceGetPowerUsage(handle))
        busy = self._optional(lambda: nvml.nvmlDeviceGetUtilizationRates(handle))
        bus_id = bus_ids[int(index)]
        return DeviceInfo(
            vendor=VENDOR,
            index=index,
            uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
            name=_text(nvml.nvmlDeviceGetName(handle)),
            vram_bytes=int(memory.total),
            vram_free_bytes=int(memory.free),
            pci_bus_id=bus_id,
            numa_node=self._numa_of(bus_id),
            temperature_c=self._optional(lambda: float(nvml.nvmlDeviceGetTemperature(handle, 0))),
            power_w=None if power is None else power / 1000,
            utilization_pct=None if busy is None else float(busy.gpu),
            sm_clock_ratio=self._clock_ratio(handle),
            compute_capability=None if capability is None else f"{capability[0]}.{capability[1]}",
            mig_enabled=None if mig is None else bool(mig[0]),
            links=self._links(index, fabric, handles),
            health=self._health(handle, xids),
        )

    def _clock_ratio(self, handle: Any) -> float | None:
        """SM clock over its maximum (NVML_CLOCK_SM = 1): hcs-health's efficiency signal."""
        now = self._optional(lambda: self._nvml.nvmlDeviceGetClockInfo(handle, 1))
        top = self._optional(lambda: self._nvml.nvmlDeviceGetMaxClockInfo(handle, 1))
        return None if not now or not top else now / top

    def _health(self, handle: Any, xids: tuple[int, ...]) -> HealthSignals:
        nvml = self._nvml
        uncorrected = self._optional(lambda: nvml.nvmlDeviceGetTotalEccErrors(handle, 1, 0))
        corrected = self._optional(lambda: nvml.nvmlDeviceGetTotalEccErrors(handle, 0, 0))
        rows = self._optional(lambda: nvml.nvmlDeviceGetRemappedRows(handle))
        if rows is not None:  # Ampere and later: row remapping replaces page retirement
            retired, pending, failed = rows[0] + rows[1], bool(rows[2]), bool(rows[3])
        else:
            pages = [
                self._optional(partial(_count, nvml.nvmlDeviceGetRetiredPages, handle, cause))
                for cause in (0, 1)
            ]
            known = [p for p in pages if p is not None]
            retired = sum(known) if known else None
            status = self._optional(lambda: nvml.nvmlDeviceGetRetiredPagesPendingStatus(handle))
            pending, failed = bool(status), False
        reasons = self._optional(lambda: nvml.nvmlDeviceGetCurrentClocksEventReasons(handle)) or 0
        return HealthSignals(
            ecc_uncorrectable=uncorrected,
            ecc_correctable=corrected,
            retired_pages=retired,
            retirement_pending=pending,
            remap_failed=failed,
            throttle_reasons=tuple(n for bit, n in _TROUBLE_THROTTLES.items() if reasons & bit),
            xids=xids,
        )

    def _nvlinks(self, handle: Any, bus_ids: list[str]) -> tuple[dict[str, int], int]:
        """Active links of one GPU: per peer GPU (direct), and to anything else (NVSwitch)."""
        nvml = self._nvml
        direct: dict[str, int] = {}
        switched = 0
        for link in range(18):  # NVLink 4 (Hopper) has the most links per GPU: 18
            if self._optional(partial(nvml.nvmlDeviceGetNvLinkState, handle, link)) != 1:
                continue
            remote = self._optional(partial(nvml.nvmlDeviceGetNvLinkRemotePciInfo, handle, link))
            if remote is None:
                continue
            peer_bus = normalise_bus_id(_text(remote.busId))
            if peer_bus in bus_ids:
                peer = str(bus_ids.index(peer_bus))
                direct[peer] = direct.get(peer, 0) + 1
            else:  # the far end is not a GPU of this node: an NVSwitch (HGX boards)
                switched += 1
        return direct, switched

    def _links(
        self, index: str, fabric: list[tuple[dict[str, int], int]], handles: list[Any]
    ) -> tuple[PeerLink, ...]:
        links = []
        for peer, count in nvlink_peers(int(index), fabric).items():
            query = partial(
                self._nvml.nvmlDeviceGetP2PStatus, handles[int(index)], handles[peer], 0
            )
            status = self._optional(query)
            p2p = None if status is None else status == 0
            links.append(PeerLink(LinkType.NVLINK, str(peer), links=count, p2p=p2p))
        return tuple(links)

    def _optional(self, query: Callable[[], T]) -> T | None:
        """A query the GPU may not support: unknown instead of a failed detection."""
        try:
            return query()
        except self._nvml.NVMLError:
            return None


def _count(query: Callable[[Any, int], list[int]], handle: Any, cause: int) -> int:
    return len(query(handle, cause))


def _text(value: str | bytes) -> str:
    """Older pynvml releases return bytes."""
    return value.decode() if isinstance(value, bytes) else value


def nvlink_peers(index: int, fabric: list[tuple[dict[str, int], int]]) -> dict[int, int]:
    """Links from GPU `index` to each peer: direct links counted as NVML reports them; GPUs that
    both reach NVSwitches reach each other over as many links as the lesser of the two has
    (nvidia-smi topo shows NV18 between every pair of an HGX H100 board)."""
    direct, switched = fabric[index]
    peers = {int(peer): count for peer, count in direct.items() if int(peer) != index}
    if switched:
        for other, (_, other_switched) in enumerate(fabric):
            if other != index and other_switched:
                peers[other] = peers.get(other, 0) + min(switched, other_switched)
    return dict(sorted(peers.items()))
