"""The hcs-agent CLI: detect prints a fingerprint; run refuses bad settings by key, no traceback."""

from __future__ import annotations

import ctypes.util
import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from hcs_agent.cli import main

INVENTORY = """
devices:
  - {vendor: nvidia, id: "0", uuid: GPU-0, name: NVIDIA H100 80GB HBM3, numaNode: 0,
     links: [{type: nvlink, peers: ["1"], links: 18, p2p: true}]}
  - {vendor: nvidia, id: "1", uuid: GPU-1, name: NVIDIA H100 80GB HBM3, numaNode: 0,
     links: [{type: nvlink, peers: ["0"], links: 18, p2p: true}],
     health: {xids: [48]}}
"""


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    return path


def test_detect_table(inventory: Path) -> None:
    result = CliRunner().invoke(main, ["detect", "--inventory", str(inventory)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "VENDOR", "MODEL", "VRAM", "HEALTH", "NUMA", "PCI", "LINKS"]
    first = ["nvidia-0", "nvidia", "H100-SXM5-80G", "80Gi", "100", "0", "-", "nvlink:nvidia-1"]
    assert lines[1].split() == first
    assert "health nvidia-1: 30 (Xid 48)" in result.output
    assert "phase Degraded" in result.output


def test_detect_json(inventory: Path) -> None:
    result = CliRunner().invoke(
        main, ["detect", "--inventory", str(inventory), "--output", "json", "--node-name", "gpu-1"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    node = data["computeNode"]
    assert (node["kind"], node["metadata"]["name"]) == ("ComputeNode", "gpu-1")
    assert node["spec"]["devices"][0]["links"][0]["bandwidth"] == "450G"  # 18 x 25 GB/s one way
    assert data["health"]["nvidia-1"] == {"score": 30, "reasons": ["Xid 48"]}
    assert data["detectors"] == [
        {"vendor": "inventory", "devices": 2, "absent": False, "error": None, "warnings": []}
    ]


@pytest.mark.skipif(ctypes.util.find_library("nvidia-ml") is not None, reason="has libnvidia-ml")
def test_detect_without_accelerators_says_so_per_vendor(tmp_path: Path) -> None:
    result = CliRunner(env={"PATH": str(tmp_path)}).invoke(
        main, ["detect", "--sysfs-root", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "no accelerators found" in result.output
    assert "nvidia: none (no NVIDIA devices (NVML library not found))" in result.output
    assert "ascend: none (npu-smi not found on PATH)" in result.output


@pytest.mark.parametrize(
    ("env", "config", "message"),
    [
        (
            {"HCS_AGENT_INTERVAL_S": "-1"},
            None,
            "invalid setting interval_s (HCS_AGENT_INTERVAL_S): Input should be greater than 0",
        ),
        (
            {},
            "interval_s: 5\nlisten_prot: 80\n",
            "invalid setting listen_prot (HCS_AGENT_LISTEN_PROT): Extra inputs are not permitted",
        ),
        ({}, "vendors: [nvidia, amd]\n", "invalid setting vendors.1 (HCS_AGENT_VENDORS)"),
        ({}, "- not a mapping\n", "expected a mapping of settings"),
        (
            {},
            "report: true\n",
            "invalid setting node_name (HCS_AGENT_NODE_NAME): required when reporting",
        ),
    ],
    ids=[
        "env-negative-interval",
        "file-typo-key",
        "file-unknown-vendor",
        "file-not-a-mapping",
        "report-needs-node",
    ],
)
def test_run_rejects_bad_settings_by_key(
    tmp_path: Path, env: dict[str, str], config: str | None, message: str
) -> None:
    args = ["run", "--once"]
    if config is not None:
        (tmp_path / "agent.yaml").write_text(config)
        args += ["--config", str(tmp_path / "agent.yaml")]
    result = CliRunner(env=env).invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_environment_overrides_the_file(tmp_path: Path, inventory: Path) -> None:
    (tmp_path / "agent.yaml").write_text("interval_s: -5\n")
    port = _free_port()
    result = CliRunner(env={"HCS_AGENT_INTERVAL_S": "1"}).invoke(
        main,
        [
            "run",
            "--once",
            "--no-report",
            "--config",
            str(tmp_path / "agent.yaml"),
            "--inventory",
            str(inventory),
            "--listen-port",
            str(port),
        ],
    )
    assert result.exit_code == 0, result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"HCS_AGENT_HEALTH_SOURCE": "ebpf", "HCS_EBPF_LOADER": "/nonexistent/loader"},
            "hcs-agent: health monitoring: ",
        ),
        ({"HCS_AGENT_HEALTH_SOURCE": "sometimes"}, "invalid setting health_source"),
        ({"HCS_AGENT_HEALTH_QUIET_PERIOD_S": "-1"}, "invalid setting health_quiet_period_s"),
    ],
    ids=["ebpf-asked-but-no-loader", "unknown-source", "negative-quiet-period"],
)
def test_run_refuses_health_settings_it_cannot_honour(
    inventory: Path, env: dict[str, str], message: str
) -> None:
    args = ["run", "--once", "--no-report", "--inventory", str(inventory)]
    result = CliRunner(env=env).invoke(main, [*args, "--listen-port", str(_free_port())])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_run_without_kernel_sources_still_scores(inventory: Path) -> None:
    env = {"HCS_AGENT_HEALTH_SOURCE": "off"}
    args = ["run", "--once", "--no-report", "--inventory", str(inventory)]
    result = CliRunner(env=env).invoke(main, [*args, "--listen-port", str(_free_port())])
    assert result.exit_code == 0, result.output
