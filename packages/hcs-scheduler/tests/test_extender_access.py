"""Only kube-scheduler's certificate and the webhook's token reach /bind and /plan (filter and
prioritize stay open); a body over the limit is refused unread and a slow one is given up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hcs_scheduler.extender.access import Access, Refused, common_name
from hcs_scheduler.extender.app import create_app
from hcs_scheduler.extender.build import build_extender
from hcs_scheduler.extender.kube import InMemoryKube
from hcs_scheduler.extender.serve import access_of
from hcs_scheduler.extender.settings import ExtenderSettings

WEBHOOK = "system:serviceaccount:hcs-system:hcs-webhook"


def cert(name: str) -> dict[str, Any]:
    """A verified peer certificate as `ssl.SSLSocket.getpeercert()` reports it."""
    return {"subject": ((("organizationName", "hcs"),), (("commonName", name),))}


class Reviewer:
    def __init__(self, users: dict[str, str]) -> None:
        self.users, self.calls = users, 0

    async def __call__(self, token: str) -> str | None:
        self.calls += 1
        return self.users.get(token)


def access(reviewer: Reviewer, clock: list[float] | None = None) -> Access:
    now = clock or [0.0]
    return Access(
        clients=frozenset({"hcs-kube-scheduler"}),
        users=frozenset({WEBHOOK}),
        reviewer=reviewer,
        clock=lambda: now[0],
    )


CASES = [
    ("filter-is-open", "/filter", None, "", "anyone"),
    ("scheduler-certificate", "/bind", cert("hcs-kube-scheduler"), "", "client certificate"),
    ("webhook-token", "/plan", None, "Bearer good", f"user {WEBHOOK}"),
    ("no-credentials", "/bind", None, "", 401),
    ("another-certificate", "/bind", cert("mallory"), "", 403),
    ("another-users-token", "/plan", None, "Bearer other", 403),
    ("unknown-token", "/plan", None, "Bearer forged", 401),
    ("basic-auth-is-not-a-token", "/bind", None, "Basic Zm9vOmJhcg==", 401),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "peer", "header", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_who_may_bind_and_plan(path, peer, header, expected):
    gate = access(Reviewer({"good": WEBHOOK, "other": "system:serviceaccount:ml:job"}))
    if isinstance(expected, int):
        with pytest.raises(Refused) as refused:
            await gate.check(path, peer, header)
        assert refused.value.status == expected
    else:
        assert (await gate.check(path, peer, header)).startswith(expected)


@pytest.mark.asyncio
async def test_a_tokens_verdict_is_kept_for_a_minute():
    reviewer, clock = Reviewer({"good": WEBHOOK}), [0.0]
    gate = access(reviewer, clock)
    for _ in range(5):
        await gate.check("/plan", None, "Bearer good")
    assert reviewer.calls == 1
    clock[0] = 61.0
    await gate.check("/plan", None, "Bearer good")
    assert reviewer.calls == 2


def test_the_common_name_is_read_from_the_subject():
    assert common_name(cert("hcs-kube-scheduler")) == "hcs-kube-scheduler"
    assert common_name(None) is None
    assert common_name({"subject": ((("organizationName", "x"),),)}) is None


@pytest.mark.asyncio
async def test_the_served_default_is_closed_and_the_webhook_token_opens_it():
    kube = InMemoryKube()
    kube.tokens["webhook-token"] = WEBHOOK
    settings = ExtenderSettings(leader_elect=False)
    extender = build_extender(settings, kube)
    app = create_app(extender, access=access_of(settings, kube))
    async with TestClient(TestServer(app)) as client:
        bind = {"PodName": "p", "PodNamespace": "ml", "PodUID": "u", "Node": "n"}
        refused = await client.post("/bind", json=bind)
        assert refused.status == 401
        assert "needs a client certificate or a bearer token" in (await refused.json())["Error"]
        let_in = await client.post(
            "/bind", json=bind, headers={"Authorization": "Bearer webhook-token"}
        )
        assert let_in.status in (200, 503)  # past the gate: the binder (or readiness) answers
        filtered = await client.post("/filter", json={"Pod": {"spec": {}}, "NodeNames": []})
        assert filtered.status in (200, 503)


async def _raw(port: int, data: bytes, wait: float) -> tuple[bytes, float]:
    """Send `data`, then read until the server closes: what it answered and how long it took."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await asyncio.wait_for(reader.read(), wait)
    writer.close()
    return answer, loop.time() - started


@pytest.mark.asyncio
async def test_a_body_over_the_limit_is_refused_unread_and_a_slow_one_given_up():
    extender = build_extender(ExtenderSettings(leader_elect=False), InMemoryKube())
    app = create_app(extender, max_body_bytes=65536, request_timeout=0.5)
    server = TestServer(app)
    await server.start_server(lingering_time=0.5)  # as `serve` sets it
    try:
        head = b"POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        answer, _ = await _raw(server.port, head + b"Content-Length: 20000000\r\n\r\n", 5)
        assert answer.startswith(b"HTTP/1.1 413")
        assert b"at most 65536 are read" in answer
        answer, took = await _raw(server.port, head + b"Content-Length: 100\r\n\r\n{", 5)
        assert answer.startswith(b"HTTP/1.1 408")
        assert b"did not arrive within 0.5 s" in answer
        assert took < 3
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_a_background_loop_that_dies_fails_health_instead_of_going_stale(caplog):
    # A bug (not an API error) in the watch loop must not leave a server that answers from a
    # cache nobody updates: /healthz fails (the kubelet restarts it) and /readyz says why.
    kube = InMemoryKube()
    kube.fail_next["list"] = RuntimeError("a bug while listing")  # type: ignore[assignment]
    extender = build_extender(ExtenderSettings(leader_elect=False), kube)
    async with TestClient(TestServer(create_app(extender))) as client:
        for _ in range(50):
            if extender.failed:
                break
            await asyncio.sleep(0.01)
        health = await client.get("/healthz")
        assert health.status == 500
        assert "a bug while listing" in (await health.json())["status"]
        assert (await client.get("/readyz")).status == 503
    assert any("stopped" in r.message and r.levelname == "CRITICAL" for r in caplog.records)
