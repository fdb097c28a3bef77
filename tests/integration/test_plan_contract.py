"""The webhook's planner and the extender's POST /plan agree over real HTTP: an early-bound pod
gets the vendor the extender would place it on, and an impossible one a reason, not a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestServer

from hcs_api.v1alpha1 import ComputeNode
from hcs_scheduler.extender.app import create_app
from hcs_scheduler.extender.build import build_extender
from hcs_scheduler.extender.settings import ExtenderSettings
from hcs_webhook.planner import HttpPlanner

pytestmark = [pytest.mark.integration, pytest.mark.asyncio, pytest.mark.timeout(30)]

EXAMPLE = Path(__file__).absolute().parents[2] / "deploy" / "examples" / "computenode-h100.yaml"


def pod(vram: str, vendors: str | None = None) -> dict[str, Any]:
    annotations = {"hcs.io/vendors": vendors} if vendors else {}
    return {
        "metadata": {"name": "p", "namespace": "ml", "uid": "u", "annotations": annotations},
        "spec": {
            "containers": [{"name": "main", "resources": {"requests": {"ai.compute/vram": vram}}}]
        },
    }


async def test_the_webhook_planner_reads_the_extenders_plan() -> None:
    node = ComputeNode.model_validate(yaml.safe_load(EXAMPLE.read_text()))
    extender = build_extender(ExtenderSettings(), None, nodes=[node])
    server = TestServer(create_app(extender))
    await server.start_server()
    planner = HttpPlanner(str(server.make_url("/")), timeout_seconds=5)
    try:
        plan = await planner.plan(pod("40Gi"))
        assert (plan.vendor, plan.model, plan.node) == ("nvidia", "H100-SXM5-80G", "gpu-h100-01")
        refused = await planner.plan(pod("40Gi", vendors="ascend"))
        assert refused.vendor is None
        assert refused.error
    finally:
        await planner.close()
        await server.close()
