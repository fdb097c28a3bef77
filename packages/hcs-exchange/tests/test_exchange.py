"""Rates, ACU and device counts are exact arithmetic on the sourced figures."""

from decimal import Decimal
from fractions import Fraction

import pytest

from hcs_api import ComputeRequest
from hcs_exchange import Demand, Exchange, Precision, ProfileDatabase, RateOverride, Workload

GI = 1024**3
FP16 = Precision.FP16
BF16 = Precision.BF16
INT8 = Precision.INT8

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


DEMANDS = [
    # (case, request, sharded, the demand it becomes)
    ("vram-on-one-device", ComputeRequest(vram=70 * GI), False, Demand(vram=70 * GI)),
    (
        "sharded-spreads-the-vram",
        ComputeRequest(vram=70 * GI),
        True,
        Demand(vram=70 * GI, spread_vram=True),
    ),
    # ai.compute/devices: N makes VRAM a total over the N devices, N = 1 included.
    (
        "one-device-asked",
        ComputeRequest(vram=70 * GI, devices=1),
        False,
        Demand(vram=70 * GI, spread_vram=True),
    ),
    (
        "two-devices-asked",
        ComputeRequest(vram=70 * GI, devices=2),
        False,
        Demand(vram=70 * GI, spread_vram=True),
    ),
    (
        "every-precision-asked",
        ComputeRequest(vram=8 * GI, tflops_fp16=100, tflops_fp32=10, tops_int8=200),
        False,
        Demand(
            vram=8 * GI,
            throughput={FP16: Fraction(100), Precision.FP32: Fraction(10), INT8: Fraction(200)},
        ),
    ),
]


@pytest.mark.parametrize(
    ("request_", "sharded", "demand"),
    [d[1:] for d in DEMANDS],
    ids=[d[0] for d in DEMANDS],
)
def test_a_request_becomes_the_demand_it_states(request_, sharded, demand):
    assert Demand.from_request(request_, sharded=sharded) == demand


def test_vram_is_per_device_unless_the_caller_says_the_work_is_sharded():
    # Callers that know nothing of hcs.io/sharded (quota, the CLI) get the per-device rule.
    assert Demand.from_request(ComputeRequest(vram=70 * GI)) == Demand(vram=70 * GI)


TOO_SMALL = [
    (
        "70Gi-on-a100-40g",
        70,
        "A100-SXM4-40G",
        "A100-SXM4-40G: 70Gi VRAM must fit on one device and it holds 40Gi",
    ),
    ("20Gi-on-t4", 20, "T4", "T4: 20Gi VRAM must fit on one device and it holds 16Gi"),
]


@pytest.mark.parametrize(
    ("vram_gi", "model", "reason"),
    [t[1:] for t in TOO_SMALL],
    ids=[t[0] for t in TOO_SMALL],
)
def test_too_small_tells_the_user_how_to_spread_the_vram(exchange, vram_gi, model, reason):
    fit = exchange.fit(Demand(vram=vram_gi * GI), model)
    assert fit.too_small == (
        f"{reason} (ai.compute/vram is per device; ask ai.compute/devices, or annotate "
        'hcs.io/sharded: "true", to spread it over devices)'
    )


MISSING = [
    # (case, demand, model, workload, what the fit says is missing, what it still works out)
    ("vram-unknown", Demand(vram=16 * GI), "Hygon-Z100", Workload.COMPUTE, ("vram unknown",), {}),
    (
        "throughput-unknown-under-compute",
        Demand(throughput={FP16: Fraction(100)}),
        "Ascend-910B3",
        Workload.COMPUTE,
        ("fp16 throughput unknown",),
        {},
    ),
    (
        "bandwidth-unknown-under-memory",
        Demand(throughput={FP16: Fraction(100)}),
        "Ascend-910B1",
        Workload.MEMORY,
        ("memory bandwidth unknown",),
        {},
    ),
    (
        "throughput-unknown-under-balanced",
        Demand(throughput={INT8: Fraction(100)}),
        "V100-SXM2-16G",
        Workload.BALANCED,
        ("int8 throughput unknown",),
        {},
    ),
    (
        "every-unknown-precision-listed-and-the-known-one-counted",
        Demand(throughput={INT8: Fraction(100), BF16: Fraction(100), FP16: Fraction(125)}),
        "V100-SXM2-16G",
        Workload.COMPUTE,
        ("int8 throughput unknown", "bf16 throughput unknown"),
        {"fp16": Fraction(1)},
    ),
]


@pytest.mark.parametrize(
    ("demand", "model", "workload", "missing", "per_resource"),
    [m[1:] for m in MISSING],
    ids=[m[0] for m in MISSING],
)
def test_a_fit_names_each_figure_it_lacks(exchange, demand, model, workload, missing, per_resource):
    fit = exchange.fit(demand, model, workload)
    assert fit.missing == missing
    assert dict(fit.per_resource) == per_resource
    assert fit.devices is None


