"""hy-smi's table, -a, --showmemavailable and KFD topology properties parse from recordings."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hcs_agent.errors import ParseError
from hcs_agent.parse import hy_smi, kfd

# (fixture, devices, first temperature, first power, last VRAM %, first mode)
TABLES = [
    (
        "hy-smi_hcu-format_k100-ai-8hcu-400w_idle_driver6.3_sunfeng-blog.txt",
        8,
        59.0,
        114.0,
        0.0,
        "Normal",
    ),
    ("hy-smi_k100-ai-8dcu-loaded_wang-junjian-blog.txt", 8, 67.0, 8.0, 85.0, "Normal"),
    ("hy-smi_4dcu-300w-mode-na_dtk-24.04_hami-blog.txt", 4, 49.0, 25.0, 0.0, "N/A"),
    (
        "hy-smi_hcu-format-dec-enc_bw1000-2hcu-1000w_dtk26.04_test-fixture.txt",
        2,
        50.0,
        80.0,
        0.0,
        "Normal",
    ),
    ("hy-smi_hcu-format-dec-enc_bw101-1hcu-400w_benchmark-log.txt", 1, 46.0, 51.0, 0.0, "Normal"),
    (
        "rocm-smi-on-dcu_old-format-4dcu-450w_whitespace-collapsed_lacacy-dcu-docs.txt",
        4,
        50.0,
        55.0,
        0.0,
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "count", "temp", "power", "vram", "mode"),
    TABLES,
    ids=[
        "hcu-k100ai-idle",
        "dcu-k100ai-loaded",
        "dcu-mode-na",
        "hcu-bw1000-wide-pwrcap",
        "hcu-dec-enc",
        "old-fan-column-lowercase-c",
    ],
)
def test_table(
    read: Callable[[str], str],
    name: str,
    count: int,
    temp: float,
    power: float,
    vram: float,
    mode: str | None,
) -> None:
    rows = hy_smi.parse_table(read(f"hygon/{name}"))
    assert [row.index for row in rows] == list(range(count))
    assert (rows[0].temperature_c, rows[0].power_w, rows[-1].vram_percent) == (temp, power, vram)
    assert rows[0].mode == mode


def test_table_without_header_is_an_error() -> None:
    with pytest.raises(ParseError, match="header"):
        hy_smi.parse_table("hy-smi: error while loading shared libraries\n")


def test_row_missing_columns_is_an_error(read: Callable[[str], str]) -> None:
    text = read("hygon/hy-smi_4dcu-300w-mode-na_dtk-24.04_hami-blog.txt")
    with pytest.raises(ParseError, match="row 1"):
        hy_smi.parse_table(text.replace("1       48.0C    24.0W", "1       48.0C"))


def test_available_memory_and_card_series(read: Callable[[str], str]) -> None:
    free = hy_smi.parse_available_mib(
        read("hygon/hy-smi-showmemavailable_k100-ai-8hcu_sunfeng-blog.txt")
    )
    names = hy_smi.parse_card_series(
        read("hygon/hy-smi-a_card-series-excerpt_k100-ai-8hcu_sunfeng-blog.txt")
    )
    assert free == dict.fromkeys(range(8), 65438)
    assert names == dict.fromkeys(range(8), "K100_AI")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "kfd-topology-node-properties_mi100-arcturus_rocmi-fixture.txt",
            ("0000:23:00.0", 0x738C, 480),
        ),
        ("kfd-topology-node1-properties_rx470-polaris_rocm-474.txt", ("0000:01:00.0", 0x67DF, 128)),
        ("kfd-topology-node0-properties_carrizo-apu_rocm-121.txt", None),
    ],
    ids=["mi100-modern-set", "rx470-old-set-no-domain", "apu-is-not-a-discrete-device"],
)
def test_kfd_node(
    read: Callable[[str], str], name: str, expected: tuple[str, int, int] | None
) -> None:
    node = kfd.gpu_node(1, kfd.parse_properties(read(f"kfd/{name}")))
    if expected is None:
        assert node is None
    else:
        assert node is not None
        assert (node.pci_bus_id, node.device_id, node.simd_count) == expected
        assert node.vendor_id == 0x1002


def test_kfd_garbage_line_is_an_error() -> None:
    with pytest.raises(ParseError, match="simd_count"):
        kfd.parse_properties("simd_count lots\n")
