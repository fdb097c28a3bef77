"""Optional start-up calibration: hcs-exchange's micro-benchmark on one device per NVIDIA model,
its measured throughput reported next to the datasheet's (both stay on record in the profile)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hcs_agent.model import DeviceInfo
from hcs_exchange import (
    ExchangeError,
    Precision,
    ProfileDatabase,
    UnknownModelError,
    apply_calibration,
    measure,
)


def calibrate(
    database: ProfileDatabase,
    devices: Iterable[DeviceInfo],
    run: Callable[..., Any] = measure,
) -> tuple[ProfileDatabase, list[str]]:
    """The database with measured figures applied, and one line per model saying what happened."""
    chosen: dict[str, str] = {}
    for info in devices:
        if info.vendor != "nvidia":
            continue  # the benchmark runs on PyTorch's CUDA devices only
        try:
            chosen.setdefault(database.get(info.name).model, info.index)
        except UnknownModelError:
            continue
    records, notes = [], []
    for model, index in chosen.items():
        try:
            records.append(
                run(model, Precision.FP16, device=f"cuda:{index}", command="hcs-agent --calibrate")
            )
        except ExchangeError as error:
            notes.append(f"{model}: not calibrated: {error}")
    calibrated = apply_calibration(database, records)
    for record in records:
        figure = calibrated.get(record.model).throughput[record.precision]
        datasheet = figure.datasheet.value if figure.datasheet else None
        notes.append(
            f"{record.model} {record.precision}: measured {record.measured_tflops} TFLOPS, "
            f"datasheet {datasheet if datasheet is not None else 'unknown'}"
        )
    return calibrated, notes
