"""--calibrate: a measured figure replaces the datasheet's in the report; a failed run says why."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hcs_agent.calibrate import calibrate
from hcs_agent.model import DeviceInfo
from hcs_exchange import CalibrationRecord, ExchangeError, Precision, load_database

H100 = DeviceInfo("nvidia", "0", "GPU-0", "NVIDIA H100 80GB HBM3", vram_bytes=80 * 2**30)
NPU = DeviceInfo("ascend", "0", "NPU-0", "910B3", vram_bytes=64 * 2**30)


def test_measured_throughput_is_reported_beside_the_datasheet() -> None:
    asked: list[tuple[str, str]] = []

    def run(model: str, precision: Precision, device: str, command: str) -> CalibrationRecord:
        asked.append((model, device))
        return CalibrationRecord(model=model, device_id="GPU-0", date=date(2026, 11, 23),
                                 precision=precision, measured_tflops=Decimal("712.5"),
                                 matrix_size=8192, command=command)  # fmt: skip

    database, notes = calibrate(load_database(), [H100, H100, NPU], run)
    assert asked == [("H100-SXM5-80G", "cuda:0")]  # once per NVIDIA model, never on the NPU
    assert database.get("H100-SXM5-80G").tflops(Precision.FP16) == Decimal("712.5")
    assert notes == ["H100-SXM5-80G fp16: measured 712.5 TFLOPS, datasheet 989.5"]


def test_a_failed_benchmark_keeps_the_datasheet() -> None:
    def run(*args: Any, **kwargs: Any) -> CalibrationRecord:
        raise ExchangeError("the benchmark needs PyTorch: pip install 'hcs-exchange[bench]'")

    database, notes = calibrate(load_database(), [H100], run)
    assert database.get("H100-SXM5-80G").tflops(Precision.FP16) == Decimal("989.5")
    (note,) = notes
    assert note.startswith("H100-SXM5-80G: not calibrated: the benchmark needs PyTorch")
