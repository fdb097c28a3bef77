"""Measured figures replace datasheet ones with both on record; the benchmark measures for real."""

import sys
from datetime import date
from decimal import Decimal

import pytest

from hcs_exchange import (
    CalibrationRecord,
    Exchange,
    ExchangeError,
    Precision,
    apply_calibration,
    measure,
)
from hcs_exchange.calibration import copy_bandwidth_gbps, matmul_tflops


def _record(**changes):
    fields = {
        "model": "NVIDIA H100 80GB HBM3",
        "device_id": "GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1",
        "date": date(2026, 11, 1),
        "precision": "fp16",
        "measured_tflops": "700",
        "measured_bandwidth_gbps": "2900",
        "matrix_size": 8192,
        "command": "hcs-exchange calibrate --model H100-SXM5-80G",
        "environment": "torch 2.11, cuda 13.0",
    }
    return CalibrationRecord.model_validate(fields | changes)


def test_measured_figure_replaces_the_datasheet_and_keeps_it(database):
    calibrated = apply_calibration(database, [_record()])
    figure = calibrated.get("H100-SXM5-80G").throughput[Precision.FP16]
    assert figure.value == Decimal(700)
    assert figure.datasheet.value == Decimal("989.5")
    assert figure.datasheet.source == "nvidia-h100-datasheet-2023"
    assert calibrated.sources[figure.source].publisher == "HCS calibration"
    bandwidth = calibrated.get("H100-SXM5-80G").memory_bandwidth_gbps
    assert (bandwidth.value, bandwidth.datasheet.value) == (Decimal(2900), Decimal(3350))
    # Other precisions and models are untouched, and the rate follows the measurement.
    assert (
        calibrated.get("H100-SXM5-80G").throughput[Precision.FP32]
        == database.get("H100").throughput[Precision.FP32]
    )
    assert Exchange(calibrated).rate("H100", Precision.FP16) * 312 == 700


def test_latest_record_wins_and_the_datasheet_stays_the_original(database):
    older = _record(measured_tflops="650", date=date(2026, 10, 1))
    newer = _record(measured_tflops="720", date=date(2026, 11, 20))
    calibrated = apply_calibration(database, [newer, older])
    figure = calibrated.get("H100").throughput[Precision.FP16]
    assert figure.value == 720
    twice = apply_calibration(calibrated, [_record(measured_tflops="710", date=date(2026, 11, 21))])
    assert twice.get("H100").throughput[Precision.FP16].datasheet.value == Decimal("989.5")


def test_record_for_unknown_model_is_an_error(database):
    with pytest.raises(ExchangeError, match="unknown model 'H1000'"):
        apply_calibration(database, [_record(model="H1000")])


@pytest.mark.parametrize(
    ("size", "repeats", "seconds", "expected"),
    [(8192, 20, 1.0, Decimal("21.99023255552")), (1000, 1, 0.002, Decimal(1))],
    ids=["h100-scale", "one-teraflop"],
)
def test_matmul_throughput_arithmetic(size, repeats, seconds, expected):
    assert matmul_tflops(size, repeats, seconds) == expected


def test_copy_bandwidth_counts_read_and_write():
    assert copy_bandwidth_gbps(10**9, 3, 2.0) == Decimal(3)
    with pytest.raises(ExchangeError, match="not positive"):
        copy_bandwidth_gbps(1, 1, 0.0)


def test_benchmark_runs_for_real_on_the_cpu():
    pytest.importorskip("torch", reason="PyTorch is not installed (the bench extra)")
    record = measure(
        "A10",
        Precision.FP32,
        device="cpu",
        size=128,
        repeats=3,
        copy_bytes=1 << 20,
        today=date(2026, 11, 23),
    )
    assert record.device_id == "cpu"
    assert record.measured_tflops > 0
    assert record.measured_bandwidth_gbps > 0
    assert record.date == date(2026, 11, 23)
    assert "torch" in record.environment


def test_benchmark_on_missing_cuda_says_so():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (the bench extra)")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(ExchangeError, match="PyTorch sees no CUDA device"):
        measure("H100", device="cuda:0")


def test_benchmark_without_torch_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ExchangeError, match=r"pip install 'hcs-exchange\[bench\]'"):
        measure("H100", device="cpu")
