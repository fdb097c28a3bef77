"""`hcs-exchange`: browse the profiles, convert requests between models, show exchange rates,
and calibrate a device class with a micro-benchmark."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import click
import yaml

from hcs_api import Quantity, QuantityError, QuantityFormat
from hcs_exchange import __version__
from hcs_exchange._files import apply_overrides, iter_yaml_documents, load_database
from hcs_exchange._format import decimal, table
from hcs_exchange.calibration import (
    CalibrationRecord,
    apply_calibration,
    default_precision,
    measure,
)
from hcs_exchange.errors import ExchangeError, ProfileFileError
from hcs_exchange.exchange import Demand, Exchange, Fit, RateOverride, Workload
from hcs_exchange.profiles import REFERENCE_MODEL, Precision, Profile

_OUTPUT = click.option(
    "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
_WORKLOAD = click.option(
    "--workload",
    type=click.Choice([str(w) for w in Workload]),
    default="compute",
    show_default=True,
    help="compute: throughput; memory: bandwidth; balanced: harmonic mean of the two.",
)


@dataclass
class _Context:
    exchange: Exchange


def _load(profiles: Path | None, overrides: Path | None, calibration: tuple[Path, ...]) -> Exchange:
    database = load_database(profiles)
    rates: list[RateOverride] = []
    if overrides is not None:
        database, rates = apply_overrides(database, overrides)
    if calibration:
        records = []
        for path, document in iter_yaml_documents(calibration):
            try:
                records.append(CalibrationRecord.model_validate(document))
            except ValueError as error:
                raise ProfileFileError(f"{path}: not a calibration record: {error}") from None
        database = apply_calibration(database, records)
    return Exchange(database, rates)


@click.group()
@click.version_option(__version__, prog_name="hcs-exchange")
@click.option(
    "--profiles",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Use this profile file instead of the bundled one.",
)
@click.option(
    "--overrides",
    type=click.Path(dir_okay=False, path_type=Path),
    help="An operator's YAML: changed figures, private models, rate overrides.",
)
@click.option(
    "--calibration",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Calibration records (YAML) whose measurements replace datasheet figures.",
)
@click.pass_context
def main(
    ctx: click.Context, profiles: Path | None, overrides: Path | None, calibration: tuple[Path, ...]
) -> None:
    """Accelerator profiles and exchange rates between vendors' devices."""
    try:
        ctx.obj = _Context(_load(profiles, overrides, calibration))
    except ExchangeError as error:
        raise click.ClickException(str(error)) from None


def _exchange() -> Exchange:
    return click.get_current_context().find_object(_Context).exchange  # type: ignore[union-attr]


@main.command()
@click.option("--vendor", help="Only this vendor's models.")
@_OUTPUT
def profiles(vendor: str | None, output: str) -> None:
    """List the known models."""
    database = _exchange().database
    chosen = [p for p in database.profiles if vendor is None or p.vendor == vendor.lower()]
    if vendor is not None and not chosen:
        raise click.ClickException(
            f"no profiles for vendor {vendor!r}; known: {', '.join(database.vendors())}"
        )
    if output == "json":
        click.echo(json.dumps([_profile_json(p) for p in chosen], indent=2))
        return
    rows = [
        [
            p.model,
            p.vendor,
            str(p.vram.value or "-"),
            decimal(p.memory_bandwidth_gbps.value, 1),
            *(decimal(p.tflops(precision), 1) for precision in Precision),
            decimal(p.tdp_w.value, 0),
        ]
        for p in chosen
    ]
    click.echo(
        table(
            ["MODEL", "VENDOR", "VRAM", "BW-GB/s", "FP32", "TF32", "FP16", "BF16", "INT8", "TDP-W"],
            rows,
        )
    )


@main.command()
@click.argument("model")
@_OUTPUT
def show(model: str, output: str) -> None:
    """Every figure of one model, with its source."""
    exchange = _exchange()
    profile = _profile(exchange, model)
    if output == "json":
        click.echo(json.dumps(_profile_json(profile), indent=2))
        return
    sources = exchange.database.sources
    click.echo(
        yaml.safe_dump(
            profile.model_dump(mode="json", exclude_none=True), sort_keys=False, width=100
        )
    )
    cited = sorted({source for _, source in profile.cited_sources()})
    click.echo("sources:")
    for source_id in cited:
        source = sources[source_id]
        click.echo(
            f"  {source_id}: {source.title}, {source.publisher}"
            + (f", {source.year}" if source.year else "")
            + (f" <{source.url}>" if source.url else "")
        )


