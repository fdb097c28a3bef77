"""/healthz and /metrics over real HTTP (aiohttp's test server), before and after a collection."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hcs_agent.agent import Agent
from hcs_agent.collect import Collector
from hcs_agent.detect.inventory import InventoryDetector
from hcs_agent.metrics import AgentMetrics
from hcs_agent.report import InMemoryKube, Reporter
from hcs_agent.service import create_app, run_loop
from hcs_agent.topology import SysfsPci
from hcs_exchange import load_database

pytestmark = pytest.mark.integration
INVENTORY = """
devices:
  - {vendor: ascend, id: "0", uuid: NPU-0, name: 910B3, temperature: 52}
  - {vendor: ascend, id: "1", uuid: NPU-1, name: 910B3, health: {vendorStatus: Alarm}}
"""


def make_agent(tmp_path: Path, kube: InMemoryKube) -> Agent:
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    collector = Collector([InventoryDetector(tmp_path / "inventory.yaml")], SysfsPci(tmp_path))
    return Agent("npu-9", collector, load_database(), AgentMetrics(), Reporter(kube))


async def _exercise(tmp_path: Path, kube: InMemoryKube) -> tuple[int, int, str, dict[str, object]]:
    agent = make_agent(tmp_path, kube)
    async with TestClient(TestServer(create_app(agent, interval_s=10))) as http:
        before = (await http.get("/healthz")).status
        await run_loop(agent, 10, asyncio.Event(), once=True)
        after = await http.get("/healthz")
        metrics = await (await http.get("/metrics")).text()
        return before, after.status, metrics, await after.json()


def test_healthz_and_metrics(tmp_path: Path) -> None:
    kube = InMemoryKube()
    before, after, metrics, health = asyncio.run(_exercise(tmp_path, kube))
    assert (before, after) == (503, 200)
    assert health["phase"] == "Degraded"
    assert health["report"] == "ok"
    npu = '{device="ascend-%s",model="Ascend-910B3",uuid="NPU-%s",vendor="ascend"}'
    assert f"hcs_agent_device_health_score{npu % (1, 1)} 40.0" in metrics
    assert f"hcs_agent_device_temperature_celsius{npu % (0, 0)} 52.0" in metrics
    assert "hcs_agent_collection_duration_seconds_count 1.0" in metrics
    assert 'hcs_agent_detector_up{vendor="inventory"} 1.0' in metrics
    vram = "hcs_agent_device_vram_bytes" + npu % (0, 0)
    assert f"{vram} 6.8719476736e+10" in metrics  # 64Gi: the profile's, npu-smi was not asked
    assert kube.compute_nodes["npu-9"]["status"]["allocatable"]["devices"] == 1


def test_report_failure_is_counted_and_shown(tmp_path: Path) -> None:
    from hcs_agent.errors import ReportError

    kube = InMemoryKube()
    kube.fail = [ReportError("apply computenodes/npu-9: HTTP 403 Forbidden")]
    _, after, metrics, health = asyncio.run(_exercise(tmp_path, kube))
    assert after == 200  # the collection is fresh; the API server's refusal is reported, not fatal
    assert health["report"] == "apply computenodes/npu-9: HTTP 403 Forbidden"
    assert "hcs_agent_report_failures_total 1.0" in metrics
