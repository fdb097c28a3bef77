"""The extender's HTTP server: `create_app(settings, deps)` for kube-scheduler and the webhook.

POST /filter, /prioritize, /bind speak kube-scheduler's extender protocol; POST /plan answers
the webhook's early-binding question; GET /healthz, /readyz (once the cache has synced, and only
on the leader: a standby answers 503 so that the Service routes to the leader) and /metrics.
A malformed body (a pod whose fields HCS reads are not of Kubernetes' types included) gets 400
with a message naming the field; errors of a decision go in the protocol's `Error` field;
nothing a caller sends produces a 500, and a bug in HCS is a JSON 500 with `Error` set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError

from hcs_api import PlanRequest, describe_validation_error
from hcs_scheduler.extender.access import Access, access_middleware
from hcs_scheduler.extender.binder import Binder
from hcs_scheduler.extender.decide import Decider
from hcs_scheduler.extender.leader import LeaderElector
from hcs_scheduler.extender.limits import limits_middleware
from hcs_scheduler.extender.metrics import ExtenderMetrics
from hcs_scheduler.extender.state import ClusterState
from hcs_scheduler.extender.status import StatusWriter
from hcs_scheduler.extender.sync import Syncer
from hcs_scheduler.extender.wire import ExtenderArgs, ExtenderBindingArgs, pod_problems

log = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)
PodArgs = TypeVar("PodArgs", ExtenderArgs, PlanRequest)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Encoded:
    """An answer already encoded as JSON."""

    body: bytes


class BadRequest(Exception):
    """The request body is not what the endpoint takes; the message says what is wrong."""


@dataclass
class Extender:
    """What the handlers work with; built once in main() (or by a test)."""

    state: ClusterState
    decider: Decider
    binder: Binder
    metrics: ExtenderMetrics
    syncer: Syncer | None = None
    """Follows the API server; None in static mode (the state is filled from a file)."""
    status_writer: StatusWriter | None = None
    """Sums allocations into ComputeNode status.devices; None in static mode."""
    leader: LeaderElector | None = None
    """Holds this replica's claim on the Lease; None: the only replica, always leading."""
    failed: list[str] = field(default_factory=list)
    """Background loops that stopped on an error: the process is broken (its cache no longer
    follows the API), so /healthz fails and the kubelet restarts it."""


EXTENDER_KEY = web.AppKey("extender", Extender)


def create_app(
    extender: Extender,
    *,
    access: Access | None = None,
    max_body_bytes: int = 4 << 20,
    request_timeout: float = 10.0,
) -> web.Application:
    """The server; `access` says who may bind and plan (None: anyone, as in tests; `serve`
    builds it from the settings, closed by default)."""
    middlewares = [limits_middleware(max_body_bytes, request_timeout), _errors]
    middlewares.insert(0, access_middleware(access or Access(open=True)))
    app = web.Application(client_max_size=max_body_bytes, middlewares=middlewares)
    app[EXTENDER_KEY] = extender
    app.router.add_post("/filter", _filter)
    app.router.add_post("/prioritize", _prioritize)
    app.router.add_post("/bind", _bind)
    app.router.add_post("/plan", _plan)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    for loop in (extender.syncer, extender.status_writer, extender.leader):
        if loop is not None:
            app.cleanup_ctx.append(_background(loop.run, extender.failed))
    return app


def _background(
    run: Callable[[], Coroutine[Any, Any, None]], failed: list[str]
) -> Callable[[web.Application], Any]:
    """A task that lives as long as the app (the watch loop, the status writer, the elector).
    One that stops on an error is logged with its traceback and recorded in `failed`: never a
    silent death that leaves the cache stale while the server keeps answering."""

    def stopped(task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        name = getattr(run, "__qualname__", str(run))
        log.critical("%s stopped: %r", name, error, exc_info=error)
        failed.append(f"{name} stopped: {error!r}")

    async def context(app: web.Application) -> Any:
        task = asyncio.create_task(run())
        task.add_done_callback(stopped)
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return context


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as error:
        verb = request.path.strip("/")
        request.app[EXTENDER_KEY].metrics.decisions.labels(verb, "invalid").inc()
        return web.json_response({"Error": str(error)}, status=400)
    except web.HTTPRequestEntityTooLarge:
        return web.json_response({"Error": "request body too large"}, status=413)
    except web.HTTPException:
        raise
    except Exception:
        # A bug in HCS, not the caller's input: logged with its traceback, answered as JSON in
        # the protocol's shape (kube-scheduler reads `Error`), never aiohttp's text page.
        log.exception("error answering %s", request.path)
        request.app[EXTENDER_KEY].metrics.decisions.labels(request.path.strip("/"), "error").inc()
        message = f"internal error in hcs-scheduler answering {request.path}; see its log"
        return web.json_response({"Error": message}, status=500)


async def _body(request: web.Request, model: type[Model]) -> Model:
    try:
        data = orjson.loads(await request.read())
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"the body is not JSON: {error}") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(describe_validation_error(error))
        raise BadRequest(f"the body is not a valid {model.__name__}: {problems}") from None


