"""Calibration: measured throughput and bandwidth replace datasheet figures, both kept on record.

A CalibrationRecord is what one micro-benchmark run on one device measured. Applying records to
a ProfileDatabase replaces the figure of that model (the device class) in that precision, and
keeps the datasheet figure it replaced under `datasheet`. When several records cover the same
model and precision, the most recent one wins.

`measure` runs the micro-benchmark with PyTorch (an optional dependency: the `bench` extra):
a square matmul for throughput, a device-to-device copy for memory bandwidth.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from hcs_exchange.errors import ExchangeError
from hcs_exchange.profiles import Figure, Precision, ProfileDatabase, Source, measured_source_id

NonNegative = Annotated[Decimal, Field(ge=0)]


class CalibrationRecord(BaseModel):
    """What one benchmark run measured on one device."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    device_id: str
    """The device's stable id (a GPU UUID) or 'cpu'."""
    date: date
    precision: Precision
    measured_tflops: NonNegative
    measured_bandwidth_gbps: NonNegative | None = None
    matrix_size: int = Field(gt=0)
    command: str
    """The command line that produced this record."""
    environment: str = ""
    """Library and driver versions."""


def apply_calibration(
    database: ProfileDatabase, records: Iterable[CalibrationRecord]
) -> ProfileDatabase:
    """The database with measured figures in place of datasheet ones, both kept."""
    latest: dict[tuple[str, Precision], CalibrationRecord] = {}
    for record in records:
        key = (database.get(record.model).model, record.precision)
        if key not in latest or record.date >= latest[key].date:
            latest[key] = record
    sources = dict(database.sources)
    profiles = {p.model: p for p in database.profiles}
    for (model, precision), record in sorted(latest.items(), key=lambda item: item[1].date):
        source_id = measured_source_id(record.device_id, record.date)
        sources[source_id] = Source(
            title=f"hcs-exchange calibrate on {record.device_id} ({record.environment})",
            publisher="HCS calibration",
            year=record.date.year,
        )
        profile = profiles[model]
        throughput = dict(profile.throughput)
        throughput[precision] = _measured(
            record.measured_tflops, source_id, record, throughput.get(precision)
        )
        update: dict[str, Any] = {"throughput": throughput}
        if record.measured_bandwidth_gbps is not None:
            update["memory_bandwidth_gbps"] = _measured(
                record.measured_bandwidth_gbps, source_id, record, profile.memory_bandwidth_gbps
            )
        profiles[model] = profile.model_copy(update=update)
    return ProfileDatabase(sources=sources, profiles=list(profiles.values()))


def _measured(
    value: Decimal, source_id: str, record: CalibrationRecord, replaced: Figure | None
) -> Figure:
    datasheet = replaced.datasheet if replaced and replaced.datasheet else replaced
    return Figure(
        value=value,
        source=source_id,
        note=f"measured {record.date} with matrix size {record.matrix_size}: {record.command}",
        datasheet=datasheet,
    )


# -- the micro-benchmark --------------------------------------------------------------------


def matmul_tflops(size: int, repeats: int, seconds: float) -> Decimal:
    """Throughput of `repeats` square matmuls of `size` (2 n^3 operations each) in `seconds`."""
    if seconds <= 0:
        raise ExchangeError(f"benchmark time {seconds} s is not positive")
    return Decimal(2 * size**3 * repeats) / Decimal(repr(seconds)) / Decimal(10**12)


def copy_bandwidth_gbps(nbytes: int, repeats: int, seconds: float) -> Decimal:
    """Memory bandwidth of `repeats` copies of `nbytes` (each reads and writes them)."""
    if seconds <= 0:
        raise ExchangeError(f"benchmark time {seconds} s is not positive")
    return Decimal(2 * nbytes * repeats) / Decimal(repr(seconds)) / Decimal(10**9)


_TORCH_DTYPES = {
    Precision.FP32: "float32",
    Precision.TF32: "float32",
    Precision.FP16: "float16",
    Precision.BF16: "bfloat16",
}


def measure(
    model: str,
    precision: Precision = Precision.FP16,
    device: str = "cuda:0",
    size: int = 8192,
    repeats: int = 20,
    copy_bytes: int = 1 << 30,
    clock: Callable[[], float] = time.perf_counter,
    today: date | None = None,
    command: str = "hcs_exchange.calibration.measure()",
) -> CalibrationRecord:
    """Run the micro-benchmark on `device` with PyTorch and return what it measured."""
    try:
        import torch
    except ImportError:
        raise ExchangeError(
            "the benchmark needs PyTorch: pip install 'hcs-exchange[bench]'"
        ) from None
    if precision not in _TORCH_DTYPES:
        raise ExchangeError(f"the benchmark measures {', '.join(_TORCH_DTYPES)}, not {precision}")
    target = torch.device(device)
    if target.type == "cuda" and not torch.cuda.is_available():
        raise ExchangeError(f"{device}: PyTorch sees no CUDA device on this machine")
    dtype = getattr(torch, _TORCH_DTYPES[precision])

    def sync() -> None:
        if target.type == "cuda":
            torch.cuda.synchronize(target)

    previous_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = precision is Precision.TF32
    try:
        a = torch.randn(size, size, device=target).to(dtype)
        b = torch.randn(size, size, device=target).to(dtype)
        torch.matmul(a, b)  # warm-up: kernels chosen, clocks up
        sync()
        start = clock()
        for _ in range(repeats):
            torch.matmul(a, b)
        sync()
        tflops = matmul_tflops(size, repeats, clock() - start)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous_tf32
    source = torch.empty(copy_bytes, dtype=torch.uint8, device=target)
    dest = torch.empty_like(source)
    dest.copy_(source)
    sync()
    start = clock()
    for _ in range(repeats):
        dest.copy_(source)
    sync()
    bandwidth = copy_bandwidth_gbps(copy_bytes, repeats, clock() - start)
    return CalibrationRecord(
        model=model,
        device_id=_device_id(torch, target),
        date=today or date.today(),
        precision=precision,
        measured_tflops=_significant(tflops),
        measured_bandwidth_gbps=_significant(bandwidth),
        matrix_size=size,
        command=command,
        environment=_environment(torch, target),
    )


def _significant(value: Decimal, digits: int = 5) -> Decimal:
    """`value` to `digits` significant digits: a CPU's 0.004 TFLOPS and an H100's 712.34 alike."""
    return value.quantize(Decimal(1).scaleb(value.adjusted() - digits + 1))


def _device_id(torch: Any, target: Any) -> str:
    if target.type != "cuda":
        return str(target.type)
    properties = torch.cuda.get_device_properties(target)
    uuid = getattr(properties, "uuid", None)
    return f"GPU-{uuid}" if uuid is not None else f"cuda:{target.index or 0}"


def _environment(torch: Any, target: Any) -> str:
    parts = [f"torch {torch.__version__}", f"python {platform.python_version()}"]
    if target.type == "cuda":
        parts += [f"cuda {torch.version.cuda}", torch.cuda.get_device_name(target)]
    else:
        parts.append(platform.processor() or platform.machine())
    return ", ".join(parts)
