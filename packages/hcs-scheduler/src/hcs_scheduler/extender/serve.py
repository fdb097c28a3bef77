"""`hcs-scheduler serve`: the extender over HTTP, following the API server or a cluster file."""

from __future__ import annotations

import gc
import logging
import ssl
from pathlib import Path
from typing import Any

import click
from aiohttp import web
from pydantic import ValidationError

from hcs_api import HcsApiError, describe_validation_error
from hcs_scheduler.extender.access import Access
from hcs_scheduler.extender.app import create_app
from hcs_scheduler.extender.build import build_extender
from hcs_scheduler.extender.kube import KubePort
from hcs_scheduler.extender.settings import ExtenderSettings


@click.command()
@click.option(
    "--cluster",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Static mode: a YAML list of ComputeNodes; filter and prioritize without an API server.",
)
@click.option("--port", type=int, help="Port to listen on (default 8888).")
@click.option("--host", help="Address to listen on (default 0.0.0.0).")
@click.option("--policy", help="Placement policy (default: HCS's default).")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Kubeconfig for the API server (default: in-cluster configuration).",
)
def serve(
    cluster: Path | None,
    port: int | None,
    host: str | None,
    policy: str | None,
    kubeconfig: Path | None,
) -> None:
    """Serve kube-scheduler's extender verbs (filter, prioritize, bind) and /plan.

    Settings come from these flags, else HCS_SCHEDULER_* environment variables.
    """
    flags: dict[str, Any] = {"cluster": cluster, "port": port, "host": host}
    flags.update(policy=policy, kubeconfig=kubeconfig)
    try:
        # Through __init__, so HCS_SCHEDULER_* variables fill what the flags leave unset.
        settings = ExtenderSettings(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as error:
        raise click.ClickException(
            "invalid setting: " + "; ".join(describe_validation_error(error))
        ) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        kube = None if settings.cluster is not None else _api(settings)
        # The cache's first fill is most of the heap and lives as long as the process: freeze it
        # out of the collector's scans (gc.freeze), which otherwise grow with it and show up
        # as latency spikes under load.
        extender = build_extender(settings, kube, on_synced=gc.freeze)
        if kube is None:
            gc.freeze()
    except HcsApiError as error:
        raise click.ClickException(str(error)) from None
    mode = f"static mode, {settings.cluster}" if kube is None else "following the API server"
    if extender.leader is not None:
        lease = f"{settings.lease_namespace}/{settings.lease_name}"
        mode += f"; binds while it holds lease {lease} as {settings.identity}"
    context = _tls(settings)
    scheme = "https" if context is not None else "http"
    click.echo(
        f"hcs-scheduler extender on {scheme}://{settings.host}:{settings.port} ({mode}); "
        f"/bind and /plan: {describe(settings)}",
        err=True,
    )
    app = create_app(
        extender,
        max_body_bytes=settings.max_body_bytes,
        request_timeout=settings.request_timeout,
        access=access_of(settings, kube),
    )
    # aiohttp starts the keep-alive timer when a connection opens and closes a connection that
    # has not finished a request's headers by then: the header timeout. After refusing a body,
    # it reads and drops the rest for at most lingering_time before it closes.
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        ssl_context=context,
        keepalive_timeout=settings.request_timeout,
        lingering_time=settings.request_timeout,
        print=None,
    )


def access_of(settings: ExtenderSettings, kube: KubePort | None) -> Access:
    """Who may bind and plan, from the settings (client certificates only with a client CA)."""
    return Access(
        open=settings.open_bind,
        clients=frozenset(settings.bind_clients) if settings.client_ca else frozenset(),
        users=frozenset(settings.token_users),
        reviewer=kube.review_token if kube is not None else None,
    )


def describe(settings: ExtenderSettings) -> str:
    if settings.open_bind:
        return "open to anyone who reaches the port (open_bind)"
    ways = [f"users {', '.join(settings.token_users)} by bearer token"]
    if settings.client_ca is not None:
        ways.insert(0, f"client certificates {', '.join(settings.bind_clients)}")
    return "only " + " or ".join(ways)


def _tls(settings: ExtenderSettings) -> ssl.SSLContext | None:
    """The server's TLS context: its certificate, and client certificates verified against
    `client_ca` when one is set (optional at the handshake: filter and prioritize need none)."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as error:
        raise click.ClickException(
            f"invalid setting tls_cert/tls_key ({settings.tls_cert}, {settings.tls_key}): {error}"
        ) from None
    if settings.client_ca is not None:
        try:
            context.load_verify_locations(cafile=settings.client_ca)
        except (OSError, ssl.SSLError) as error:
            raise click.ClickException(
                f"invalid setting client_ca ({settings.client_ca}): {error}"
            ) from None
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def _api(settings: ExtenderSettings) -> KubePort:
    from hcs_scheduler.extender.kube_client import KubernetesKube  # the client is heavy to import

    return KubernetesKube.from_environment(
        str(settings.kubeconfig) if settings.kubeconfig else None, settings.api_concurrency
    )
