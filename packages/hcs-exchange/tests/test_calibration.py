"""Measured figures replace datasheet ones, both on record; the CPU benchmark measures for real."""

import itertools
import platform
import sys
import types
from datetime import date
from decimal import Decimal

import numpy as np
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


def test_cpu_benchmark_runs_for_real_with_numpy_alone(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # the CPU path must not need PyTorch
    record = measure(
        "A10", device="cpu", size=128, repeats=3, copy_bytes=1 << 20, today=date(2026, 11, 23)
    )
    assert record.model == "A10"
    assert record.device_id == "cpu"
    assert record.precision is Precision.FP32  # the CPU's default
    assert record.matrix_size == 128
    assert record.date == date(2026, 11, 23)
    assert record.measured_tflops > 0
    assert record.measured_bandwidth_gbps > 0
    assert record.environment.startswith(
        f"numpy {np.__version__}, python {platform.python_version()}, "
    )


def test_cpu_benchmark_turns_timings_into_figures():
    ticks = itertools.count(0.0, 0.5)  # every timed section takes 0.5 s
    record = measure(
        "A10",
        Precision.FP32,
        device="cpu",
        size=100,
        repeats=2,
        copy_bytes=4000,
        clock=lambda: next(ticks),
        command="hcs-exchange calibrate --model A10 --device cpu",
    )
    # 2 matmuls of 2 * 100^3 operations in 0.5 s; 2 copies reading and writing 4000 bytes.
    assert record.measured_tflops == Decimal("0.0000080000")
    assert record.measured_bandwidth_gbps == Decimal("0.000032000")
    assert record.command == "hcs-exchange calibrate --model A10 --device cpu"


@pytest.mark.parametrize(
    "precision",
    [Precision.FP16, Precision.BF16, Precision.TF32, Precision.INT8],
    ids=["fp16-emulated", "bf16-absent", "tf32-gpu-only", "int8"],
)
def test_cpu_benchmark_refuses_what_numpy_cannot_measure(precision):
    with pytest.raises(ExchangeError, match=f"measures fp32, not {precision}:"):
        measure("A10", precision, device="cpu", size=64, repeats=1, copy_bytes=64)


def test_gpu_benchmark_without_torch_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ExchangeError) as caught:
        measure("H100", device="cuda:0")
    message = str(caught.value)
    assert message.startswith("measuring cuda:0 needs PyTorch built for it: ")
    assert "pip install 'hcs-exchange[bench]' with a CUDA build of torch" in message
    assert "--device cpu measures the CPU with numpy alone" in message


class _FakeTorch:
    """Just enough of PyTorch's API for the GPU path, recording what it was asked to do."""

    __version__ = "2.13.0"
    float32, float16, bfloat16, uint8 = "float32", "float16", "bfloat16", "uint8"

    def __init__(self, cuda_available=True):
        self.calls = []
        self.version = types.SimpleNamespace(cuda="13.0")
        matmul_flags = types.SimpleNamespace(allow_tf32=False)
        self.backends = types.SimpleNamespace(cuda=types.SimpleNamespace(matmul=matmul_flags))
        self.cuda = types.SimpleNamespace(
            is_available=lambda: cuda_available,
            synchronize=lambda target: self.calls.append("sync"),
            get_device_properties=lambda target: types.SimpleNamespace(uuid="b42dd28e"),
            get_device_name=lambda target: "NVIDIA H100 80GB HBM3",
        )

    def device(self, name):
        kind, _, index = name.partition(":")
        return types.SimpleNamespace(type=kind, index=int(index or 0))

    def _tensor(self):
        return types.SimpleNamespace(
            to=lambda dtype: self.calls.append(f"to {dtype}") or self._tensor(),
            copy_=lambda source: self.calls.append("copy"),
        )

    def randn(self, *shape, device):
        return self._tensor()

    def empty(self, size, dtype, device):
        return self._tensor()

    def empty_like(self, tensor):
        return self._tensor()

    def matmul(self, a, b):
        self.calls.append(f"matmul tf32={self.backends.cuda.matmul.allow_tf32}")


def test_gpu_benchmark_drives_torch_and_records_the_device(monkeypatch):
    torch = _FakeTorch()
    monkeypatch.setitem(sys.modules, "torch", torch)
    ticks = itertools.count(0.0, 0.25)
    record = measure(
        "H100", Precision.TF32, size=1000, repeats=2, copy_bytes=10**9, clock=lambda: next(ticks)
    )
    # An untimed warm-up, then the clock runs between two synchronisations; tf32 on for tf32.
    assert torch.calls == [
        *["to float32"] * 2,
        "matmul tf32=True",
        "sync",
        *["matmul tf32=True"] * 2,
        "sync",
        "copy",
        "sync",
        *["copy"] * 2,
        "sync",
    ]
    assert torch.backends.cuda.matmul.allow_tf32 is False  # restored
    assert record.device_id == "GPU-b42dd28e"
    assert record.precision is Precision.TF32
    assert record.measured_tflops == Decimal("0.016")  # 2 * 2 * 10^9 operations in 0.25 s
    assert record.measured_bandwidth_gbps == 16  # 2 * 2 * 10^9 bytes in 0.25 s
    assert record.environment.startswith("torch 2.13.0, python ")
    assert record.environment.endswith(", cuda 13.0, NVIDIA H100 80GB HBM3")


def test_gpu_benchmark_defaults_to_fp16_and_refuses_int8(monkeypatch):
    torch = _FakeTorch()
    monkeypatch.setitem(sys.modules, "torch", torch)
    record = measure("H100", size=64, repeats=1, copy_bytes=64)
    assert record.precision is Precision.FP16
    assert torch.calls[:2] == ["to float16"] * 2
    assert "matmul tf32=False" in torch.calls
    with pytest.raises(ExchangeError, match="measures fp32, tf32, fp16, bf16, not int8"):
        measure("H100", Precision.INT8)


def test_gpu_benchmark_on_a_machine_without_cuda_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", _FakeTorch(cuda_available=False))
    with pytest.raises(ExchangeError, match="cuda:1: PyTorch sees no CUDA device on this machine"):
        measure("H100", device="cuda:1")
