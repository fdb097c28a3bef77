"""The one table every reliability part prints, so the runs read alike side by side.

Columns: the part, the load it ran under, the faults it injected, the bad inputs it tried, and
what went wrong: allocations lost, allocations duplicated (a device given twice or over its
capacity), answers with a 5xx status. A part that cannot count a column prints "-".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

COLUMNS = ("part", "load", "faults injected", "bad inputs", "lost", "duplicated", "5xx")


@dataclass(frozen=True)
class Row:
    part: str
    load: str
    faults: str = "-"
    bad_inputs: str = "-"
    lost: int | None = None
    duplicated: int | None = None
    server_errors: int | None = None

    def cells(self) -> tuple[str, ...]:
        def count(value: int | None) -> str:
            return "-" if value is None else f"{value:,}"

        return (
            self.part,
            self.load,
            self.faults,
            self.bad_inputs,
            count(self.lost),
            count(self.duplicated),
            count(self.server_errors),
        )

    def failed(self) -> bool:
        return any(v for v in (self.lost, self.duplicated, self.server_errors))


def markdown(rows: Iterable[Row]) -> str:
    """The rows as a Markdown table (what bench/README.md records)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)
