"""Helpers shared by the table and key/value parsers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from hcs_agent.errors import ParseError

_SLASH = re.compile(r"\s*/\s*")
_MISSING = {"NA", "N/A", "-", ""}


def box_cells(line: str) -> list[str] | None:
    """The cells of a `| a | b | c |` table row, stripped; None for borders and other lines."""
    text = line.strip()
    if not text.startswith("|") or not text.endswith("|"):
        return None
    return [cell.strip() for cell in text[1:-1].split("|")]


Cells = list[str]


@dataclass
class DeviceRows:
    """The device rows of a vendor's box table, where each device takes two rows."""

    header_seen: bool = False
    pairs: list[tuple[Cells, Cells, int]] = field(default_factory=list)
    """(first row, second row, line number of the second) per device."""
    leftover: Cells | None = None
    """A first row whose second never came."""


def device_row_pairs(
    text: str, is_header: Callable[[Cells], bool], is_end: Callable[[Cells], bool]
) -> DeviceRows:
    """Pairs the rows after the header (rows of fewer than 3 cells skipped) until `is_end`.

    npu-smi and cnmon both print each device as two table rows under one header row.
    """
    rows = DeviceRows()
    for line_number, line in enumerate(text.splitlines(), start=1):
        cells = box_cells(line)
        if cells is None or len(cells) < 3:
            continue
        if is_end(cells):
            break
        if is_header(cells):
            rows.header_seen = True
        elif rows.header_seen and rows.leftover is None:
            rows.leftover = cells
        elif rows.header_seen:
            rows.pairs.append((rows.leftover or [], cells, line_number))
            rows.leftover = None
    return rows


def tokens(cell: str) -> list[str]:
    """Whitespace-separated tokens, with "used / total" pairs kept as one "used/total" token."""
    return _SLASH.sub("/", cell).split()


def number(text: str, what: str) -> float | None:
    """A number such as 101.8, 43, 59.0C, 50.0c or 114.0W; None for the tools' NA / N/A / -."""
    value = text.strip().rstrip("CcW%")
    if value in _MISSING:
        return None
    try:
        return float(value)
    except ValueError:
        raise ParseError(f"{what}: expected a number, got {text!r}") from None


def pair(text: str, what: str) -> tuple[int, int] | None:
    """A "used/total" pair of whole numbers; None when either side is not reported."""
    used, sep, total = text.partition("/")
    if not sep:
        raise ParseError(f"{what}: expected used/total, got {text!r}")
    if used.strip() in _MISSING or total.strip() in _MISSING:
        return None
    try:
        return int(used), int(total)
    except ValueError:
        raise ParseError(f"{what}: expected whole numbers, got {text!r}") from None


def key_values(text: str) -> dict[str, str]:
    """`Key : value` lines (npu-smi -t board/memory/health, cnmon info), keys as printed.

    A key printed twice keeps its first value: later blocks (npu-smi's Chip ID) repeat ids.
    """
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            found.setdefault(key.strip(), value.strip())
    return found