def _replace(database, model, **update):
    profiles = [p.model_copy(update=update) if p.model == model else p for p in database.profiles]
    return ProfileDatabase(sources=database.sources, profiles=profiles)


@pytest.fixture
def t4_without_fp16(database):
    """The database with T4's fp16 figure set to zero (an operator's override may say so)."""
    t4 = database.get("T4")
    zero = t4.throughput[FP16].model_copy(update={"value": Decimal(0)})
    return Exchange(_replace(database, "T4", throughput={**t4.throughput, FP16: zero}))


@pytest.mark.parametrize(
    ("workload", "rate"),
    [
        (Workload.COMPUTE, Fraction(0)),
        (Workload.MEMORY, Fraction(320, 2039)),
        (Workload.BALANCED, Fraction(0)),
    ],
    ids=["compute", "memory", "balanced"],
)
def test_a_zero_figure_gives_a_zero_rate(t4_without_fp16, workload, rate):
    assert t4_without_fp16.rate("T4", FP16, workload) == rate


@pytest.mark.parametrize("workload", [Workload.COMPUTE, Workload.BALANCED])
def test_a_zero_figure_makes_the_model_unanswerable(t4_without_fp16, workload):
    fit = t4_without_fp16.fit(Demand(throughput={FP16: Fraction(10)}), "T4", workload)
    assert (fit.missing, fit.devices) == (("fp16 throughput is zero",), None)


@pytest.mark.parametrize("workload", [Workload.MEMORY, Workload.BALANCED])
def test_a_zero_bandwidth_is_named_not_blamed_on_throughput(database, workload):
    # An operator's override can set a model's bandwidth to 0: the reason names that figure.
    t4 = database.get("T4")
    zero = t4.memory_bandwidth_gbps.model_copy(update={"value": Decimal(0)})
    exchange = Exchange(_replace(database, "T4", memory_bandwidth_gbps=zero))
    fit = exchange.fit(Demand(throughput={FP16: Fraction(10)}), "T4", workload)
    assert (fit.missing, fit.devices) == (("memory bandwidth is zero",), None)


@pytest.mark.parametrize(
    ("workload", "reason"),
    [
        (Workload.COMPUTE, "fp16 throughput is zero"),  # compute never looks at bandwidth
        (Workload.MEMORY, "memory bandwidth is zero"),
        (Workload.BALANCED, "memory bandwidth is zero"),
    ],
)
def test_with_both_figures_zero_the_reason_is_the_one_the_workload_uses(database, workload, reason):
    t4 = database.get("T4")
    no_bandwidth = t4.memory_bandwidth_gbps.model_copy(update={"value": Decimal(0)})
    no_fp16 = t4.throughput[FP16].model_copy(update={"value": Decimal(0)})
    changed = {
        "memory_bandwidth_gbps": no_bandwidth,
        "throughput": {**t4.throughput, FP16: no_fp16},
    }
    exchange = Exchange(_replace(database, "T4", **changed))
    fit = exchange.fit(Demand(throughput={FP16: Fraction(10)}), "T4", workload)
    assert fit.missing == (reason,)


def test_a_reference_without_the_precision_asked_is_an_error(database):
    a100 = database.get("A100-SXM4-80G")
    without_int8 = {p: f for p, f in a100.throughput.items() if p is not INT8}
    exchange = Exchange(_replace(database, "A100-SXM4-80G", throughput=without_int8))
    with pytest.raises(ValueError, match=r"^the reference A100-SXM4-80G has no int8 figure$"):
        exchange.demand_acu(Demand(throughput={INT8: Fraction(100)}))


def test_candidates_are_fitted_for_the_workload_asked(exchange):
    fits = exchange.candidates(
        Demand(throughput={FP16: Fraction(312)}),
        Workload.MEMORY,
        models=["A100-SXM4-40G", "H100-SXM5-80G"],
    )
    assert [(f.model, f.needed) for f in fits] == [
        ("H100-SXM5-80G", Fraction(2039, 3350)),
        ("A100-SXM4-40G", Fraction(2039, 1555)),
    ]


@pytest.mark.parametrize(
    ("workload", "equivalence"),
    [
        (Workload.COMPUTE, Fraction("989.5") / 312),
        (Workload.MEMORY, Fraction(3350, 1555)),
    ],
    ids=["compute", "memory"],
)
def test_equivalence_uses_the_workload_asked(exchange, workload, equivalence):
    assert exchange.equivalence("H100-SXM5-80G", "A100-SXM4-40G", FP16, workload) == equivalence


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
