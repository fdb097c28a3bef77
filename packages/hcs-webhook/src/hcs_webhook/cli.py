"""`hcs-webhook serve`: build the settings and the adapters once, then run the app over TLS."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

import click
import kubernetes
from aiohttp import web

from hcs_exchange import Exchange, load_database
from hcs_webhook.admission import Deps
from hcs_webhook.certs import certs
from hcs_webhook.errors import ConfigError, WebhookError
from hcs_webhook.kube import KubernetesCluster, NoCluster
from hcs_webhook.planner import HttpPlanner
from hcs_webhook.server import make_runner
from hcs_webhook.settings import WebhookSettings, load_settings
from hcs_webhook.tls import DEFAULT_HOSTS, ReloadingTLS, self_signed

log = logging.getLogger("hcs_webhook")


@click.group()
def main() -> None:
    """HCS admission webhook: validates ai.compute/* pods and injects the vendor runtime."""


main.add_command(certs)


@main.command()
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="YAML settings.")
@click.option("--port", type=int, help="HTTPS port (default 8443).")
@click.option("--host", help="Address to listen on (default 0.0.0.0).")
@click.option("--tls-cert", type=click.Path(path_type=Path), help="PEM certificate chain.")
@click.option("--tls-key", type=click.Path(path_type=Path), help="PEM private key.")
@click.option("--self-signed", is_flag=True, help="Generate a certificate (development only).")
@click.option("--cert-dir", type=click.Path(path_type=Path), help="Where --self-signed writes.")
def serve(
    config_file: Path | None,
    port: int | None,
    host: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    self_signed: bool,
    cert_dir: Path | None,
) -> None:
    """Serve POST /mutate and /validate (and /healthz, /metrics) over HTTPS."""
    if self_signed and (tls_cert or tls_key):
        raise click.UsageError("--self-signed and --tls-cert/--tls-key exclude each other")
    try:
        settings = load_settings(
            config_file, port=port, host=host, tls_cert=tls_cert, tls_key=tls_key
        )
    except WebhookError as error:
        raise click.ClickException(str(error)) from None
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s %(message)s")
    if self_signed:
        directory = cert_dir or Path(tempfile.mkdtemp(prefix="hcs-webhook-"))
        cert, key = _self_signed(directory)
        settings = settings.model_copy(update={"tls_cert": cert, "tls_key": key})
    if settings.tls_cert is None or settings.tls_key is None:
        raise click.UsageError("give --tls-cert and --tls-key, or --self-signed")
    try:
        tls = ReloadingTLS(settings.tls_cert, settings.tls_key)
        deps = Deps(
            cluster=_connect(settings),
            planner=HttpPlanner(
                settings.scheduler_url,
                settings.plan_timeout_seconds,
                ca=settings.scheduler_ca,
                token_file=settings.scheduler_token_file,
            ),
            exchange=Exchange(load_database()),
        )
    except WebhookError as error:
        raise click.ClickException(str(error)) from None
    asyncio.run(_run(settings, deps, tls))


def _connect(settings: WebhookSettings) -> KubernetesCluster | NoCluster:
    try:
        return KubernetesCluster.connect(settings.kubeconfig)
    except kubernetes.config.ConfigException as error:
        raise ConfigError(f"kubeconfig: cannot configure the Kubernetes client: {error}") from None


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = self_signed(directory, DEFAULT_HOSTS)
    click.echo(f"self-signed certificate: {cert} (use it as the CA: curl --cacert {cert})")
    return cert, key


async def _run(settings: WebhookSettings, deps: Deps, tls: ReloadingTLS) -> None:
    runner = make_runner(settings, deps)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, ssl_context=tls.context)
    await site.start()
    log.info("serving on https://%s:%d", settings.host, settings.port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
