"""The HTTP shell: `create_app(settings, deps)` with POST /mutate, /validate, /healthz, /metrics.

Handlers only translate: bytes -> AdmissionReview -> Admission -> AdmissionReview. One
middleware maps errors to responses: a review that is not usable (not JSON, over the size
limit, wrong shape) is 400 with the reason; only a bug in HCS is a 500.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import ValidationError

from hcs_api import describe_validation_error
from hcs_webhook._podshape import pod_problems
from hcs_webhook.admission import Admission, Deps
from hcs_webhook.errors import BadReviewError
from hcs_webhook.limits import limits_middleware
from hcs_webhook.review import AdmissionRequest, AdmissionResponse, AdmissionReview
from hcs_webhook.settings import WebhookSettings

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Review latencies are sub-millisecond to a few ms; the plan and API reads reach into seconds.
_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Per-app registry (no process-global state, so tests and several apps do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "hcs_webhook_review_seconds",
            "Time to answer one AdmissionReview, by endpoint.",
            ["endpoint"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "hcs_webhook_decisions",
            "Answers by endpoint and outcome (allowed, patched, denied, bad_request, error).",
            ["endpoint", "outcome"],
            registry=self.registry,
        )


ADMISSION_KEY = web.AppKey("admission", Admission)
METRICS_KEY = web.AppKey("metrics", Metrics)


def create_app(settings: WebhookSettings, deps: Deps) -> web.Application:
    """The webhook's aiohttp application."""
    limits = limits_middleware(settings.max_body_bytes, settings.request_timeout)
    app = web.Application(
        middlewares=[limits, _errors_to_responses], client_max_size=settings.max_body_bytes
    )
    app[ADMISSION_KEY] = Admission(settings, deps)
    app[METRICS_KEY] = Metrics()
    app.router.add_post("/mutate", _review_handler("mutate"))
    app.router.add_post("/validate", _review_handler("validate"))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    return app


def make_runner(settings: WebhookSettings, deps: Deps) -> web.AppRunner:
    """The app's runner with the server's limits: the keep-alive timer also starts when a
    connection opens, so a client that has not sent a request's headers within
    `request_timeout` is disconnected; a refused body is drained at most as long."""
    timeout = settings.request_timeout
    return web.AppRunner(
        create_app(settings, deps),
        access_log=None,
        keepalive_timeout=timeout,
        lingering_time=timeout,
    )


@web.middleware
async def _errors_to_responses(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS_KEY]
    endpoint = request.path.strip("/")
    try:
        return await handler(request)
    except BadReviewError as error:
        metrics.decisions.labels(endpoint, "bad_request").inc()
        return web.json_response({"error": str(error)}, status=400)
    except web.HTTPException:
        raise
    except Exception:
        # A bug in HCS, not bad input: logged with its traceback, answered 500 so the API
        # server applies the webhook's failurePolicy.
        log.exception("error answering %s", request.path)
        metrics.decisions.labels(endpoint, "error").inc()
        return web.json_response({"error": "internal error in hcs-webhook"}, status=500)


def _review_handler(endpoint: str) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        started = time.perf_counter()
        review = await _read_review(request)
        assert review.request is not None
        admission = request.app[ADMISSION_KEY]
        decide = admission.mutate if endpoint == "mutate" else admission.validate
        response = await _decide(decide, review.request)
        metrics = request.app[METRICS_KEY]
        metrics.decisions.labels(endpoint, _outcome(response)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        return web.json_response(AdmissionReview(response=response).to_wire())

    return handle


async def _decide(
    decide: Callable[[AdmissionRequest], Awaitable[AdmissionResponse]], request: AdmissionRequest
) -> AdmissionResponse:
    try:
        return await decide(request)
    except (TypeError, AttributeError, KeyError, IndexError) as error:
        # The object passed the review's schema but is not shaped like a Pod (the API server
        # never sends such a thing; a hand-made review can).
        raise BadReviewError(f"request.object is not a valid Pod: {error!r}") from None


async def _read_review(request: web.Request) -> AdmissionReview:
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BadReviewError(
            f"body is over {request.app[ADMISSION_KEY].settings.max_body_bytes} bytes"
        ) from None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise BadReviewError(f"body is not JSON: {error}") from None
    try:
        review = AdmissionReview.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(describe_validation_error(error))
        raise BadReviewError(f"not an admission.k8s.io/v1 AdmissionReview: {problems}") from None
    if review.request is None:
        raise BadReviewError("AdmissionReview has no request")
    pod = review.request.object
    if review.request.is_pod() and isinstance(pod, dict):
        wrong = pod_problems(pod, "request.object")
        if wrong:
            raise BadReviewError(f"request.object is not a valid Pod: {'; '.join(wrong)}")
    return review


def _outcome(response: AdmissionResponse) -> str:
    if not response.allowed:
        return "denied"
    return "patched" if response.patch else "allowed"


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS_KEY].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
