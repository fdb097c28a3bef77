"""One full hcs-agent collection on a busy 4-vendor node, tools answering from recorded outputs.

The node: 8 NVIDIA H100 (a fake NVML with the recorded H100's values, full NVLink mesh), 8 Ascend
910B3 (npu-smi: a shell script printing the recorded `npu-smi info` / `-t topo` / `-t board`),
8 Hygon DCU (a KFD sysfs tree; hy-smi printing recorded output) and 8 Cambricon MLU (cnmon
printing a recorded table), every device placed in a sysfs PCIe tree. Real subprocesses run, so
process start-up is counted; the tools themselves answer at once. Prints the first (cold)
collection, then p50 / p99 / max of the steady state (collection + ComputeNode build).

    .venv/bin/python bench/agent_collection.py [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from hcs_agent.collect import Collector
from hcs_agent.computenode import build
from hcs_agent.detect.ascend import AscendDetector
from hcs_agent.detect.cambricon import CambriconDetector
from hcs_agent.detect.hygon import HygonDetector
from hcs_agent.detect.nvidia import NvidiaDetector
from hcs_agent.parse import npu_smi
from hcs_agent.testing import FakeGpu, FakeNvml, recorded_h100
from hcs_agent.topology import SysfsPci
from hcs_exchange import load_database

FIXTURES = Path(__file__).resolve().parent.parent / "packages/hcs-agent/tests/fixtures"
NPU = {
    "info": "ascend/npu-smi-info_910b3-8npu_24.1.rc1_ms-swift.txt",
    "info -t topo": "ascend/npu-smi-info-t-topo_910b3-8npu_ms-swift.txt",
    "info -t board": "ascend/npu-smi-info-t-board_910b-it21hmdc_25.5.1_yunionio-telegraf.txt",
}
HY = {
    "": "hygon/hy-smi_hcu-format_k100-ai-8hcu-400w_idle_driver6.3_sunfeng-blog.txt",
    "-a": "hygon/hy-smi-a_card-series-excerpt_k100-ai-8hcu_sunfeng-blog.txt",
    "--showmemavailable": "hygon/hy-smi-showmemavailable_k100-ai-8hcu_sunfeng-blog.txt",
}
CNMON = "cambricon/cnmon_mlu5xx-8card-550w_v5.10.31_name-redacted_paddlenlp.txt"


def tool(bin_dir: Path, name: str, answers: dict[str, str]) -> str:
    """A shell script printing the recorded output whose arguments prefix matches."""
    cases = "\n".join(
        f'  "{args}"*) cat "{FIXTURES / path}" ;;'
        for args, path in sorted(answers.items(), reverse=True)
    )
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\ncase "$*" in\n{cases}\n  *) exit 3 ;;\nesac\n')
    script.chmod(0o755)
    return str(script)


def sysfs(root: Path, buses: list[str]) -> None:
    for i, bus in enumerate(buses):
        host = f"pci0000:{0x80 if i % 16 >= 8 else 0:02x}"
        device = root / "sys/devices" / host / f"0000:{bus[5:7]}:01.0" / bus
        device.mkdir(parents=True)
        (device / "numa_node").write_text(f"{i % 16 // 8}\n")
        (device / "current_link_speed").write_text("32.0 GT/s PCIe\n")
        (device / "current_link_width").write_text("16\n")
        links = root / "sys/bus/pci/devices"
        links.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(device, links), links / bus)


def node(root: Path) -> Collector:
    bin_dir = root / "bin"
    bin_dir.mkdir()
    gpus = [recorded_h100() for _ in range(8)]
    for i, gpu in enumerate(gpus):
        gpu.uuid, gpu.bus_id = f"GPU-{i}", f"00000000:{0x18 + i:02X}:00.0"
    for gpu in gpus:
        gpu.nvlinks = {n: gpus[(gpus.index(gpu) + 1 + n % 7) % 8].bus_id for n in range(18)}
    kfd = root / "sys/class/kfd/kfd/topology/nodes"
    mi100 = (
        FIXTURES / "kfd/kfd-topology-node-properties_mi100-arcturus_rocmi-fixture.txt"
    ).read_text()
    for i in range(8):
        (kfd / str(i)).mkdir(parents=True)
        (kfd / str(i) / "properties").write_text(  # each its own bus and unique id, as on a node
            mi100.replace("location_id 8960", f"location_id {(0x30 + i) << 8}").replace(
                "unique_id 7809984429061111111", f"unique_id {7809984429061111111 + i}"
            )
        )
    buses = [normalised(g) for g in gpus] + [f"0000:{0x30 + i:02x}:00.0" for i in range(8)]
    sysfs(root, buses)
    pci = SysfsPci(root)
    return Collector(
        [
            NvidiaDetector(FakeNvml(gpus), numa_of=pci.numa_node),
            AscendDetector(tool=tool(bin_dir, "npu-smi", npu_answers(root)), numa_of=pci.numa_node),
            # No Hygon KFD capture exists; the recorded MI100 node stands in (AMD's vendor id).
            HygonDetector(
                root,
                tool=tool(bin_dir, "hy-smi", HY),
                numa_of=pci.numa_node,
                vendor_ids=frozenset({0x1002}),
            ),
            CambriconDetector(tool=tool(bin_dir, "cnmon", {"": CNMON}), numa_of=pci.numa_node),
        ],
        pci,
    )


def npu_answers(root: Path) -> dict[str, str]:
    """NPU's answers, `-t board` per NPU: the recorded board with the NPU's number appended to its
    serial, since 8 NPUs on one node never share a serial (nor, then, a device uuid)."""
    board = (FIXTURES / NPU["info -t board"]).read_text()
    serial = npu_smi.parse_board(board).serial
    assert serial is not None
    answers = {k: v for k, v in NPU.items() if k != "info -t board"}
    for i in range(8):
        path = root / f"npu-smi-board-{i}.txt"
        path.write_text(board.replace(serial, f"{serial}{i}"))
        answers[f"info -t board -i {i}"] = str(path)  # absolute: FIXTURES / path is path
    return answers


def normalised(gpu: FakeGpu) -> str:
    return f"0000:{gpu.bus_id.split(':')[1].lower()}:00.0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    runs = parser.parse_args().runs
    database = load_database()
    root = Path(tempfile.mkdtemp(prefix="hcs-agent-bench-"))
    try:
        collector = node(root)
        start = time.perf_counter()
        first = collector.collect()
        built = build("bench-node", first, database)
        cold = time.perf_counter() - start
        errors = [d.error for d in first.detections if d.error]
        assert not errors, errors
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            build("bench-node", collector.collect(), database)
            times.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(root)
    times.sort()
    ms = [t * 1000 for t in times]
    detected = sum(len(d.devices) for d in first.detections)
    print(
        f"devices detected: {detected} (4 vendors x 8); tool processes per collection: 5; "
        f"ComputeNode holds {len(built.node.spec.devices)}"
    )
    print(f"first collection (asks npu-smi -t board and hy-smi -a once): {cold * 1000:.1f} ms")
    print(
        f"steady state over {runs} runs: p50 {statistics.median(ms):.1f} ms, "
        f"p99 {ms[int(len(ms) * 0.99) - 1]:.1f} ms, max {ms[-1]:.1f} ms (budget 100 ms)"
    )


if __name__ == "__main__":
    main()
