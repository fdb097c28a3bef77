"""Calibration: measured throughput and bandwidth replace datasheet figures, both kept on record.

A CalibrationRecord is what one micro-benchmark run on one device measured. Applying records to
a ProfileDatabase replaces the figure of that model (the device class) in that precision, and
keeps the datasheet figure it replaced under `datasheet`. When several records cover the same
model and precision, the most recent one wins.

`measure` runs the micro-benchmark (hcs_exchange._bench): a square matmul for throughput and a
large copy for memory bandwidth, with numpy on the CPU (`device="cpu"`, fp32) and with PyTorch on
an accelerator (an optional dependency: the `bench` extra, with a CUDA build of torch).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from hcs_exchange._bench import (
    CPU,
    copy_bandwidth_gbps,
    matmul_tflops,
    numpy_benchmark,
    torch_benchmark,
)
from hcs_exchange.profiles import Figure, Precision, ProfileDatabase, Source, measured_source_id

__all__ = [
    "CalibrationRecord",
    "apply_calibration",
    "copy_bandwidth_gbps",
    "default_precision",
    "matmul_tflops",
    "measure",
]

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


def default_precision(device: str) -> Precision:
    """What `measure` measures unless told: fp32 on the CPU (numpy), fp16 on an accelerator."""
    return Precision.FP32 if device == CPU else Precision.FP16


def measure(
    model: str,
    precision: Precision | None = None,
    device: str = "cuda:0",
    size: int = 8192,
    repeats: int = 20,
    copy_bytes: int = 1 << 30,
    clock: Callable[[], float] = time.perf_counter,
    today: date | None = None,
    command: str = "hcs_exchange.calibration.measure()",
) -> CalibrationRecord:
    """Run the micro-benchmark on `device` and return what it measured.

    `device="cpu"` measures the CPU with numpy (fp32 only); any other device (cuda:0, ...)
    is measured with PyTorch, which must be installed (the `bench` extra) with a build for it.
    """
    chosen = precision or default_precision(device)
    if device == CPU:
        measured = numpy_benchmark(chosen, size, repeats, copy_bytes, clock)
    else:
        measured = torch_benchmark(device, chosen, size, repeats, copy_bytes, clock)
    return CalibrationRecord(
        model=model,
        device_id=measured.device_id,
        date=today or date.today(),
        precision=chosen,
        measured_tflops=_significant(measured.tflops),
        measured_bandwidth_gbps=_significant(measured.bandwidth_gbps),
        matrix_size=size,
        command=command,
        environment=measured.environment,
    )


def _significant(value: Decimal, digits: int = 5) -> Decimal:
    """`value` to `digits` significant digits: a CPU's 0.004 TFLOPS and an H100's 712.34 alike."""
    return value.quantize(Decimal(1).scaleb(value.adjusted() - digits + 1))
