"""Huawei `npu-smi info` parsers: the device table, `-t topo`, and the key/value `-t` forms.

The device table has two rows per chip in three `|` cells. Column positions differ between
versions (21.0 to 26.0), so cells are split on `|` and read by order, never by offset:

    | NPU   Name       | Health  | Power(W)  Temp(C)  Hugepages-Usage(page) |
    | Chip [Phy-ID]    | Bus-Id  | AICore(%) Memory-Usage(MB) [HBM-Usage(MB)] |

Newer multi-chip cards (A3, 310P Duo) add a Phy-ID / Device column: that is the device id;
single-chip cards have none and the NPU ID is the id (npu-smi info -m maps them one to one).
The process table that follows is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from hcs_agent.errors import ParseError
from hcs_agent.parse._text import box_cells, device_row_pairs, key_values, number, pair, tokens


@dataclass(frozen=True)
class NpuChip:
    npu_id: int
    chip: int
    device_id: int
    """Phy-ID / Device column where printed, else the NPU ID."""
    name: str
    health: str
    bus_id: str | None
    power_w: float | None
    temperature_c: float | None
    memory_mb: tuple[int, int] | None
    """(used, total) of Memory-Usage: DDR on 910A, the device memory on 310/310P."""
    hbm_mb: tuple[int, int] | None
    """(used, total) of HBM-Usage, where the table has that column."""

    @property
    def vram_mb(self) -> tuple[int, int] | None:
        """Device memory: HBM where the chip has it (and reports a total), else Memory-Usage."""
        if self.hbm_mb is not None and self.hbm_mb[1] > 0:
            return self.hbm_mb
        return self.memory_mb


@dataclass(frozen=True)
class NpuTable:
    version: str | None
    chips: tuple[NpuChip, ...]


def parse_info(text: str) -> NpuTable:
    """The chips of `npu-smi info`; ParseError when no device table is found."""
    rows = device_row_pairs(
        text,
        is_header=lambda cells: cells[0].startswith(("NPU", "Chip")),
        # The process table ("NPU | Process id | ..."): nothing more about devices.
        is_end=lambda cells: cells[0].startswith("NPU") and cells[1].startswith("Process"),
    )
    if not rows.header_seen:
        raise ParseError("npu-smi info: no device table (no 'NPU Name | Health' header)")
    if rows.leftover is not None:
        raise ParseError("npu-smi info: the last chip has only one of its two rows")
    chips = [_chip(first, second, line) for first, second, line in rows.pairs]
    return NpuTable(version=_version(text), chips=tuple(chips))


def _version(text: str) -> str | None:
    """The tool's version from its banner row (`| npu-smi 23.0.rc2   Version: 23.0.rc2 |`)."""
    for line in text.splitlines():
        cells = box_cells(line)
        if cells is not None and len(cells) == 1 and cells[0].startswith("npu-smi"):
            words = cells[0].split()
            return words[1] if len(words) > 1 else None
    return None


def _chip(first: list[str], second: list[str], line: int) -> NpuChip:
    where = f"npu-smi info line {line}"
    head, ids, stats, usage = (
        tokens(first[0]),
        tokens(second[0]),
        tokens(first[2]),
        tokens(second[2]),
    )
    if len(head) < 2 or not head[0].isdigit() or not ids or not ids[0].isdigit():
        raise ParseError(f"{where}: expected 'NPU Name' and 'Chip' rows, got {first[0]!r}")
    if len(stats) < 2 or len(usage) < 2:
        raise ParseError(f"{where}: too few power/temperature/memory fields")
    device = ids[1] if len(ids) > 1 and ids[1].isdigit() else head[0]
    bus = second[1] if second[1] not in ("NA", "") else None
    return NpuChip(
        npu_id=int(head[0]),
        chip=int(ids[0]),
        device_id=int(device),
        name=" ".join(head[1:]),
        health=first[1],
        bus_id=bus,
        power_w=number(stats[0], f"{where} power"),
        temperature_c=number(stats[1], f"{where} temperature"),
        memory_mb=pair(usage[1], f"{where} memory"),
        hbm_mb=pair(usage[2], f"{where} HBM") if len(usage) > 2 else None,
    )


def parse_topo(text: str) -> dict[int, dict[int, str]]:
    """`npu-smi info -t topo`: for each NPU, the connection to every other NPU (HCCS, PIX, SYS...).

    The header names the columns (NPU0 ... NPUn, CPU Affinity); a row is `NPUi v0 ... vn affinity`.
    The diagonal (X) is left out.
    """
    columns: list[int] | None = None
    matrix: dict[int, dict[int, str]] = {}
    for line in text.splitlines():
        words = line.split()
        if not words or not words[0].startswith("NPU"):
            continue
        if columns is None:
            columns = [_npu_number(word) for word in words if word.startswith("NPU")]
            continue
        row = _npu_number(words[0])
        values = words[1 : 1 + len(columns)]
        if len(values) != len(columns):
            raise ParseError(
                f"npu-smi topo: row NPU{row} has {len(values)} of {len(columns)} cells"
            )
        matrix[row] = {
            peer: kind for peer, kind in zip(columns, values, strict=True) if kind != "X"
        }
    if columns is None:
        raise ParseError("npu-smi topo: no 'NPU0 NPU1 ...' header")
    return matrix


def _npu_number(word: str) -> int:
    try:
        return int(word.removeprefix("NPU"))
    except ValueError:
        raise ParseError(f"npu-smi topo: {word!r} is not an NPU column") from None


@dataclass(frozen=True)
class NpuHealth:
    status: str
    error_codes: tuple[str, ...]


def parse_health(text: str) -> NpuHealth:
    """`npu-smi info -t health`: 'Health Status' (newer) or 'Health' (older) and 'Error Code'."""
    values = key_values(text)
    status = values.get("Health Status", values.get("Health"))
    if status is None:
        raise ParseError("npu-smi -t health: no 'Health' or 'Health Status' line")
    codes = values.get("Error Code", "NA")
    found = tuple(c for c in codes.replace(",", " ").split() if c not in ("NA", "N/A"))
    return NpuHealth(status=status, error_codes=found)


@dataclass(frozen=True)
class NpuBoard:
    serial: str | None
    bus_id: str | None
    chip_count: int | None


def parse_board(text: str) -> NpuBoard:
    """`npu-smi info -t board`: serial number (newer versions only), PCIe bus, chip count."""
    values = key_values(text)
    if "NPU ID" not in values and "PCIe Bus Info" not in values:
        raise ParseError("npu-smi -t board: neither 'NPU ID' nor 'PCIe Bus Info' found")
    serial = values.get("Serial Number")
    chips = values.get("Chip Count")
    return NpuBoard(
        serial=serial if serial not in (None, "NA") else None,
        bus_id=values.get("PCIe Bus Info"),
        chip_count=int(chips) if chips and chips.isdigit() else None,
    )


def parse_memory_mb(text: str) -> int | None:
    """`npu-smi info -t memory`: HBM capacity in MB, else DDR capacity; None when both are 0."""
    values = key_values(text)
    if "HBM Capacity(MB)" not in values and "DDR Capacity(MB)" not in values:
        raise ParseError("npu-smi -t memory: no 'HBM Capacity(MB)' or 'DDR Capacity(MB)' line")
    for key in ("HBM Capacity(MB)", "DDR Capacity(MB)"):
        value = values.get(key, "0")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None
