"""Rates, ACU and device counts are exact arithmetic on the sourced figures."""

from fractions import Fraction

import pytest

from hcs_api import ComputeRequest
from hcs_exchange import Demand, Exchange, Precision, RateOverride, Workload

GI = 1024**3
FP16 = Precision.FP16

RATES = [
    # (case, model, precision, workload, expected exact rate vs A100-SXM4-80G)
    ("reference-is-one", "A100-SXM4-80G", FP16, Workload.COMPUTE, Fraction(1)),
    ("h100-fp16", "H100-SXM5-80G", FP16, Workload.COMPUTE, Fraction("989.5") / 312),
    (
        "h100-fp32",
        "H100-SXM5-80G",
        Precision.FP32,
        Workload.COMPUTE,
        Fraction(67) / Fraction("19.5"),
    ),
    ("h100-memory", "H100-SXM5-80G", FP16, Workload.MEMORY, Fraction(3350, 2039)),
    (
        "h100-balanced-is-harmonic-mean",
        "H100-SXM5-80G",
        FP16,
        Workload.BALANCED,
        2 / (312 / Fraction("989.5") + Fraction(2039, 3350)),
    ),
    ("t4-int8", "T4", Precision.INT8, Workload.COMPUTE, Fraction(130, 624)),
    ("a100-40g-memory", "A100-SXM4-40G", FP16, Workload.MEMORY, Fraction(1555, 2039)),
    ("v100-has-no-bf16", "V100-SXM2-16G", Precision.BF16, Workload.COMPUTE, None),
    ("v100-balanced-without-bf16", "V100-SXM2-16G", Precision.BF16, Workload.BALANCED, None),
    ("910b1-fp16", "Ascend-910B1", FP16, Workload.COMPUTE, Fraction(320, 312)),
    ("910b3-fp16-unpublished", "Ascend-910B3", FP16, Workload.COMPUTE, None),
]


@pytest.mark.parametrize(
    ("model", "precision", "workload", "expected"),
    [r[1:] for r in RATES],
    ids=[r[0] for r in RATES],
)
def test_rates_are_exact_ratios_of_sourced_figures(exchange, model, precision, workload, expected):
    assert exchange.rate(model, precision, workload) == expected


def test_rate_lookup_accepts_aliases(exchange):
    assert exchange.rate("NVIDIA H100 80GB HBM3", FP16) == exchange.rate("H100-SXM5-80G", FP16)


def test_device_acu_is_a_hundred_times_the_rate(exchange):
    assert exchange.device_acu("A100-SXM4-80G", FP16) == 100
    assert exchange.device_acu("H100-SXM5-80G", FP16) == Fraction("989.5") / 312 * 100


def test_request_normalises_to_acu(exchange):
    acu = exchange.demand_acu(
        Demand(throughput={FP16: Fraction(100), Precision.INT8: Fraction(624)})
    )
    assert acu == {FP16: Fraction(100, 312) * 100, Precision.INT8: Fraction(100)}


def test_910b_and_a100_equivalence_is_derived_both_ways(exchange):
    one_910b1_in_a100 = exchange.equivalence("Ascend-910B1", "A100-SXM4-80G", FP16)
    one_a100_in_910b1 = exchange.equivalence("A100-SXM4-80G", "Ascend-910B1", FP16)
    assert one_910b1_in_a100 == Fraction(40, 39)
    assert one_910b1_in_a100 * one_a100_in_910b1 == 1
    # INT8 too: 640 TOPS against 624.
    assert exchange.equivalence("910B1", "A100", Precision.INT8) == Fraction(640, 624)


def test_equivalence_with_an_unpublished_figure_is_unknown(exchange):
    assert exchange.equivalence("Ascend-910B3", "A100-SXM4-80G", FP16) is None


FITS = [
    # (case, demand, model, workload, per-resource needs, whole devices, limited by)
    (
        "vram-bound-on-h100",
        Demand(vram=48 * GI, throughput={FP16: Fraction(100)}),
        "H100-SXM5-80G",
        Workload.COMPUTE,
        {"vram": Fraction(48, 80), "fp16": Fraction(100) / Fraction("989.5")},
        1,
        "vram",
    ),
    (
        "compute-bound-on-t4",
        Demand(vram=8 * GI, throughput={FP16: Fraction(200)}),
        "T4",
        Workload.COMPUTE,
        {"vram": Fraction(8, 16), "fp16": Fraction(200, 65)},
        4,
        "fp16",
    ),
    (
        "exactly-two-a100",
        Demand(throughput={FP16: Fraction(624)}),
        "A100-SXM4-80G",
        Workload.COMPUTE,
        {"fp16": Fraction(2)},
        2,
        "fp16",
    ),
    (
        "memory-workload-uses-bandwidth",
        Demand(throughput={FP16: Fraction(312)}),
        "A100-SXM4-40G",
        Workload.MEMORY,
        {"fp16": Fraction(2039, 1555)},
        2,
        "fp16",
    ),
    (
        "int8-and-fp32-together",
        Demand(throughput={Precision.INT8: Fraction(260), Precision.FP32: Fraction(8)}),
        "T4",
        Workload.COMPUTE,
        {"int8": Fraction(2), "fp32": Fraction(8) / Fraction("8.1")},
        2,
        "int8",
    ),
]