@main.command()
@click.option("--vram", help="Device memory, a Kubernetes quantity (48Gi).")
@click.option("--tflops-fp16", type=click.FloatRange(min=0), help="Dense FP16 TFLOPS.")
@click.option("--tflops-fp32", type=click.FloatRange(min=0), help="Dense FP32 TFLOPS.")
@click.option("--tops-int8", type=click.FloatRange(min=0), help="Dense INT8 TOPS.")
@click.option("--to", "targets", multiple=True, help="Only these models (repeatable).")
@click.option(
    "--sharded",
    is_flag=True,
    help="The work is sharded: --vram is a total that may be spread over devices "
    "(without it, one device must hold --vram).",
)
@click.option(
    "--max-devices",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Most devices one request may take (one node's worth).",
)
@_WORKLOAD
@_OUTPUT
def convert(
    vram: str | None,
    tflops_fp16: float | None,
    tflops_fp32: float | None,
    tops_int8: float | None,
    targets: tuple[str, ...],
    sharded: bool,
    max_devices: int,
    workload: str,
    output: str,
) -> None:
    """How many devices of each model serve a request (VRAM and throughput together)."""
    exchange = _exchange()
    demand = _demand(
        vram,
        {Precision.FP16: tflops_fp16, Precision.FP32: tflops_fp32, Precision.INT8: tops_int8},
        sharded,
    )
    models = [_profile(exchange, t).model for t in targets] or None
    fits = exchange.candidates(demand, Workload(workload), models)
    acu = exchange.demand_acu(demand)
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "request": {
                        "vram": demand.vram,
                        "vramSpread": demand.spread_vram,
                        "acu": {str(p): decimal(a, 6) for p, a in acu.items()},
                    },
                    "workload": workload,
                    "maxDevices": max_devices,
                    "fits": [_fit_json(fit, max_devices) for fit in fits],
                },
                indent=2,
            )
        )
    else:
        summary = ", ".join(f"{decimal(a, 2)} ACU {p}" for p, a in acu.items())
        vram_text = Quantity.from_value(demand.vram, QuantityFormat.BINARY_SI)
        click.echo(
            f"request: {vram_text} VRAM"
            + (" in total (sharded)" if demand.spread_vram else " on one device")
            + (f", {summary}" if summary else "")
            + f"; workload {workload}; at most {max_devices} devices"
        )
        rows = [
            [
                f.model,
                f.vendor,
                _devices_cell(f, max_devices),
                decimal(f.needed),
                f.limited_by or "-",
                "yes" if exchange.database.get(f.model).schedulable else "no",
            ]
            for f in fits
        ]
        click.echo(
            table(["MODEL", "VENDOR", "DEVICES", "EXACT", "LIMITED-BY", "HCS-RUNS-IT"], rows)
        )
    if not any(fit.can_serve(max_devices) for fit in fits):
        raise click.ClickException(
            f"no model can serve this request with at most {max_devices} devices"
        )


@main.command()
@click.option(
    "--precision", type=click.Choice([str(p) for p in Precision]), default="fp16", show_default=True
)
@_WORKLOAD
@_OUTPUT
def rates(precision: str, workload: str, output: str) -> None:
    """Exchange rates: each model's speed with the reference (A100-SXM4-80G) = 1."""
    exchange = _exchange()
    rows = []
    for profile in exchange.database.profiles:
        rate = exchange.rate(profile.model, Precision(precision), Workload(workload))
        rows.append((profile, rate))
    rows.sort(key=lambda item: (item[1] is None, -(item[1] or Fraction(0)), item[0].model))
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "reference": REFERENCE_MODEL,
                    "precision": precision,
                    "workload": workload,
                    "rates": {p.model: decimal(r, 6) if r is not None else None for p, r in rows},
                },
                indent=2,
            )
        )
        return
    click.echo(f"reference: {REFERENCE_MODEL} = 1.0 ({precision}, {workload}); 1 ACU = 1 % of it")
    click.echo(
        table(
            ["MODEL", "VENDOR", "RATE", "ACU/DEVICE"],
            [
                [p.model, p.vendor, decimal(r), decimal(r * 100 if r is not None else None, 1)]
                for p, r in rows
            ],
        )
    )


