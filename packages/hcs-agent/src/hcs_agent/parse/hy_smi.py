"""Hygon `hy-smi` parsers: the default table, `--showmemavailable` and `-a` (`HCU[n] : key: value`).

The default table's first column is the device index, named DCU in older releases and HCU in
newer ones; columns are read by header name (older builds add Fan, newer ones Dec% / Enc%), and
cells are split on whitespace because one build prints a 7-character PwrCap that breaks the
alignment (hy-smi on 2x BW1000, DTK 26.04).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hcs_agent.errors import ParseError
from hcs_agent.parse._text import number

_INDEX_HEADERS = ("HCU", "DCU")
_PER_DEVICE = re.compile(r"^\s*(?:HCU|DCU)\[(\d+)\]\s*:\s*(.*?):\s*(.*?)\s*$")


@dataclass(frozen=True)
class DcuRow:
    index: int
    temperature_c: float | None
    power_w: float | None
    vram_percent: float | None
    mode: str | None


def parse_table(text: str) -> list[DcuRow]:
    """The devices of `hy-smi` (or `rocm-smi` from a DTK build, which prints the same table)."""
    header: list[str] | None = None
    rows: list[DcuRow] = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] in _INDEX_HEADERS and "Temp" in words:
            header = words
            continue
        if header is None or not words[0].isdigit():
            continue
        if len(words) < len(header):
            raise ParseError(f"hy-smi: row {words[0]} has {len(words)} of {len(header)} columns")
        cells = dict(zip(header, words, strict=False))
        rows.append(
            DcuRow(
                index=int(words[0]),
                temperature_c=number(cells["Temp"], "hy-smi Temp"),
                power_w=number(cells.get("AvgPwr", "N/A"), "hy-smi AvgPwr"),
                vram_percent=number(cells.get("VRAM%", "N/A"), "hy-smi VRAM%"),
                mode=cells.get("Mode"),
            )
        )
    if header is None:
        raise ParseError("hy-smi: no 'HCU/DCU Temp AvgPwr ...' header")
    return rows


def parse_per_device(text: str) -> dict[int, dict[str, str]]:
    """`HCU[n]   : Key: value` lines (hy-smi -a, --showmemavailable) as {n: {key: value}}."""
    found: dict[int, dict[str, str]] = {}
    for line in text.splitlines():
        match = _PER_DEVICE.match(line)
        if match:
            found.setdefault(int(match[1]), {})[match[2]] = match[3]
    return found


def parse_available_mib(text: str) -> dict[int, int]:
    """`hy-smi --showmemavailable`: available device memory per index, in MiB."""
    found: dict[int, int] = {}
    for index, values in parse_per_device(text).items():
        value = values.get("Available memory size (MiB)")
        if value is not None and value.isdigit():
            found[index] = int(value)
    if not found:
        raise ParseError("hy-smi --showmemavailable: no 'Available memory size (MiB)' line")
    return found


def parse_card_series(text: str) -> dict[int, str]:
    """`hy-smi -a`: the 'Card Series' (model name, e.g. K100_AI) per index."""
    return {
        index: values["Card Series"]
        for index, values in parse_per_device(text).items()
        if values.get("Card Series")
    }
