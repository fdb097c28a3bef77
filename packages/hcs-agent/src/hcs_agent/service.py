"""`hcs-agent run`: the collection loop and the /healthz and /metrics server (aiohttp)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiohttp import web

from hcs_agent.agent import Agent
from hcs_agent.healthloop import health_loop

log = logging.getLogger("hcs_agent")
AGENT_KEY = web.AppKey("agent", Agent)
INTERVAL_KEY = web.AppKey("interval_s", float)
STALE_AFTER = 3
"""Intervals without a finished collection before /healthz answers 503."""


def create_app(
    agent: Agent, interval_s: float, monotonic: Callable[[], float] = time.monotonic
) -> web.Application:
    app = web.Application()
    app[AGENT_KEY] = agent
    app[INTERVAL_KEY] = interval_s

    async def healthz(request: web.Request) -> web.Response:
        last = agent.last_cycle_at
        if last is None or monotonic() - last > STALE_AFTER * interval_s:
            return web.json_response({"ok": False, "reason": "no recent collection"}, status=503)
        body: dict[str, object] = {"ok": True, "phase": None, "report": None}
        if agent.last_built is not None and agent.last_built.node.status is not None:
            body["phase"] = str(agent.last_built.node.status.phase)
            body["problems"] = list(agent.last_built.problems)
        if agent.last_outcome is not None:
            body["report"] = "ok" if agent.last_outcome.ok else agent.last_outcome.error
        return web.json_response(body)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=agent.metrics.render(), content_type="text/plain", charset="utf-8")

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def run_loop(
    agent: Agent, interval_s: float, stop: asyncio.Event, once: bool = False
) -> None:
    """Collect every `interval_s` until `stop` is set; a failed cycle is logged, not fatal."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            built = await asyncio.to_thread(agent.cycle)
            outcome = agent.last_outcome
            log.info(
                "collected %d devices in %.1f ms; phase %s; report %s",
                len(built.node.spec.devices),
                (agent.last_collection.duration_s if agent.last_collection else 0) * 1000,
                built.node.status.phase if built.node.status else "-",
                "off" if outcome is None else ("ok" if outcome.ok else outcome.error),
            )
        except Exception:
            log.exception("collection cycle failed; next try in %.0f s", interval_s)
        if once:
            return
        remaining = max(0.0, interval_s - (time.monotonic() - started))
        with contextlib.suppress(TimeoutError):  # the interval passed without a stop
            await asyncio.wait_for(stop.wait(), timeout=remaining)


async def serve(
    agent: Agent,
    interval_s: float,
    host: str,
    port: int,
    once: bool = False,
    health_poll_s: float = 0.1,
) -> None:
    runner = web.AppRunner(create_app(agent, interval_s))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("serving /healthz and /metrics on %s:%d", host, port)
    stop = asyncio.Event()
    health = None
    if agent.health is not None and not once:
        health = asyncio.create_task(health_loop(agent.health, stop, health_poll_s))
    try:
        await run_loop(agent, interval_s, stop, once=once)
    finally:
        stop.set()
        if health is not None:
            await health
        if agent.health is not None:
            with agent.health.hold() as monitor:
                monitor.close()
        await runner.cleanup()
