"""`hcs-agent`: `detect` (this machine's fingerprint, no cluster) and `run` (the DaemonSet loop)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
from pathlib import Path
from typing import NoReturn

import click

from hcs_agent import __version__, runtime
from hcs_agent.agent import Agent, make_detectors, profile_database
from hcs_agent.calibrate import calibrate
from hcs_agent.collect import Collector
from hcs_agent.computenode import Built, build
from hcs_agent.errors import AgentError
from hcs_agent.healthloop import make_monitor
from hcs_agent.metrics import AgentMetrics
from hcs_agent.model import Detection
from hcs_agent.report import Backoff, Reporter
from hcs_agent.settings import AgentSettings, load_settings
from hcs_agent.topology import SysfsPci
from hcs_health import HealthError

_INVENTORY = click.option(
    "--inventory",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML device inventory to report instead of detecting hardware.",
)
_SYSFS = click.option(
    "--sysfs-root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where sysfs is mounted (default /).",
)


@click.group()
@click.version_option(__version__, prog_name="hcs-agent")
def main() -> None:
    """HCS node agent: fingerprint this node's accelerators and keep its ComputeNode true."""


@main.command()
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_INVENTORY
@_SYSFS
@click.option("--node-name", help="Name to put on the ComputeNode (default: this host's name).")
@click.option("--calibrate", "do_calibrate", is_flag=True, help="Measure throughput (PyTorch).")
def detect(
    output: str,
    inventory: Path | None,
    sysfs_root: Path | None,
    node_name: str | None,
    do_calibrate: bool,
) -> None:
    """Fingerprint this machine's accelerators once and print them (no cluster needed)."""
    settings = _settings(None, inventory=inventory, sysfs_root=sysfs_root, node_name=node_name)
    pci = SysfsPci(settings.sysfs_root)
    detectors = make_detectors(
        settings.vendors, settings.sysfs_root, settings.tool_timeout_s, settings.inventory
    )
    collection = Collector(detectors, pci).collect()
    database = profile_database(settings.overrides)
    notes: list[str] = []
    if do_calibrate:
        infos = [d for detection in collection.detections for d in detection.devices]
        database, notes = calibrate(database, infos)
    built = build(settings.node_name or socket.gethostname(), collection, database)
    if output == "json":
        click.echo(
            json.dumps(_json(built, collection.detections, collection.duration_s, notes), indent=2)
        )
    else:
        click.echo(_table(built, collection.detections, collection.duration_s, notes))


