"""Alibaba's GPU cluster trace (the "openb" CSVs behind the FGD paper) as nodes and tasks.

Node list: sn, cpu_milli, memory_mib, gpu, model. Pod list: name, cpu_milli, memory_mib,
num_gpu, gpu_milli and, in most lists, gpu_spec ('|'-separated allowed models), qos,
pod_phase, creation_time, deletion_time, scheduled_time. Trace model names map to hcs-exchange
profiles through their aliases (P100, T4, V100M16, V100M32, A10); the undisclosed G1-G3 keep
their trace name. A bad row is an InputError naming file, line and reason; with
`on_error="skip"` it is recorded and the rest is read.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hcs_exchange import ExchangeError, ProfileDatabase
from hcs_scheduler.cluster import FULL_SHARE, Cluster, DeviceSpec, NodeSpec
from hcs_scheduler.errors import InputError
from hcs_scheduler.request import PlacementRequest, uniform_request

NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
UNDISCLOSED = "undisclosed"


@dataclass
class ReadReport:
    """Rows skipped and things worth a warning, each naming file and line."""

    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TraceTask:
    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int
    gpu_milli: int
    gpu_spec: tuple[str, ...]
    """Allowed models (profile names); empty means any."""
    creation: int | None = None
    deletion: int | None = None
    scheduled: int | None = None
    phase: str = ""

    @property
    def gpu_demand(self) -> float:
        """Devices this task asks for (fractional for a share)."""
        return float(self.num_gpu) if self.num_gpu != 1 else self.gpu_milli / FULL_SHARE

    def request(self, cluster: Cluster) -> PlacementRequest:
        allowed = None
        if self.gpu_spec:
            allowed = [cluster.models.index(m) for m in self.gpu_spec if m in cluster.models]
        whole = self.num_gpu if (self.num_gpu > 1 or self.gpu_milli >= FULL_SHARE) else 0
        return uniform_request(
            self.name,
            len(cluster.models),
            cpu_milli=self.cpu_milli,
            memory_mib=self.memory_mib,
            whole=whole,
            share=self.gpu_milli if not whole and self.num_gpu else 0,
            allowed=allowed,
        )


def model_name(trace_name: str, profiles: ProfileDatabase) -> tuple[str, str]:
    """(profile name, vendor) of a trace model; undisclosed models keep their trace name."""
    try:
        profile = profiles.get(trace_name)
    except ExchangeError:
        return trace_name, UNDISCLOSED
    return profile.model, profile.vendor


def read_nodes(
    path: Path, profiles: ProfileDatabase, on_error: str = "stop", report: ReadReport | None = None
) -> list[NodeSpec]:
    report = report if report is not None else ReadReport()
    nodes: list[NodeSpec] = []
    unknown: set[str] = set()
    for line, row in _rows(path, NODE_COLUMNS):
        try:
            count = _integer(row, "gpu", path, line)
            trace_model = (row.get("model") or "").strip()
            if count and not trace_model:
                raise InputError(f"{path}:{line}: {count} GPUs but no model")
            model, vendor = model_name(trace_model, profiles) if count else ("", "")
            if vendor == UNDISCLOSED:
                unknown.add(trace_model)
            vram = _vram(profiles, model) if count else 0
            devices = tuple(
                DeviceSpec(id=str(i), model=model, vendor=vendor, vram=vram) for i in range(count)
            )
            nodes.append(
                NodeSpec(
                    name=row["sn"],
                    devices=devices,
                    cpu_milli=_integer(row, "cpu_milli", path, line),
                    memory_mib=_integer(row, "memory_mib", path, line),
                )
            )
        except InputError as error:
            _handle(error, on_error, report)
    for name in sorted(unknown):
        report.warnings.append(
            f"{path}: model {name} has no hcs-exchange profile (undisclosed in the trace); it is "
            "simulated by name only — describe it with an overrides file to convert to it"
        )
    if not nodes:
        raise InputError(f"{path}: no nodes")
    return nodes


def read_tasks(
    path: Path, profiles: ProfileDatabase, on_error: str = "stop", report: ReadReport | None = None
) -> list[TraceTask]:
    report = report if report is not None else ReadReport()
    tasks: list[TraceTask] = []
    for line, row in _rows(path, POD_COLUMNS):
        try:
            tasks.append(_task(row, path, line, profiles))
        except InputError as error:
            _handle(error, on_error, report)
    if not tasks:
        raise InputError(f"{path}: no tasks")
    return tasks


def _task(row: dict[str, str], path: Path, line: int, profiles: ProfileDatabase) -> TraceTask:
    num_gpu = _integer(row, "num_gpu", path, line)
    gpu_milli = _integer(row, "gpu_milli", path, line)
    if gpu_milli > FULL_SHARE:
        raise InputError(
            f"{path}:{line}: gpu_milli {gpu_milli} is more than one GPU ({FULL_SHARE})"
        )
    if num_gpu > 1 and gpu_milli != FULL_SHARE:
        raise InputError(
            f"{path}:{line}: {num_gpu} GPUs must be whole (gpu_milli {FULL_SHARE}), not {gpu_milli}"
        )
    if num_gpu == 1 and gpu_milli == 0:
        raise InputError(f"{path}:{line}: one GPU with gpu_milli 0")
    spec = tuple(
        model_name(name.strip(), profiles)[0]
        for name in (row.get("gpu_spec") or "").split("|")
        if name.strip()
    )
    return TraceTask(
        name=row["name"],
        cpu_milli=_integer(row, "cpu_milli", path, line),
        memory_mib=_integer(row, "memory_mib", path, line),
        num_gpu=num_gpu,
        gpu_milli=gpu_milli if num_gpu else 0,
        gpu_spec=spec,
        creation=_optional_integer(row, "creation_time", path, line),
        deletion=_optional_integer(row, "deletion_time", path, line),
        scheduled=_optional_integer(row, "scheduled_time", path, line),
        phase=(row.get("pod_phase") or "").strip(),
    )


def _vram(profiles: ProfileDatabase, model: str) -> int:
    try:
        value = profiles.get(model).vram.value
    except ExchangeError:
        return 0
    return value.ceil() if value is not None else 0


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(newline="")
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}:1: missing column(s) {', '.join(missing)}")
        for row in reader:
            if None in row:
                raise InputError(f"{path}:{reader.line_num}: more fields than the header has")
            yield reader.line_num, row


def _integer(row: dict[str, str], column: str, path: Path, line: int) -> int:
    raw = (row.get(column) or "").strip()
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{path}:{line}: {column} is {raw!r}, not a whole number") from None
    if value < 0:
        raise InputError(f"{path}:{line}: {column} is negative ({value})")
    return value


def _optional_integer(row: dict[str, str], column: str, path: Path, line: int) -> int | None:
    return _integer(row, column, path, line) if (row.get(column) or "").strip() else None


def _handle(error: InputError, on_error: str, report: ReadReport) -> None:
    if on_error == "stop":
        raise error
    report.skipped.append(str(error))
