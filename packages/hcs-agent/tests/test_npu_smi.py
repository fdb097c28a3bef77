"""npu-smi's device table, HCCS topology and -t forms parse from recorded real outputs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hcs_agent.errors import ParseError
from hcs_agent.parse import npu_smi

# (fixture, chips, first name, device ids, first vram (used, total) MB, health of the last chip)
TABLES = [
    (
        "npu-smi-info_910b3-8npu_24.1.rc1_ms-swift.txt",
        8,
        "910B3",
        list(range(8)),
        (3318, 65536),
        "OK",
    ),
    (
        "npu-smi-info_910b4-8npu_24.1.rc3_vllm-ascend-1875.txt",
        8,
        "910B4",
        list(range(8)),
        (2828, 32768),
        "OK",
    ),
    (
        "npu-smi-info_a3-ascend910-8npu-16chip_25.3.rc1_vllm-ascend-3548.txt",
        16,
        "Ascend910",
        list(range(16)),
        (51166, 65536),
        "OK",
    ),
    (
        "npu-smi-info_310p3-duo-4card-8chip_25.3.rc1_vllm-ascend-6063.txt",
        8,
        "310P3",
        list(range(8)),
        (35552, 44278),
        "OK",
    ),
    ("npu-smi-info_310-1npu_21.0.3.1_mindxsdk-readme.txt", 1, "310", [0], (5324, 8192), "OK"),
    ("npu-smi-info_310b4-alarm_23.0.0_nputop-fixture.txt", 1, "310B4", [0], (3628, 15609), "Alarm"),
    (
        "npu-smi-info_910b1-8npu_23.0.rc2_elided_arthurchiao.txt",
        3,
        "910B1",
        [0, 1, 7],
        (4175, 65536),
        "OK",
    ),
    (
        "npu-smi-info_910-8npu-loaded_name-redacted_mind-cluster-doc.txt",
        8,
        "xxx",
        list(range(8)),
        (30710, 32768),
        "OK",
    ),
    (
        "npu-smi-info_910b3-8npu_25.3.rc1_with-procs_vllm-ascend-3998.txt",
        8,
        "910B3",
        list(range(8)),
        (4487, 65536),
        "OK",
    ),
    (
        "npu-smi-info_910b4-1npu_26.0.rc1_wide-format_triton-ascend-faq.txt",
        1,
        "910B4",
        [0],
        (2871, 32768),
        "OK",
    ),
    ("npu-smi-info_910a-2npu_21.0.4_paddle-docs.txt", 2, "910A", [0, 1], (1, 32768), "OK"),
    (
        "npu-smi-info_910prob-8npu_24.1.0_vllm-ascend-1047.txt",
        8,
        "910ProB",
        list(range(8)),
        (18, 32768),
        "OK",
    ),
]


@pytest.mark.parametrize(
    ("name", "count", "first", "ids", "vram", "last_health"),
    TABLES,
    ids=[t[0].split("_")[1] + "-" + t[0].split("_")[-1].removesuffix(".txt") for t in TABLES],
)
def test_device_table(
    read: Callable[[str], str],
    name: str,
    count: int,
    first: str,
    ids: list[int],
    vram: tuple[int, int],
    last_health: str,
) -> None:
    table = npu_smi.parse_info(read(f"ascend/{name}"))
    assert len(table.chips) == count
    assert table.chips[0].name == first
    assert [chip.device_id for chip in table.chips] == ids
    assert table.chips[0].vram_mb == vram
    assert table.chips[-1].health == last_health


def test_a3_second_chip_has_no_power_and_its_own_bus(read: Callable[[str], str]) -> None:
    chips = npu_smi.parse_info(
        read("ascend/npu-smi-info_a3-ascend910-8npu-16chip_25.3.rc1_vllm-ascend-3548.txt")
    ).chips
    assert (chips[1].npu_id, chips[1].chip, chips[1].device_id) == (0, 1, 1)
    assert chips[1].power_w is None
    assert chips[1].bus_id == "0000:9F:00.0"


def test_310_without_bus_id_reads_as_none(read: Callable[[str], str]) -> None:
    chip = npu_smi.parse_info(
        read("ascend/npu-smi-info_310-1npu_21.0.3.1_mindxsdk-readme.txt")
    ).chips[0]
    assert chip.bus_id is None
    assert chip.hbm_mb is None


def test_910a_device_memory_is_hbm_not_ddr(read: Callable[[str], str]) -> None:
    chip = npu_smi.parse_info(read("ascend/npu-smi-info_910a-2npu_21.0.4_paddle-docs.txt")).chips[0]
    assert chip.memory_mb == (839, 15170)
    assert chip.vram_mb == (1, 32768)


@pytest.mark.parametrize(
    "text",
    ["", "command not found\n", "+----+\n| npu-smi 24.1 Version: 24.1 |\n+----+\n"],
    ids=["empty", "shell-error", "banner-only"],
)
def test_output_without_a_table_is_an_error(text: str) -> None:
    with pytest.raises(ParseError, match="no device table"):
        npu_smi.parse_info(text)


def test_a_chip_with_one_row_is_an_error(read: Callable[[str], str]) -> None:
    lines = read("ascend/npu-smi-info_910b3-8npu_24.1.rc1_ms-swift.txt").splitlines()
    with pytest.raises(ParseError, match="only one of its two rows"):
        npu_smi.parse_info("\n".join(lines[:7]))


@pytest.mark.parametrize(
    ("name", "affinity_peers"),
    [
        ("npu-smi-info-t-topo_910b3-8npu_ms-swift.txt", 7),
        ("npu-smi-info-t-topo_910b1-8npu_23.0.rc2_arthurchiao.txt", 7),
    ],
    ids=["910b3-tab-header", "910b1-no-indent"],
)
def test_topology_is_a_full_hccs_mesh(
    name: str, affinity_peers: int, read: Callable[[str], str]
) -> None:
    matrix = npu_smi.parse_topo(read(f"ascend/{name}"))
    assert sorted(matrix) == list(range(8))
    for npu, row in matrix.items():
        assert npu not in row
        assert len(row) == affinity_peers
        assert set(row.values()) == {"HCCS"}


def test_topology_row_cut_short_is_an_error(read: Callable[[str], str]) -> None:
    text = read("ascend/npu-smi-info-t-topo_910b3-8npu_ms-swift.txt").replace(
        "NPU3       HCCS       HCCS       HCCS       X", "NPU3       HCCS"
    )
    with pytest.raises(ParseError, match="NPU3"):
        npu_smi.parse_topo(text)


@pytest.mark.parametrize(
    ("name", "serial", "bus"),
    [
        (
            "npu-smi-info-t-board_910b-it21hmdc_25.5.1_yunionio-telegraf.txt",
            "1025C9048791",
            "0000:C1:00.0",
        ),
        ("npu-smi-info-t-board_910-d801_23.0.5_mind-cluster-doc.txt", None, "0000:61:00.0"),
    ],
    ids=["25.5.1-with-serial", "23.0.5-without-serial"],
)
def test_board(name: str, serial: str | None, bus: str, read: Callable[[str], str]) -> None:
    board = npu_smi.parse_board(read(f"ascend/{name}"))
    assert (board.serial, board.bus_id, board.chip_count) == (serial, bus, 1)


@pytest.mark.parametrize(
    ("name", "mb"),
    [
        ("npu-smi-info-t-memory_910b-64g_partial_skill-doc.txt", 65536),
        ("npu-smi-info-t-memory_atlas350_vendor-doc.txt", 131072),
    ],
    ids=["910b-64g", "atlas350-128g"],
)
def test_memory(name: str, mb: int, read: Callable[[str], str]) -> None:
    assert npu_smi.parse_memory_mb(read(f"ascend/{name}")) == mb


@pytest.mark.parametrize(
    "name",
    [
        "npu-smi-info-c0-t-health_ok_mind-cluster-doc.txt",
        "npu-smi-info-t-health-i0_ok_npu-id-health-format_vendor-doc-en.txt",
    ],
    ids=["health-status-layout", "health-layout"],
)
def test_health_layouts(name: str, read: Callable[[str], str]) -> None:
    health = npu_smi.parse_health(read(f"ascend/{name}"))
    assert (health.status, health.error_codes) == ("OK", ())


def test_health_without_status_is_an_error() -> None:
    with pytest.raises(ParseError, match="Health"):
        npu_smi.parse_health("Error Code : NA\n")
