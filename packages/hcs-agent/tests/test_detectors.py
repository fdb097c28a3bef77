"""Vendor detectors: fixture-backed runs; a missing, hung or babbling tool costs only its vendor."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from hcs_agent.collect import Collector
from hcs_agent.detect._runner import ToolMissing, run_tool
from hcs_agent.detect.ascend import AscendDetector
from hcs_agent.detect.cambricon import CambriconDetector
from hcs_agent.detect.hygon import HygonDetector
from hcs_agent.detect.inventory import InventoryDetector
from hcs_agent.errors import ToolError
from hcs_agent.model import Detection
from hcs_agent.testing import FixtureRunner
from hcs_agent.topology import SysfsPci

FIXTURES = Path(__file__).parent / "fixtures"
NPU_INFO = "ascend/npu-smi-info_910b3-8npu_24.1.rc1_ms-swift.txt"
NPU_TOPO = "ascend/npu-smi-info-t-topo_910b3-8npu_ms-swift.txt"
NPU_BOARD = "ascend/npu-smi-info-t-board_910b-it21hmdc_25.5.1_yunionio-telegraf.txt"


def ascend_runner(read: Callable[[str], str], **extra: str | ToolError) -> FixtureRunner:
    answers: dict[str, str | ToolError] = {
        "npu-smi info": read(NPU_INFO),
        "npu-smi info -t topo": read(NPU_TOPO),
    }
    # The recorded board output is of one 910B (NPU 0); every NPU answers with it here.
    answers |= {f"npu-smi info -t board -i {i}": read(NPU_BOARD) for i in range(8)}
    answers |= extra
    return FixtureRunner(answers)


def test_ascend_from_recorded_outputs(read: Callable[[str], str]) -> None:
    runner = ascend_runner(read)
    detection = AscendDetector(runner=runner).detect()
    assert detection.error is None
    assert [d.index for d in detection.devices] == [str(i) for i in range(8)]
    first = detection.devices[0]
    assert (first.name, first.vram_bytes, first.pci_bus_id) == (
        "910B3",
        65536 * 2**20,
        "0000:c1:00.0",
    )
    assert first.uuid == "1025C9048791-0"
    assert {link.peer for link in first.links} == {str(i) for i in range(1, 8)}
    assert first.health.vendor_status == "OK"


def test_ascend_static_facts_are_asked_once(read: Callable[[str], str]) -> None:
    runner = ascend_runner(read)
    detector = AscendDetector(runner=runner)
    detector.detect()
    runner.calls.clear()
    detector.detect()
    assert runner.calls == ["npu-smi info", "npu-smi info -t topo"]


def test_ascend_missing_topology_still_reports_devices(read: Callable[[str], str]) -> None:
    runner = ascend_runner(
        read,
        **{"npu-smi info -t topo": ToolError("'npu-smi info -t topo' did not answer within 5 s")},
    )
    detection = AscendDetector(runner=runner).detect()
    assert len(detection.devices) == 8
    assert detection.devices[0].links == ()
    assert any("HCCS topology unknown" in w for w in detection.warnings)


def test_ascend_unhealthy_chip_gets_health_details(read: Callable[[str], str]) -> None:
    info = read("ascend/npu-smi-info_310b4-alarm_23.0.0_nputop-fixture.txt")
    health = read("ascend/npu-smi-info-c0-t-health_ok_mind-cluster-doc.txt")
    runner = FixtureRunner(
        {
            "npu-smi info": info,
            "npu-smi info -t topo": ToolError("not supported"),
            "npu-smi info -t board -i 0": read(
                "ascend/npu-smi-info-t-board_910-d801_23.0.5_mind-cluster-doc.txt"
            ),
            "npu-smi info -t health -i 0 -c 0": health,
        }
    )
    detection = AscendDetector(runner=runner).detect()
    assert "npu-smi info -t health -i 0 -c 0" in runner.calls
    assert detection.devices[0].health.vendor_status == "OK"  # what -t health said in detail


def test_hygon_from_kfd_tree_and_hy_smi(tmp_path: Path, read: Callable[[str], str]) -> None:
    nodes = tmp_path / "sys/class/kfd/kfd/topology/nodes"
    for node, name in enumerate(
        [
            "kfd-topology-node0-properties_carrizo-apu_rocm-121.txt",
            "kfd-topology-node-properties_mi100-arcturus_rocmi-fixture.txt",
        ]
    ):
        (nodes / str(node)).mkdir(parents=True)
        shutil.copy(FIXTURES / "kfd" / name, nodes / str(node) / "properties")
    runner = FixtureRunner(
        {
            "hy-smi": read("hygon/hy-smi_hcu-format-dec-enc_bw101-1hcu-400w_benchmark-log.txt"),
            "hy-smi -a": read("hygon/hy-smi-a_card-series-excerpt_k100-ai-8hcu_sunfeng-blog.txt"),
            "hy-smi --showmemavailable": read(
                "hygon/hy-smi-showmemavailable_k100-ai-8hcu_sunfeng-blog.txt"
            ),
        }
    )
    # No Hygon KFD capture exists: the AMD MI100 node stands in, so AMD's vendor id is accepted.
    detection = HygonDetector(root=tmp_path, runner=runner, vendor_ids=frozenset({0x1002})).detect()
    assert detection.error is None
    (device,) = detection.devices
    assert (device.index, device.name, device.pci_bus_id) == ("0", "K100_AI", "0000:23:00.0")
    assert (device.temperature_c, device.vram_free_bytes) == (46.0, 65438 * 2**20)
    assert device.uuid == f"DCU-{7809984429061111111:x}"


def test_hygon_ignores_other_vendors_kfd_nodes(tmp_path: Path) -> None:
    node = tmp_path / "sys/class/kfd/kfd/topology/nodes/1"
    node.mkdir(parents=True)
    shutil.copy(
        FIXTURES / "kfd/kfd-topology-node-properties_mi100-arcturus_rocmi-fixture.txt",
        node / "properties",
    )
    detection = HygonDetector(root=tmp_path, runner=FixtureRunner({})).detect()
    assert detection.absent
    assert detection.devices == ()


def test_cambricon_from_recorded_cnmon(read: Callable[[str], str]) -> None:
    runner = FixtureRunner(
        {"cnmon": read("cambricon/cnmon_mlu370-x8-2card-full_v5.10.22_kylinv10-notes.txt")}
    )
    detection = CambriconDetector(runner=runner).detect()
    assert [(d.index, d.name, d.vram_bytes) for d in detection.devices] == [
        ("0", "MLU370-X8", 20638 * 2**20),
        ("1", "MLU370-X8", 20638 * 2**20),
    ]


def _script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.mark.parametrize(
    ("body", "absent", "message"),
    [
        (None, True, "not found on PATH"),
        ("sleep 5", False, "did not answer within 0.3 s"),
        ("echo 'Segmentation fault (core dumped)'", False, "no device table"),
        (
            "echo 'dcmi module initialize failed. ret is -8005' >&2; exit 2",
            False,
            "exited with status 2: dcmi module",
        ),
    ],
    ids=["missing", "hangs", "garbage", "fails"],
)
def test_a_broken_tool_is_a_clear_error_for_its_vendor(
    tmp_path: Path, body: str | None, absent: bool, message: str
) -> None:
    tool = str(tmp_path / "no-such-npu-smi") if body is None else _script(tmp_path, "npu-smi", body)
    detection = AscendDetector(runner=run_tool, timeout=0.3, tool=tool).detect()
    assert detection.devices == ()
    assert detection.absent is absent
    assert detection.error is not None
    assert message in detection.error


def test_run_tool_missing_is_tool_missing() -> None:
    with pytest.raises(ToolMissing, match="hcs-agent-no-such-tool not found"):
        run_tool(["hcs-agent-no-such-tool"], 1.0)


class _Broken:
    vendor = "hygon"

    def detect(self) -> Detection:
        raise RuntimeError("bug in a detector")


def test_other_vendors_still_report_when_one_fails(
    tmp_path: Path, read: Callable[[str], str]
) -> None:
    hung = AscendDetector(
        runner=run_tool, timeout=0.3, tool=_script(tmp_path, "npu-smi", "sleep 5")
    )
    working = CambriconDetector(
        runner=FixtureRunner(
            {"cnmon": read("cambricon/cnmon_mlu370-x8-2card_v5.10.13_paddle-docs.txt")}
        )
    )
    collection = Collector([hung, _Broken(), working], SysfsPci(tmp_path)).collect()
    errors = {d.vendor: d.error for d in collection.detections}
    assert "did not answer" in (errors["ascend"] or "")
    assert "bug in a detector" in (errors["hygon"] or "")
    assert len(collection.detections[2].devices) == 2


def test_inventory_error_names_entry_and_field(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(
        "devices:\n  - {vendor: nvidia, id: '0', uuid: GPU-0, name: T4, numaNode: -1}\n"
    )
    detection = InventoryDetector(path).detect()
    assert detection.error is not None
    assert "devices.0.numaNode" in detection.error


def test_hung_tools_of_two_vendors_cost_one_timeout_not_two(tmp_path: Path) -> None:
    hung_npu = AscendDetector(
        runner=run_tool, timeout=1.0, tool=_script(tmp_path, "npu-smi", "sleep 5")
    )
    hung_mlu = CambriconDetector(
        runner=run_tool, timeout=1.0, tool=_script(tmp_path, "cnmon", "sleep 5")
    )
    collection = Collector([hung_npu, hung_mlu], SysfsPci(tmp_path)).collect()
    assert all("did not answer within 1 s" in (d.error or "") for d in collection.detections)
    assert collection.duration_s < 1.8  # side by side: about one timeout, never two
