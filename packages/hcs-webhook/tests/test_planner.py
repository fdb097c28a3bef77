"""The Planner's HTTP adapter against a tiny aiohttp server standing in for hcs-scheduler."""

import asyncio

import pytest
import pytest_asyncio
from aiohttp import web

from hcs_api import PlanRequest
from hcs_webhook.errors import PlanError
from hcs_webhook.planner import HttpPlanner

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]


@pytest_asyncio.fixture
async def extender():
    """Serve POST /plan with whatever `state['reply']` says; record the bodies received."""
    state = {"reply": None, "bodies": []}

    async def plan(request):
        state["bodies"].append(await request.json())
        return await state["reply"](request)

    app = web.Application()
    app.router.add_post("/plan", plan)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield state
    await runner.cleanup()


async def test_asks_with_the_wire_body_and_reads_the_answer(extender, kit):
    async def reply(request):
        answer = {
            "vendor": "ascend",
            "model": "Ascend-910B3",
            "node": "npu-01",
            "candidates": [{"vendor": "ascend", "model": "Ascend-910B3", "nodes": 3}],
        }
        return web.json_response(answer)

    extender["reply"] = reply
    planner = HttpPlanner(extender["url"] + "/", timeout_seconds=2)
    pod = kit.pod(kit.container("train", vram="16Gi"))
    result = await planner.plan(pod)
    await planner.close()
    assert extender["bodies"] == [PlanRequest(pod=pod).to_wire()]
    assert (result.vendor, result.model, result.node) == ("ascend", "Ascend-910B3", "npu-01")
    assert result.candidates[0].nodes == 3


async def test_error_answer_is_a_result_not_an_exception(extender, kit):
    async def reply(request):
        return web.json_response({"error": "no Ascend node has 64Gi free"})

    extender["reply"] = reply
    planner = HttpPlanner(extender["url"], timeout_seconds=2)
    result = await planner.plan(kit.pod())
    await planner.close()
    assert (result.vendor, result.error) == (None, "no Ascend node has 64Gi free")


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [(500, "boom", "answered 500: boom"), (200, '{"vendor": "intel"}', "answered no PlanResult")],
    ids=["server-error", "not-a-plan"],
)
async def test_bad_answers_are_plan_errors(extender, kit, status, body, message):
    async def reply(request):
        return web.Response(status=status, text=body)

    extender["reply"] = reply
    planner = HttpPlanner(extender["url"], timeout_seconds=2)
    with pytest.raises(PlanError, match=message):
        await planner.plan(kit.pod())
    await planner.close()


async def test_a_slow_extender_times_out(extender, kit):
    async def reply(request):
        await asyncio.sleep(5)
        return web.json_response({})

    extender["reply"] = reply
    planner = HttpPlanner(extender["url"], timeout_seconds=0.2)
    with pytest.raises(PlanError, match="could not be asked"):
        await planner.plan(kit.pod())
    await planner.close()


async def test_nobody_listening_is_a_plan_error(kit):
    planner = HttpPlanner("http://127.0.0.1:9", timeout_seconds=1)
    with pytest.raises(PlanError, match="could not be asked"):
        await planner.plan(kit.pod())
    await planner.close()