@main.command()
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="YAML settings.")
@click.option("--interval", "interval_s", type=float, help="Seconds between collections (10).")
@_INVENTORY
@_SYSFS
@click.option("--node-name", help="Kubernetes node to report for.")
@click.option("--no-report", is_flag=True, help="Collect and serve metrics; write nothing.")
@click.option("--once", is_flag=True, help="One collection, then exit.")
@click.option("--listen-port", type=int, help="Port of /healthz and /metrics (9460).")
@click.option("--calibrate", "do_calibrate", is_flag=True, help="Measure throughput at start.")
def run(
    config: Path | None,
    interval_s: float | None,
    inventory: Path | None,
    sysfs_root: Path | None,
    node_name: str | None,
    no_report: bool,
    once: bool,
    listen_port: int | None,
    do_calibrate: bool,
) -> None:
    """Collect every interval, report the ComputeNode, serve /healthz and /metrics."""
    settings = _settings(
        config,
        interval_s=interval_s,
        inventory=inventory,
        sysfs_root=sysfs_root,
        node_name=node_name,
        report=False if no_report else None,
        listen_port=listen_port,
        calibrate=True if do_calibrate else None,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if settings.report and not settings.node_name:
        _fail("invalid setting node_name (HCS_AGENT_NODE_NAME): required when reporting")
    try:
        agent = _agent(settings)
    except AgentError as error:
        _fail(str(error))
    asyncio.run(_serve(agent, settings, once))


@main.command(name="runtime")
@click.option(
    "--runtime-dir",
    type=click.Path(path_type=Path),
    default=runtime.Layout.runtime_dir,
    show_default=True,
    help="The node's runtime directory.",
)
@click.option(
    "--host-root",
    type=click.Path(path_type=Path),
    default=runtime.Layout.host_root,
    show_default=True,
    help="Where the host's / is seen (the vendors' drivers).",
)
@click.option(
    "--interceptor",
    type=click.Path(path_type=Path),
    default=runtime.Layout.interceptor,
    show_default=True,
    help="The interposer to install.",
)
@click.option(
    "--container-dir",
    default=runtime.Layout.container_dir,
    show_default=True,
    help="Where containers see the runtime directory (the webhook's runtime_mount_path).",
)
def runtime_dir(runtime_dir: Path, host_root: Path, interceptor: Path, container_dir: str) -> None:
    """Prepare the node's runtime directory: the interposer, the local vendor's driver
    bind-mounted, one lib/ for LD_LIBRARY_PATH. Safe to run again."""
    layout = runtime.Layout(runtime_dir, host_root, interceptor, container_dir)
    try:
        done = runtime.apply(
            runtime.plan(layout, runtime.listing), runtime.is_mount_point, runtime.bind_mount
        )
    except (AgentError, OSError) as error:
        _fail(str(error))
    for line in done or [f"{runtime_dir} is up to date"]:
        click.echo(line)


async def _serve(agent: Agent, settings: AgentSettings, once: bool) -> None:
    from hcs_agent.service import serve

    await serve(
        agent,
        settings.interval_s,
        settings.listen_host,
        settings.listen_port,
        once,
        settings.health_poll_s,
    )


def _agent(settings: AgentSettings) -> Agent:
    detectors = make_detectors(
        settings.vendors, settings.sysfs_root, settings.tool_timeout_s, settings.inventory
    )
    collector = Collector(detectors, SysfsPci(settings.sysfs_root))
    database = profile_database(settings.overrides)
    if settings.calibrate:
        first = collector.collect()
        database, notes = calibrate(database, [d for x in first.detections for d in x.devices])
        for note in notes:
            logging.getLogger("hcs_agent").info("calibration: %s", note)
    reporter = None
    api_client = None
    if settings.report:
        from hcs_agent.kube import KubernetesApi, load_api_client

        try:
            api_client = load_api_client(settings.kubeconfig)
        except Exception as error:  # the client's config loaders raise several types
            raise AgentError(f"cannot reach Kubernetes configuration: {error}") from None
        api = KubernetesApi(api_client)
        backoff = Backoff(
            initial_s=settings.retry_initial_s,
            max_s=settings.interval_s,
            attempts=settings.retry_attempts,
        )
        reporter = Reporter(api, backoff)
    node = settings.node_name or socket.gethostname()
    metrics = AgentMetrics()
    agent = Agent(node, collector, database, metrics, reporter)
    try:
        agent.health = make_monitor(
            settings, node, metrics.registry, api_client, agent.pci_addresses
        )
    except HealthError as error:
        raise AgentError(f"health monitoring: {error}") from None
    return agent


def _settings(config: Path | None, **given: object) -> AgentSettings:
    try:
        return load_settings(config, **given)
    except AgentError as error:
        _fail(str(error))


def _fail(message: str) -> NoReturn:
    click.echo(f"hcs-agent: {message}", err=True)
    sys.exit(2)


def _vendor_line(detection: Detection) -> str:
    if detection.absent:
        return f"{detection.vendor}: none ({detection.error})"
    if detection.error:
        return f"{detection.vendor}: ERROR {detection.error}"
    extra = f" ({'; '.join(detection.warnings)})" if detection.warnings else ""
    return f"{detection.vendor}: {len(detection.devices)} devices{extra}"


def _json(
    built: Built, detections: tuple[Detection, ...], seconds: float, notes: list[str]
) -> dict[str, object]:
    return {
        "computeNode": built.node.to_wire(),
        "detectors": [
            {
                "vendor": d.vendor,
                "devices": len(d.devices),
                "absent": d.absent,
                "error": d.error,
                "warnings": list(d.warnings),
            }
            for d in detections
        ],
        "health": {
            i: {"score": s.value, "reasons": list(s.reasons)} for i, s in built.scores.items()
        },
        "problems": list(built.problems),
        "calibration": notes,
        "collectionSeconds": round(seconds, 4),
    }


def _table(
    built: Built, detections: tuple[Detection, ...], seconds: float, notes: list[str]
) -> str:
    from hcs_exchange import text_table

    rows = []
    for device in built.node.spec.devices:
        links = ", ".join(
            f"{link.pcie_scope or link.type}:{'+'.join(link.peers)}" for link in device.links
        )
        rows.append(
            [
                device.id,
                str(device.vendor),
                device.model,
                str(device.vram),
                str(device.health),
                "-" if device.numa_node is None else str(device.numa_node),
                device.pci_bus_id or "-",
                links or "-",
            ]
        )
    header = ["ID", "VENDOR", "MODEL", "VRAM", "HEALTH", "NUMA", "PCI", "LINKS"]
    lines = [text_table(header, rows)] if rows else ["no accelerators found"]
    lines += [_vendor_line(d) for d in detections]
    lines += [
        f"health {i}: {s.value} ({'; '.join(s.reasons)})"
        for i, s in built.scores.items()
        if s.reasons
    ]
    lines += [f"calibration: {note}" for note in notes]
    phase = built.node.status.phase if built.node.status else "-"
    lines.append(f"phase {phase}; collected in {seconds * 1000:.1f} ms")
    return "\n".join(lines)