@main.command()
@click.option("--model", required=True, help="The profile this device belongs to (H100-SXM5-80G).")
@click.option(
    "--device",
    default="cuda:0",
    show_default=True,
    help="cpu: the CPU, with numpy; cuda:N (or another PyTorch device): with PyTorch.",
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "tf32", "fp16", "bf16"]),
    help="Default: fp16 on a GPU; fp32 on the CPU, the only one numpy measures.",
)
@click.option(
    "--size",
    type=click.IntRange(min=64),
    default=8192,
    show_default=True,
    help="Matrix size n (n x n).",
)
@click.option("--repeats", type=click.IntRange(min=1), default=20, show_default=True)
@click.option(
    "--copy-mib",
    type=click.IntRange(min=1),
    default=1024,
    show_default=True,
    help="Bytes copied per repeat, MiB.",
)
@click.option(
    "--write",
    "write_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the record to this file.",
)
def calibrate(
    model: str,
    device: str,
    precision: str | None,
    size: int,
    repeats: int,
    copy_mib: int,
    write_to: Path | None,
) -> None:
    """Measure a device's matmul throughput and copy bandwidth.

    On the CPU (--device cpu) with numpy; on a GPU with PyTorch (hcs-exchange[bench]).
    """
    profile = _profile(_exchange(), model)
    chosen = Precision(precision) if precision else default_precision(device)
    command = " ".join(
        [
            "hcs-exchange calibrate",
            f"--model {profile.model}",
            f"--device {device}",
            f"--precision {chosen}",
            f"--size {size}",
            f"--repeats {repeats}",
            f"--copy-mib {copy_mib}",
        ]
    )
    try:
        record = measure(
            profile.model,
            chosen,
            device=device,
            size=size,
            repeats=repeats,
            copy_bytes=copy_mib << 20,
            command=command,
        )
    except ExchangeError as error:
        raise click.ClickException(str(error)) from None
    text = yaml.safe_dump(record.model_dump(mode="json"), sort_keys=False)
    datasheet = profile.tflops(chosen)
    click.echo(text, nl=False)
    click.echo(
        f"# datasheet {chosen}: {decimal(datasheet, 1)} TFLOPS, measured {record.measured_tflops}",
        err=True,
    )
    if write_to is not None:
        with write_to.open("a") as handle:
            handle.write("---\n" + text)
        click.echo(f"appended to {write_to}", err=True)


def _profile(exchange: Exchange, name: str) -> Profile:
    try:
        return exchange.database.get(name)
    except ExchangeError as error:
        raise click.ClickException(str(error)) from None


def _demand(vram: str | None, throughput: dict[Precision, float | None], sharded: bool) -> Demand:
    try:
        amount = Quantity(vram) if vram is not None else None
    except QuantityError as error:
        raise click.BadParameter(str(error), param_hint="--vram") from None
    if amount is not None and (amount.value < 0 or not amount.is_integer()):
        raise click.BadParameter(f"{vram} is not a whole number of bytes", param_hint="--vram")
    demand = Demand(
        vram=amount.ceil() if amount is not None else 0,
        throughput={p: Fraction(str(v)) for p, v in throughput.items() if v},
        spread_vram=sharded,
    )
    if demand.is_empty():
        raise click.UsageError(
            "say what the request needs: --vram and/or --tflops-fp16/--tflops-fp32/--tops-int8"
        )
    return demand


def _devices_cell(fit: Fit, max_devices: int) -> str:
    if fit.missing:
        return "unknown (" + "; ".join(fit.missing) + ")"
    if fit.too_small:
        return "none (VRAM over one device's)"
    if not fit.can_serve(max_devices):
        return f"{fit.devices} (over {max_devices})"
    return str(fit.devices)


def _fit_json(fit: Fit, max_devices: int) -> dict[str, Any]:
    return {
        "model": fit.model,
        "vendor": fit.vendor,
        "devices": fit.devices,
        "exact": decimal(fit.needed, 6) if fit.needed is not None else None,
        "limitedBy": fit.limited_by,
        "missing": list(fit.missing),
        "tooSmall": fit.too_small,
        "perResource": {k: decimal(v, 6) for k, v in fit.per_resource.items()},
        "canServe": fit.can_serve(max_devices),
    }


def _profile_json(profile: Profile) -> dict[str, Any]:
    return profile.model_dump(mode="json", exclude_none=True) | {"schedulable": profile.schedulable}
