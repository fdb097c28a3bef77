"""Stand-ins for hardware, for tests, the benchmark and demos: a fake NVML and a fixture runner.

`FakeNvml` answers the pynvml calls of `NvidiaDetector` from recorded values. `recorded_h100()`
holds the values of one H100 80GB HBM3 as `nvidia-smi -q` printed them on a project test
machine (driver 580.159.04, a VM with PCI passthrough: shared/data/vendor-tools/nvidia/
nvidia-smi-q_h100-80gb-hbm3-1gpu-vm_580.159.04_recorded-here.txt); compute capability 9.0 is
Hopper's (CUDA C++ Programming Guide, "Compute Capabilities").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml  # type: ignore[import-untyped]

from hcs_agent.errors import ToolError


@dataclass
class FakeGpu:
    uuid: str
    name: str
    bus_id: str
    total: int
    free: int
    temperature: int = 40
    power_mw: int = 100_000
    capability: tuple[int, int] = (9, 0)
    mig: tuple[int, int] | None = (0, 0)
    ecc: tuple[int, int] = (0, 0)
    """(corrected, uncorrected) volatile counts."""
    remapped: tuple[int, int, int, int] | None = (0, 0, 0, 0)
    """(correctable, uncorrectable, pending, failure); None before Ampere."""
    clock_reasons: int = 0
    utilization: int = 0
    sm_clock_mhz: int = 375
    max_sm_clock_mhz: int = 1980
    nvlinks: dict[int, str] = field(default_factory=dict)
    """Active NVLink number -> the remote GPU's PCI bus id."""
    p2p: int = 0


def recorded_h100() -> FakeGpu:
    return FakeGpu(
        uuid="GPU-c1d58cb8-895b-8f60-65c0-c9f274b2d3f6",
        name="NVIDIA H100 80GB HBM3",
        bus_id="00000000:00:06.0",
        total=81559 * 1024**2,
        free=81079 * 1024**2,
        temperature=36,
        power_mw=74_130,
        clock_reasons=0x1,  # "Idle: Active", nothing else
    )


class FakeNvml:
    """pynvml's functions over FakeGpu records; `init_error` makes nvmlInit fail with that code."""

    NVMLError = pynvml.NVMLError
    nvmlEventTypeXidCriticalError = pynvml.nvmlEventTypeXidCriticalError

    def __init__(self, gpus: Sequence[FakeGpu] = (), init_error: int | None = None) -> None:
        self.gpus = list(gpus)
        self.init_error = init_error
        self.xid_events: list[tuple[int, int]] = []
        """(gpu index, xid) waiting in the event set."""

    def _fail(self, code: int) -> Any:
        raise pynvml.NVMLError(code)

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            self._fail(self.init_error)

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        return self.gpus[index]

    def nvmlDeviceGetUUID(self, gpu: FakeGpu) -> str:
        return gpu.uuid

    def nvmlDeviceGetName(self, gpu: FakeGpu) -> str:
        return gpu.name

    def nvmlDeviceGetMemoryInfo(self, gpu: FakeGpu) -> Any:
        return SimpleNamespace(total=gpu.total, free=gpu.free, used=gpu.total - gpu.free)

    def nvmlDeviceGetPciInfo(self, gpu: FakeGpu) -> Any:
        return SimpleNamespace(busId=gpu.bus_id)

    def nvmlDeviceGetCudaComputeCapability(self, gpu: FakeGpu) -> tuple[int, int]:
        return gpu.capability

    def nvmlDeviceGetTemperature(self, gpu: FakeGpu, sensor: int) -> int:
        return gpu.temperature

    def nvmlDeviceGetPowerUsage(self, gpu: FakeGpu) -> int:
        return gpu.power_mw

    def nvmlDeviceGetUtilizationRates(self, gpu: FakeGpu) -> Any:
        return SimpleNamespace(gpu=gpu.utilization, memory=0)

    def nvmlDeviceGetClockInfo(self, gpu: FakeGpu, clock: int) -> int:
        return gpu.sm_clock_mhz

    def nvmlDeviceGetMaxClockInfo(self, gpu: FakeGpu, clock: int) -> int:
        return gpu.max_sm_clock_mhz

    def nvmlDeviceGetMigMode(self, gpu: FakeGpu) -> tuple[int, int]:
        return gpu.mig if gpu.mig is not None else self._fail(pynvml.NVML_ERROR_NOT_SUPPORTED)

    def nvmlDeviceGetTotalEccErrors(self, gpu: FakeGpu, kind: int, counter: int) -> int:
        return gpu.ecc[kind]

    def nvmlDeviceGetRemappedRows(self, gpu: FakeGpu) -> tuple[int, int, int, int]:
        if gpu.remapped is None:
            return self._fail(pynvml.NVML_ERROR_NOT_SUPPORTED)  # type: ignore[no-any-return]
        return gpu.remapped

    def nvmlDeviceGetRetiredPages(self, gpu: FakeGpu, cause: int) -> list[int]:
        return []

    def nvmlDeviceGetRetiredPagesPendingStatus(self, gpu: FakeGpu) -> int:
        return 0

    def nvmlDeviceGetCurrentClocksEventReasons(self, gpu: FakeGpu) -> int:
        return gpu.clock_reasons

    def nvmlDeviceGetNvLinkState(self, gpu: FakeGpu, link: int) -> int:
        if link in gpu.nvlinks:
            return 1
        return self._fail(pynvml.NVML_ERROR_NOT_SUPPORTED)  # type: ignore[no-any-return]

    def nvmlDeviceGetNvLinkRemotePciInfo(self, gpu: FakeGpu, link: int) -> Any:
        return SimpleNamespace(busId=gpu.nvlinks[link])

    def nvmlDeviceGetP2PStatus(self, a: FakeGpu, b: FakeGpu, index: int) -> int:
        return a.p2p

    def nvmlEventSetCreate(self) -> str:
        return "event-set"

    def nvmlDeviceRegisterEvents(self, gpu: FakeGpu, kinds: int, event_set: str) -> None:
        return None

    def nvmlEventSetWait(self, event_set: str, timeout_ms: int) -> Any:
        if not self.xid_events:
            return self._fail(pynvml.NVML_ERROR_TIMEOUT)
        index, xid = self.xid_events.pop(0)
        return SimpleNamespace(device=self.gpus[index], eventData=xid)


class FixtureRunner:
    """A Runner answering from recorded outputs: argv (joined by spaces) -> text, or an error."""

    def __init__(self, answers: Mapping[str, str | ToolError]) -> None:
        self.answers = dict(answers)
        self.calls: list[str] = []

    def __call__(self, argv: Sequence[str], timeout: float) -> str:
        key = " ".join(argv)
        self.calls.append(key)
        answer = self.answers.get(key)
        if answer is None:
            raise ToolError(f"'{key}' has no recorded output")
        if isinstance(answer, ToolError):
            raise answer
        return answer
