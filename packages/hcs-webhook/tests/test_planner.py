"""The Planner's HTTP adapter against a tiny aiohttp server standing in for hcs-scheduler."""

import asyncio
import ssl

import pytest
import pytest_asyncio
from aiohttp import web

from hcs_api import PlanRequest
from hcs_webhook.errors import PlanError
from hcs_webhook.planner import HttpPlanner
from hcs_webhook.tls import self_signed

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


async def test_sends_its_service_account_token_read_afresh_each_call(extender, kit, tmp_path):
    seen = []

    async def reply(request):
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"error": "nothing free"})

    extender["reply"] = reply
    token = tmp_path / "token"
    token.write_text("first-token\n")
    planner = HttpPlanner(extender["url"], timeout_seconds=2, token_file=token)
    await planner.plan(kit.pod(kit.container("train", vram="16Gi")))
    token.write_text("rotated-token")  # the kubelet rotates the projected token
    await planner.plan(kit.pod(kit.container("train", vram="16Gi")))
    missing = HttpPlanner(extender["url"], timeout_seconds=2, token_file=tmp_path / "none")
    await missing.plan(kit.pod(kit.container("train", vram="16Gi")))
    await planner.close()
    await missing.close()
    assert seen == ["Bearer first-token", "Bearer rotated-token", None]


async def test_verifies_the_extenders_certificate_against_its_ca(kit, tmp_path):
    cert, key = self_signed(tmp_path, ["127.0.0.1"])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    app = web.Application()

    async def plan(request):
        return web.json_response({"error": "nothing free"})

    app.router.add_post("/plan", plan)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}"
    try:
        trusted = HttpPlanner(url, timeout_seconds=2, ca=cert)
        assert (await trusted.plan(kit.pod())).error == "nothing free"
        await trusted.close()
        other_ca, _ = self_signed(tmp_path / "other", ["127.0.0.1"])
        untrusted = HttpPlanner(url, timeout_seconds=2, ca=other_ca)
        with pytest.raises(PlanError, match="could not be asked"):
            await untrusted.plan(kit.pod())
        await untrusted.close()
    finally:
        await runner.cleanup()
