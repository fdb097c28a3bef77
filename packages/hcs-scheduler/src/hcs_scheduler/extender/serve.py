"""`hcs-scheduler serve`: the extender over HTTP, following the API server or a cluster file."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Any

import click
from aiohttp import web
from pydantic import ValidationError

from hcs_api import HcsApiError, describe_validation_error
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
    click.echo(f"hcs-scheduler extender on {settings.host}:{settings.port} ({mode})", err=True)
    web.run_app(
        create_app(extender, settings.max_body_bytes),
        host=settings.host,
        port=settings.port,
        print=None,
    )


def _api(settings: ExtenderSettings) -> KubePort:
    from hcs_scheduler.extender.kube_client import KubernetesKube  # the client is heavy to import

    return KubernetesKube.from_environment(
        str(settings.kubeconfig) if settings.kubeconfig else None, settings.api_concurrency
    )
