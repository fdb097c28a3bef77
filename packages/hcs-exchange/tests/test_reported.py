"""Figures a profile lacks come from what hcs-agent reports of the devices (the smallest value
per model, cited); a published or calibrated figure is never replaced."""

from hcs_api.v1alpha1 import ComputeNode
from hcs_exchange import REPORTED_SOURCE, Demand, Exchange, Precision, fill_from_reports, lacking

GI = 1024**3


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
