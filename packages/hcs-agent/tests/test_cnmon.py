"""cnmon's device table and cnmon info parse from recorded outputs of CNMON v4.20 to v5.10."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hcs_agent.errors import ParseError
from hcs_agent.parse import cnmon

# (fixture, cards, name, first bus id, first memory (used, total) MiB, ecc of card 0)
TABLES = [
    (
        "cnmon_mlu370-x4-2card-exclusive_v5.10.10_paddle-docs.txt",
        2,
        "MLU370-X4",
        "0000:1B:00.0",
        (0, 23308),
        None,
    ),
    ("cnmon_mlu370-x4-3card_v4.20.11_paddle-docs.txt", 3, "MLU370-X4", None, (0, 23308), None),
    (
        "cnmon_mlu370-x8-2card-full_v5.10.22_kylinv10-notes.txt",
        2,
        "MLU370-X8",
        "0000:13:00.0",
        (0, 20638),
        0,
    ),
    (
        "cnmon_mlu370-x8-2card_v5.10.13_paddle-docs.txt",
        2,
        "MLU370-X8",
        "0000:39:00.0",
        (0, 23374),
        None,
    ),
    (
        "cnmon_mlu5xx-8card-550w_v5.10.31_name-redacted_paddlenlp.txt",
        8,
        "MLUXXX-XX",
        "0000:4F:00.0",
        (0, None),
        0,
    ),
]


@pytest.mark.parametrize(
    ("name", "count", "model", "bus", "memory", "ecc"),
    TABLES,
    ids=[
        "v5.10.10-x4",
        "v4.20.11-no-bus-id",
        "v5.10.22-mode-full",
        "v5.10.13-x8",
        "v5.10.31-redacted-memory",
    ],
)
def test_table(
    read: Callable[[str], str],
    name: str,
    count: int,
    model: str,
    bus: str | None,
    memory: tuple[int, int | None],
    ecc: int | None,
) -> None:
    cards = cnmon.parse_table(read(f"cambricon/{name}"))
    assert [card.card for card in cards] == list(range(count))
    assert {card.name for card in cards} == {model}
    assert (cards[0].bus_id, cards[0].memory_mib, cards[0].ecc_errors) == (bus, memory, ecc)
    assert cards[0].temperature_c is not None
    assert cards[0].power_w is not None


def test_info_product_name(read: Callable[[str], str]) -> None:
    text = read("cambricon/cnmon-info_filtered-4-lines_mlu370-x8_v5.10.26_bang-tutorial.txt")
    assert cnmon.parse_info_product(text) == "MLU370-X8"


@pytest.mark.parametrize(
    "text",
    ["", "cnmon: command not found\n", "Error: no MLU device found\n"],
    ids=["empty", "shell", "error"],
)
def test_no_table_is_an_error(text: str) -> None:
    with pytest.raises(ParseError, match="no device table"):
        cnmon.parse_table(text)
