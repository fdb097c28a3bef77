"""`hcs-scheduler simulate`: the placement core over a cluster and a workload, offline."""

from __future__ import annotations

import importlib.resources
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from hcs_api import HcsApiError
from hcs_exchange import Exchange, RateOverride, apply_overrides, load_database
from hcs_scheduler import __version__
from hcs_scheduler.catalog import NAMES
from hcs_scheduler.extender.serve import serve
from hcs_scheduler.sim import fgd_protocol, openb, report, scenario, trace_replay, vendor_lock
from hcs_scheduler.sim.openb import ReadReport

DEFAULT_POLICIES = "default,fgd,random-fit,best-fit,gpu-packing,gpu-clustering,dot-product"


def bundled(name: str) -> Path:
    """A file of the bundled scenarios (hcs_scheduler/data)."""
    return Path(str(importlib.resources.files("hcs_scheduler").joinpath("data", name)))


@click.group()
@click.version_option(__version__, prog_name="hcs-scheduler")
def main() -> None:
    """HCS placement: the kube-scheduler extender (serve) and the trace-driven simulator."""


main.add_command(serve)


@main.command()
@click.option(
    "--nodes",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Cluster: Alibaba node CSV, or cluster YAML. Default: the bundled mixed 4-vendor cluster.",
)
@click.option(
    "--pods",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Workload: Alibaba pod CSV, or workload YAML (vendor-lock). "
    "Default: the bundled trace sample.",
)
@click.option(
    "--protocol",
    type=click.Choice(["fgd", "replay", "vendor-lock"]),
    default="fgd",
    show_default=True,
    help="fgd: the FGD paper's arrival protocol; replay: the trace in time (arrivals, "
    "departures, queueing); vendor-lock: HCS vs vendor-pinned requests (replay).",
)
@click.option(
    "--policies",
    default=DEFAULT_POLICIES,
    show_default=True,
    help=f"Comma-separated, from: {', '.join(NAMES)}; 'a:1;b:0.2' style weights with ';'.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Draw and tie-break seed.")
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write result.json, a PNG plot and index.html here.",
)
@click.option(
    "--on-error",
    type=click.Choice(["stop", "skip"]),
    default="stop",
    show_default=True,
    help="A bad CSV row: stop, or skip it and report it.",
)
@click.option(
    "--overrides",
    type=click.Path(dir_okay=False, path_type=Path),
    help="hcs-exchange overrides (private models such as the trace's G1-G3).",
)
def simulate(
    nodes: Path | None,
    pods: Path | None,
    protocol: str,
    policies: str,
    seed: int,
    output: str,
    report_dir: Path | None,
    on_error: str,
    overrides: Path | None,
) -> None:
    """Compare placement policies on a cluster and a workload."""
    with _user_errors():
        profiles = load_database()
        rates: list[RateOverride] = []
        if overrides is not None:
            profiles, rates = apply_overrides(profiles, overrides)
        if protocol == "vendor-lock":
            _vendor_lock(
                nodes or bundled("mixed-cluster.yaml"),
                pods or bundled("mixed-workload.yaml"),
                Exchange(profiles, rates),
                seed,
                output,
                report_dir,
            )
            return
        read = ReadReport()
        cluster = _read_cluster(nodes or bundled("mixed-cluster.yaml"), profiles, on_error, read)
        tasks = openb.read_tasks(pods or bundled("openb-sample.csv"), profiles, on_error, read)
        for line in read.warnings + read.skipped:
            click.echo(f"warning: {line}", err=True)
        names = [p.strip().replace(";", ",") for p in policies.split(",") if p.strip()]
        if protocol == "replay":
            results = trace_replay.run(cluster, tasks, names, seed)
            replayed = report.replay_json(results, {"protocol": "replay", "seed": seed})
            if output == "json":
                click.echo(json.dumps(replayed, indent=2))
            else:
                click.echo(f"Trace replay: {len(tasks)} tasks in time order (seed {seed})")
                click.echo(report.replay_table(results))
            return
        total = len(fgd_protocol.draw(tasks, sum(len(n.devices) for n in cluster), seed)) * len(
            names
        )
        with _progress(total) as tick:
            curves = fgd_protocol.run(cluster, tasks, names, seed=seed, progress=tick)
        meta = {
            "nodes": str(nodes or "bundled:mixed-cluster.yaml"),
            "pods": str(pods or "bundled:openb-sample.csv"),
            "seed": seed,
            "devices": sum(len(n.devices) for n in cluster),
            "tasks": len(tasks),
            "skippedRows": read.skipped,
        }
        document = report.fgd_json(curves, meta)
        if report_dir is not None:
            written = report.write_fgd_report(
                report_dir, curves, document, f"{meta['pods']} on {meta['nodes']}"
            )
            click.echo(f"report: {', '.join(str(p) for p in written)}", err=True)
        if output == "json":
            click.echo(json.dumps(document, indent=2))
        else:
            click.echo(
                f"FGD protocol: tasks drawn from a {len(tasks)}-task list "
                "until their GPU demand equals the "
                f"{meta['devices']} devices of {meta['nodes']} (seed {seed})"
            )
            click.echo(report.fgd_table(curves))


def _read_cluster(path: Path, profiles: Any, on_error: str, read: ReadReport) -> list[Any]:
    if path.suffix in (".yaml", ".yml"):
        return scenario.read_cluster(path, profiles)
    return openb.read_nodes(path, profiles, on_error, read)


def _vendor_lock(
    nodes: Path,
    workload_path: Path,
    exchange: Exchange,
    seed: int,
    output: str,
    report_dir: Path | None,
) -> None:
    cluster = scenario.read_cluster(nodes, exchange.database)
    workload = scenario.read_workload(workload_path)
    results = vendor_lock.compare(cluster, workload, exchange, seed)
    document = report.replay_json(
        results,
        {
            "nodes": str(nodes),
            "workload": str(workload_path),
            "seed": seed,
            "protocol": "vendor-lock",
        },
    )
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "vendor-lock.json").write_text(json.dumps(document, indent=2))
    if output == "json":
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(
        f"Vendor-neutral vs vendor-locked: {workload.jobs} jobs "
        f"at {workload.arrivals_per_hour:g}/h "
        f"on {sum(len(n.devices) for n in cluster)} devices of 4 vendors (seed {seed})"
    )
    click.echo(report.replay_table(results))


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except HcsApiError as error:
        raise click.ClickException(str(error)) from None


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    if total < 5000 or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label="placing", file=sys.stderr) as bar:
        yield bar.update