async def _pod_body(request: web.Request, model: type[PodArgs], where: str) -> PodArgs:
    """A body carrying a Pod (named `where` on the wire): the fields of the pod the extender
    reads must have Kubernetes' types too."""
    args = await _body(request, model)
    problems = pod_problems(args.pod, where)
    if problems:
        raise BadRequest(f"the body is not a valid {model.__name__}: {'; '.join(problems)}")
    return args


NOT_SYNCED = (
    "hcs-scheduler has not read the whole cluster yet (its cache is not synced): it cannot "
    "answer without risking a device that is already taken; retry shortly"
)


def _timed(verb: str) -> Callable[[Callable[[web.Request, Extender], Awaitable[Any]]], Handler]:
    """Runs a handler under the verb's latency histogram; its result is answered as JSON.

    Until the cache holds every kind (a process just started), every verb answers 503: a node
    list without the pods bound to it would offer their devices again, and an empty one would
    make kube-scheduler park the pod as unschedulable for minutes. A 503 is an error to
    kube-scheduler, which retries the pod after a short backoff.
    """

    def wrap(inner: Callable[[web.Request, Extender], Awaitable[Any]]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            extender = request.app[EXTENDER_KEY]
            if not extender.state.synced:
                extender.metrics.decisions.labels(verb, "not-synced").inc()
                return web.json_response({"Error": NOT_SYNCED}, status=503)
            started = time.perf_counter()
            try:
                body = await inner(request, extender)
            finally:
                extender.metrics.latency.labels(verb).observe(time.perf_counter() - started)
            encoded = body.body if isinstance(body, Encoded) else orjson.dumps(body)
            return web.Response(body=encoded, content_type="application/json")

        return handler

    return wrap


@_timed("filter")
async def _filter(request: web.Request, extender: Extender) -> Any:
    args = await _pod_body(request, ExtenderArgs, "Pod")
    result = extender.decider.filter(args.pod, args.candidate_names())
    outcome = "fits" if result.node_names else "none"
    extender.metrics.decisions.labels("filter", outcome).inc()
    return Encoded(result.to_json())


@_timed("prioritize")
async def _prioritize(request: web.Request, extender: Extender) -> Any:
    args = await _pod_body(request, ExtenderArgs, "Pod")
    priorities = extender.decider.prioritize(args.pod, args.candidate_names())
    extender.metrics.decisions.labels("prioritize", "scored").inc()
    return Encoded(extender.decider.encode(priorities))


@_timed("bind")
async def _bind(request: web.Request, extender: Extender) -> Any:
    args = await _body(request, ExtenderBindingArgs)
    result = await extender.binder.bind(args)
    extender.metrics.decisions.labels("bind", "refused" if result.error else "bound").inc()
    return result.to_wire()


@_timed("plan")
async def _plan(request: web.Request, extender: Extender) -> Any:
    args = await _pod_body(request, PlanRequest, "pod")
    result = extender.decider.plan(args.pod)
    extender.metrics.decisions.labels("plan", "none" if result.error else "planned").inc()
    return result.to_wire()


async def _healthz(request: web.Request) -> web.StreamResponse:
    failed = request.app[EXTENDER_KEY].failed
    if failed:
        return web.json_response({"status": "; ".join(failed)}, status=500)
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.StreamResponse:
    extender = request.app[EXTENDER_KEY]
    state, leader = extender.state, extender.leader
    if extender.failed:
        return web.json_response({"status": "; ".join(extender.failed)}, status=503)
    if not state.synced:
        return web.json_response({"status": "cache not synced yet"}, status=503)
    if leader is not None and not leader.is_leader:
        return web.json_response({"status": f"standby: {leader.who_leads()}"}, status=503)
    return web.json_response({"status": "ok", "nodes": len(state.nodes), "pods": len(state.pods)})


async def _metrics(request: web.Request) -> web.StreamResponse:
    body = generate_latest(request.app[EXTENDER_KEY].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