@pytest.mark.parametrize(
    ("demand", "model", "workload", "per_resource", "devices", "limited_by"),
    [f[1:] for f in FITS],
    ids=[f[0] for f in FITS],
)
def test_devices_needed_satisfy_vram_and_compute_together(
    exchange, demand, model, workload, per_resource, devices, limited_by
):
    fit = exchange.fit(demand, model, workload)
    assert dict(fit.per_resource) == per_resource
    assert fit.needed == max(per_resource.values())
    assert fit.devices == devices
    assert fit.limited_by == limited_by


def test_unknown_figure_makes_the_model_unanswerable_not_free(exchange):
    fit = exchange.fit(Demand(throughput={Precision.INT8: Fraction(100)}), "V100-SXM2-16G")
    assert fit.missing == ("int8 throughput unknown",)
    assert fit.needed is None
    assert fit.devices is None
    assert not fit.can_serve()


def test_a_request_no_model_can_meet(exchange):
    huge = Demand(vram=2048 * GI, throughput={FP16: Fraction(100)}, spread_vram=True)
    fits = exchange.candidates(huge)
    assert fits, "every model is considered"
    assert not any(fit.can_serve(max_devices=8) for fit in fits)
    biggest = min(fit.devices for fit in fits if fit.devices is not None)
    assert biggest > 8


@pytest.mark.parametrize(
    ("vram_gi", "spread", "model", "devices"),
    [
        (70, False, "H100-SXM5-80G", 1),
        (70, False, "A100-SXM4-40G", None),
        (70, False, "T4", None),
        (70, True, "A100-SXM4-40G", 2),
        (70, True, "T4", 5),
        (16, False, "T4", 1),
    ],
    ids=[
        "fits-one-h100",
        "over-one-a100-40g",
        "over-one-t4",
        "sharded-a100-40g",
        "sharded-t4",
        "exactly-one-t4",
    ],
)
def test_vram_is_what_one_device_must_hold_unless_spread(exchange, vram_gi, spread, model, devices):
    fit = exchange.fit(Demand(vram=vram_gi * GI, spread_vram=spread), model)
    assert fit.devices == devices
    assert fit.can_serve() is (devices is not None)
    if devices is None:
        assert fit.too_small is not None
        assert f"{vram_gi}Gi VRAM must fit on one device" in fit.too_small
        assert "hcs.io/sharded" in fit.too_small


def test_throughput_still_takes_several_devices_without_spreading_vram(exchange):
    # 500 TFLOPS fp16 is two A100s; each must hold the 16Gi (data parallel), not 8Gi.
    fit = exchange.fit(Demand(vram=16 * GI, throughput={FP16: Fraction(500)}), "A100-SXM4-80G")
    assert (fit.devices, fit.limited_by, fit.too_small) == (2, "fp16", None)


def test_asking_for_devices_spreads_the_vram():
    request = ComputeRequest(vram=70 * GI, devices=2)
    assert Demand.from_request(request).spread_vram
    assert not Demand.from_request(ComputeRequest(vram=70 * GI)).spread_vram
    assert Demand.from_request(ComputeRequest(vram=70 * GI), sharded=True).spread_vram


def test_candidates_come_fewest_devices_first_with_unknowns_last(exchange):
    fits = exchange.candidates(Demand(throughput={Precision.BF16: Fraction(300)}))
    known = [f for f in fits if f.needed is not None]
    assert [f.needed for f in known] == sorted(f.needed for f in known)
    assert all(f.needed is None for f in fits[len(known) :])
    assert fits[0].devices == 1


def test_rate_override_replaces_the_derived_rate(database):
    overridden = Exchange(
        database, [RateOverride("910B3", FP16, Workload.COMPUTE, Fraction(6, 10), "measured")]
    )
    assert overridden.rate("Ascend-910B3", FP16) == Fraction(6, 10)
    assert overridden.rate("Ascend-910B3", Precision.INT8) == Exchange(database).rate(
        "Ascend-910B3", Precision.INT8
    )
    fit = overridden.fit(Demand(throughput={FP16: Fraction(312)}), "Ascend-910B3")
    assert fit.needed == Fraction(10, 6)
