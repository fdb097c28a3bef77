"""Figures a profile lacks come from what hcs-agent reports of the devices (the smallest value
per model, cited); a published or calibrated figure is never replaced."""

import pytest

from hcs_api.v1alpha1 import ComputeNode
from hcs_exchange import REPORTED_SOURCE, Demand, Exchange, Precision, fill_from_reports, lacking

GI = 1024**3
NOTE = "smallest value hcs-agent reports for this model (no published figure)"


def node(name, model, vendor, vram, count=2, **device):
    devices = [
        {
            "id": f"{vendor}-{i}",
            "uuid": f"{name}-{i}",
            "vendor": vendor,
            "model": model,
            "vram": vram,
            **device,
        }
        for i in range(count)
    ]
    return ComputeNode.model_validate(
        {
            "metadata": {"name": name},
            "spec": {"nodeName": name, "vendors": [vendor], "devices": devices},
        }
    )


def test_a_profile_without_vram_takes_the_smallest_reported(database):
    assert database.get("Hygon-Z100").vram.value is None
    nodes = [node("z1", "Hygon-Z100", "hygon", "32Gi"), node("z2", "Z100", "hygon", "16Gi")]
    filled = fill_from_reports(database, nodes)
    z100 = filled.get("Hygon-Z100")
    assert z100.vram.value.value == 16 * GI
    assert z100.vram.source == REPORTED_SOURCE
    assert REPORTED_SOURCE in filled.sources
    fit = Exchange(filled).fit(Demand(vram=16 * GI), "Z100")
    assert (fit.devices, fit.missing) == (1, ())
    assert Exchange(filled).fit(Demand(vram=20 * GI), "Z100").too_small


def test_reported_throughput_and_bandwidth_fill_only_what_is_missing(database):
    reported = {"compute": {"fp16": "50"}, "memoryBandwidth": "1000G"}
    filled = fill_from_reports(database, [node("z", "Hygon-Z100", "hygon", "32Gi", **reported)])
    z100 = filled.get("Hygon-Z100")
    assert z100.tflops(Precision.FP16) == 50
    assert z100.memory_bandwidth_gbps.value == 1000


def test_a_published_figure_is_never_replaced(database):
    h100 = database.get("H100-SXM5-80G")
    filled = fill_from_reports(
        database, [node("h", "H100-SXM5-80G", "nvidia", "79Gi", compute={"fp16": "1"})]
    )
    assert filled.get("H100-SXM5-80G").vram == h100.vram
    assert filled.get("H100-SXM5-80G").tflops(Precision.FP16) == h100.tflops(Precision.FP16)


def test_nothing_to_fill_returns_the_same_database(database):
    assert not lacking(database, ["H100-SXM5-80G", "A100-SXM4-80G", "not-a-model"])
    assert "Hygon-Z100" in lacking(database, ["Z100"])
    assert fill_from_reports(database, [node("h", "H100-SXM5-80G", "nvidia", "80Gi")]) is database
    assert fill_from_reports(database, [node("u", "Unknown-X", "hygon", "8Gi")]) is database


def test_the_exchange_keeps_its_rate_overrides_over_a_filled_database(database):
    from fractions import Fraction

    from hcs_exchange import RateOverride, Workload

    rate = RateOverride("910B3", Precision.FP16, Workload.COMPUTE, Fraction(6, 10), "measured")
    exchange = Exchange(database, [rate])
    filled = exchange.over(fill_from_reports(database, [node("z", "Z100", "hygon", "32Gi")]))
    assert filled.rate("910B3", Precision.FP16) == Fraction(6, 10)
    assert filled.database.get("Z100").vram.value is not None
    assert exchange.over(database) is exchange


@pytest.mark.parametrize(
    ("models", "lacking_"),
    [
        (["V100-SXM2-16G"], {"V100-SXM2-16G"}),
        (["Ascend-910B1"], {"Ascend-910B1"}),
        (["not-a-model", "Z100"], {"Hygon-Z100"}),
        (["H100-SXM5-80G", "A100"], set()),
    ],
    ids=["throughput-only", "throughput-and-bandwidth", "after-an-unknown-name", "complete"],
)
def test_lacking_names_every_profile_a_node_could_complete(database, models, lacking_):
    assert lacking(database, models) == lacking_


@pytest.mark.parametrize(
    "z100_vram", [("16Gi", "32Gi"), ("32Gi", "16Gi")], ids=["small-first", "small-last"]
)
def test_the_smallest_report_wins_whatever_the_order(database, z100_vram):
    devices = [
        ("Unknown-X", "hygon", "8Gi"),  # no profile: skipped, the rest still read
        ("H100-SXM5-80G", "nvidia", "80Gi"),  # nothing to fill: skipped
        *(("Z100", "hygon", vram) for vram in z100_vram),
    ]
    mixed = ComputeNode.model_validate(
        {
            "metadata": {"name": "m"},
            "spec": {
                "nodeName": "m",
                "vendors": ["hygon", "nvidia"],
                "devices": [
                    {"id": f"d{i}", "uuid": f"m-{i}", "vendor": vendor, "model": m, "vram": v}
                    for i, (m, vendor, v) in enumerate(devices)
                ],
            },
        }
    )
    vram = fill_from_reports(database, [mixed]).get("Z100").vram
    assert (str(vram.value), vram.source, vram.note) == ("16Gi", REPORTED_SOURCE, NOTE)


def test_every_filled_figure_cites_the_agent_and_says_why(database):
    reported = {"compute": {"fp16": "50"}, "memoryBandwidth": "1000G"}
    z100 = fill_from_reports(database, [node("z", "Hygon-Z100", "hygon", "32Gi", **reported)]).get(
        "Z100"
    )
    figures = [z100.vram, z100.memory_bandwidth_gbps, z100.throughput[Precision.FP16]]
    assert [(f.source, f.note) for f in figures] == [(REPORTED_SOURCE, NOTE)] * 3


def test_a_lacking_profile_keeps_the_figures_it_has(database):
    # 910B1 publishes fp16 (320) and 64Gi but no fp32: only fp32 is taken from the node.
    reported = {"compute": {"fp16": "1", "fp32": "50"}}
    filled = fill_from_reports(database, [node("a", "Ascend-910B1", "ascend", "32Gi", **reported)])
    b1 = filled.get("Ascend-910B1")
    assert (b1.tflops(Precision.FP16), b1.tflops(Precision.FP32)) == (320, 50)
    assert b1.vram == database.get("Ascend-910B1").vram
