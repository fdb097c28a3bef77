"""The NVML detector on a fake NVML with recorded H100 values: fingerprint, links, health."""

from __future__ import annotations

import ctypes.util

import pynvml
import pytest

from hcs_agent.detect.nvidia import NvidiaDetector
from hcs_agent.testing import FakeGpu, FakeNvml, recorded_h100


def test_recorded_h100_fingerprint() -> None:
    detection = NvidiaDetector(FakeNvml([recorded_h100()]), numa_of=lambda bus: None).detect()
    assert detection.error is None
    (gpu,) = detection.devices
    assert (gpu.index, gpu.uuid) == ("0", "GPU-c1d58cb8-895b-8f60-65c0-c9f274b2d3f6")
    assert gpu.name == "NVIDIA H100 80GB HBM3"
    assert (gpu.vram_bytes, gpu.vram_free_bytes) == (81559 * 2**20, 81079 * 2**20)
    assert gpu.pci_bus_id == "0000:00:06.0"  # NVML's 8-digit domain, as sysfs spells it
    assert (gpu.compute_capability, gpu.mig_enabled) == ("9.0", False)
    assert (gpu.temperature_c, gpu.power_w) == (36.0, 74.13)
    assert gpu.health.throttle_reasons == ()  # "Idle" is not trouble
    assert gpu.links == ()


def _pair() -> list[FakeGpu]:
    a = FakeGpu("GPU-a", "NVIDIA H100 80GB HBM3", "00000000:18:00.0", 80 * 2**30, 80 * 2**30)
    b = FakeGpu("GPU-b", "NVIDIA H100 80GB HBM3", "00000000:2A:00.0", 80 * 2**30, 80 * 2**30)
    a.nvlinks = dict.fromkeys(range(18), b.bus_id)
    b.nvlinks = dict.fromkeys(range(18), a.bus_id)
    return [a, b]


def test_nvlink_peers_are_counted_per_pair() -> None:
    detection = NvidiaDetector(FakeNvml(_pair())).detect()
    (link,) = detection.devices[0].links
    assert (link.peer, link.links, link.p2p) == ("1", 18, True)


def test_ecc_remap_throttle_and_xid_reach_health_signals() -> None:
    gpus = _pair()
    gpus[1].ecc = (353, 2)
    gpus[1].remapped = (1, 0, 1, 0)
    gpus[1].clock_reasons = 0x40 | 0x4  # hardware thermal slowdown + software power cap
    nvml = FakeNvml(gpus)
    nvml.xid_events = [(1, 48), (1, 63)]
    detector = NvidiaDetector(nvml)
    signals = detector.detect().devices[1].health
    assert (signals.ecc_correctable, signals.ecc_uncorrectable) == (353, 2)
    assert (signals.retired_pages, signals.retirement_pending) == (1, True)
    assert signals.throttle_reasons == ("hw_thermal",)
    assert signals.xids == (48, 63)
    assert detector.detect().devices[1].health.xids == ()  # drained: reported once


def test_pre_ampere_gpu_without_remapping_or_mig_still_detects() -> None:
    old = FakeGpu("GPU-v", "Tesla V100-SXM2-16GB", "00000000:00:04.0", 16 * 2**30, 16 * 2**30)
    old.remapped, old.mig = None, None
    (gpu,) = NvidiaDetector(FakeNvml([old])).detect().devices
    assert (gpu.mig_enabled, gpu.health.retired_pages) == (None, 0)


@pytest.mark.parametrize(
    ("nvml", "reason"),
    [
        (FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND), "NVML library not found"),
        (FakeNvml(init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED), "driver not loaded"),
        (FakeNvml([]), "NVML sees none"),
    ],
    ids=["no-library", "no-driver", "no-devices"],
)
def test_no_nvidia_devices_is_a_result_not_a_crash(nvml: FakeNvml, reason: str) -> None:
    detection = NvidiaDetector(nvml).detect()
    assert detection.absent
    assert detection.error is not None
    assert detection.error.startswith("no NVIDIA devices")
    assert reason in detection.error


def test_other_nvml_failure_is_an_error() -> None:
    detection = NvidiaDetector(FakeNvml(init_error=pynvml.NVML_ERROR_NO_PERMISSION)).detect()
    assert not detection.absent
    assert detection.error is not None
    assert "NVML" in detection.error


@pytest.mark.skipif(
    ctypes.util.find_library("nvidia-ml") is not None, reason="this machine has libnvidia-ml"
)
def test_real_pynvml_without_the_library_reports_no_devices() -> None:
    detection = NvidiaDetector().detect()
    assert detection.absent
    assert detection.error == "no NVIDIA devices (NVML library not found)"


def test_nvswitch_board_makes_every_pair_peers() -> None:
    gpus = [
        FakeGpu(f"GPU-{i}", "NVIDIA H100 80GB HBM3", f"00000000:{0x18 + i:02X}:00.0", 2**30, 2**30)
        for i in range(4)
    ]
    for gpu in gpus:  # every link ends on an NVSwitch, whose PCI address is no GPU's
        gpu.nvlinks = {n: f"00000000:{0xA0 + n % 4:02X}:00.0" for n in range(18)}
    gpus[3].nvlinks = {n: gpus[3].nvlinks[n] for n in range(12)}  # a GPU with 6 links down
    devices = NvidiaDetector(FakeNvml(gpus)).detect().devices
    assert [(link.peer, link.links) for link in devices[0].links] == [
        ("1", 18),
        ("2", 18),
        ("3", 12),
    ]
    assert [link.peer for link in devices[3].links] == ["0", "1", "2"]
