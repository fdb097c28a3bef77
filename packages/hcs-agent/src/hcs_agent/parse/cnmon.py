"""Cambricon `cnmon` parsers: the default device table and `cnmon info`'s key/value report.

The table has two rows per card in three `|` cells (CNMON v4.20 to v5.10):

    | Card VF Name Firmware  | Bus-Id (v5) or Inited Driver (v4) | Util  Ecc-Error |
    | Fan Temp Pwr:Usage/Cap | Memory-Usage                      | ...             |

It ends at the Processes box. A name or total memory redacted by whoever posted the output
("xxxxx MiB") reads as unknown, not as zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hcs_agent.errors import ParseError
from hcs_agent.parse._text import device_row_pairs, key_values

_BUS_ID = re.compile(r"^[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]$")
_TEMP = re.compile(r"(\d+)C\b")
_POWER = re.compile(r"(\d+)\s*W\s*/\s*(\d+)\s*W")
_MEMORY = re.compile(r"(\d+|x+)\s*MiB\s*/\s*(\d+|x+)\s*MiB")


@dataclass(frozen=True)
class MluCard:
    card: int
    name: str
    firmware: str | None
    bus_id: str | None
    ecc_errors: int | None
    temperature_c: float | None
    power_w: float | None
    memory_mib: tuple[int | None, int | None]
    """(used, total); None where the output was redacted."""


def parse_table(text: str) -> list[MluCard]:
    """The cards of `cnmon`; ParseError when there is no device table."""
    rows = device_row_pairs(
        text,
        is_header=lambda cells: cells[0].startswith(("Card", "Fan")),
        is_end=lambda cells: cells[0].startswith("Processes"),
    )
    if not rows.header_seen:
        raise ParseError("cnmon: no device table (no 'Card VF Name Firmware' header)")
    return [_card(first, second) for first, second, _ in rows.pairs]


def _card(first: list[str], second: list[str]) -> MluCard:
    head = first[0].split()
    if len(head) < 3 or not head[0].isdigit():
        raise ParseError(f"cnmon: expected 'Card VF Name Firmware', got {first[0]!r}")
    firmware = head[3] if len(head) > 3 else None
    bus = first[1] if _BUS_ID.match(first[1]) else None
    ecc_word = first[2].split()[-1] if first[2].split() else "N/A"
    temp, power, memory = (
        _TEMP.search(second[0]),
        _POWER.search(second[0]),
        _MEMORY.search(second[1]),
    )
    if memory is None:
        raise ParseError(f"cnmon card {head[0]}: no 'used MiB/ total MiB' in {second[1]!r}")
    used, total = (None if group.startswith("x") else int(group) for group in memory.groups())
    return MluCard(
        card=int(head[0]),
        name=head[2],
        firmware=firmware,
        bus_id=bus,
        ecc_errors=int(ecc_word) if ecc_word.isdigit() else None,
        temperature_c=float(temp[1]) if temp else None,
        power_w=float(power[1]) if power else None,
        memory_mib=(used, total),
    )


def parse_info_product(text: str) -> str | None:
    """`cnmon info`: the first 'Product Name' (every card's block repeats the key)."""
    return key_values(text).get("Product Name")
