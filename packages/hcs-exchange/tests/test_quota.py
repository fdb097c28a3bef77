"""Quota accounting: a pod counts what it asks for, in VRAM, ACU, TFLOPS and devices; the
messages for a pod over quota name the quota and the figures."""

from __future__ import annotations

from fractions import Fraction

import pytest

from hcs_api import ComputeRequest, Quantity
from hcs_api.v1alpha1 import ComputeQuota, QuotaLimits
from hcs_exchange import Exchange, QuotaUsage, load_database, quota_excess

GI = 1 << 30


@pytest.fixture(scope="module")
def exchange() -> Exchange:
    return Exchange(load_database())


def _quota(**hard: object) -> ComputeQuota:
    return ComputeQuota.model_validate(
        {"metadata": {"name": "team", "namespace": "ml"}, "spec": {"hard": hard}}
    )


@pytest.mark.parametrize(
    ("request_", "acu"),
    [
        (ComputeRequest(vram=16 * GI), Fraction(0)),
        # A100-80G: 312 dense FP16 TFLOPS, so 156 TFLOPS is half of it: 50 ACU.
        (ComputeRequest(tflops_fp16=156), Fraction(50)),
        # Two precisions: the larger ACU counts (one workload), not the sum.
        (ComputeRequest(tflops_fp16=156, tflops_fp32=39), Fraction(200)),
    ],
    ids=["vram-only", "fp16-half-a100", "largest-precision"],
)
def test_usage_of_a_request(exchange: Exchange, request_: ComputeRequest, acu: Fraction) -> None:
    usage = QuotaUsage.of(request_, exchange)
    assert usage.acu == acu
    assert usage.vram == request_.vram


def test_within_quota_has_no_excess(exchange: Exchange) -> None:
    used = QuotaUsage.of(ComputeRequest(vram=32 * GI), exchange)
    adding = QuotaUsage.of(ComputeRequest(vram=32 * GI), exchange)
    assert quota_excess(_quota(vram="64Gi"), used, adding) == []


def test_over_quota_names_quota_unit_and_figures(exchange: Exchange) -> None:
    used = QuotaUsage.of(ComputeRequest(vram=48 * GI, tflops_fp16=156), exchange)
    adding = QuotaUsage.of(ComputeRequest(vram=32 * GI, tflops_fp16=156), exchange)
    problems = quota_excess(_quota(vram="64Gi", acu="80"), used, adding)
    assert problems == [
        "ComputeQuota ml/team: VRAM would be 80Gi (in use 48Gi + this pod 32Gi), "
        "over the limit of 64Gi",
        "ComputeQuota ml/team: ACU would be 100 (in use 50 + this pod 50), over the limit of 80",
    ]


def test_a_pod_adding_nothing_in_a_unit_is_not_blamed_for_it(exchange: Exchange) -> None:
    # The namespace is already over its ACU quota (the quota was lowered); a VRAM-only pod
    # adds no ACU and is within VRAM, so it is not refused for ACU.
    used = QuotaUsage(acu=Fraction(500))
    adding = QuotaUsage.of(ComputeRequest(vram=GI), exchange)
    assert quota_excess(_quota(acu="100", vram="10Gi"), used, adding) == []


def test_usage_as_status_rounds_up(exchange: Exchange) -> None:
    usage = QuotaUsage.total(
        [QuotaUsage.of(ComputeRequest(tflops_fp16=1), exchange), QuotaUsage(devices=Fraction(2))]
    )
    limits = usage.to_limits()
    assert limits.devices == 2
    assert limits.acu is not None
    assert float(limits.acu.value) == pytest.approx(100 / 312, abs=1e-8)
    assert limits.acu.value >= Fraction(100, 312)


def test_usage_counts_every_unit_the_pod_asks_for(exchange: Exchange) -> None:
    request = ComputeRequest(vram=8 * GI, tflops_fp16=156, tflops_fp32=39, tops_int8=624, devices=2)
    # ACU per precision: fp16 50, fp32 200, int8 100; the largest counts.
    assert QuotaUsage.of(request, exchange) == QuotaUsage(
        vram=Fraction(8 * GI),
        acu=Fraction(200),
        tflops_fp16=Fraction(156),
        tflops_fp32=Fraction(39),
        tops_int8=Fraction(624),
        devices=Fraction(2),
    )


def test_usage_as_status_sets_every_unit_and_rounds_acu_up_to_nano(exchange: Exchange) -> None:
    request = ComputeRequest(vram=8 * GI, tflops_fp16=1, tflops_fp32=2, tops_int8=3, devices=1)
    usage = QuotaUsage.total([QuotaUsage.of(request, exchange)] * 2)
    # ACU: 4 FP32 TFLOPS of 19.5 is 20.5128205128...: 20.512820513 once rounded up.
    assert usage.to_limits() == QuotaLimits(
        vram=Quantity("16Gi"),
        acu=Quantity("20.512820513"),
        tflops_fp16=Quantity("2"),
        tflops_fp32=Quantity("4"),
        tops_int8=Quantity("6"),
        devices=2,
    )


def test_whole_amounts_stay_whole_in_the_status() -> None:
    limits = QuotaUsage(acu=Fraction(50), tflops_fp16=Fraction(156)).to_limits()
    assert (limits.acu, limits.tflops_fp16) == (Quantity("50"), Quantity("156"))


EXCESS = [
    # (case, hard limits, used, this pod, messages)
    (
        "one-device-over-a-devices-limit",
        {"devices": 2},
        QuotaUsage(devices=Fraction(2)),
        QuotaUsage(devices=Fraction(1)),
        ["devices would be 3 (in use 2 + this pod 1), over the limit of 2"],
    ),
    (
        "exactly-at-the-devices-limit",
        {"devices": 2},
        QuotaUsage(devices=Fraction(1)),
        QuotaUsage(devices=Fraction(1)),
        [],
    ),
    (
        "every-throughput-unit",
        {"tflops_fp16": "10", "tflops_fp32": "1", "tops_int8": "0"},
        QuotaUsage(tflops_fp16=Fraction(8)),
        QuotaUsage(tflops_fp16=Fraction(4), tflops_fp32=Fraction(3, 2), tops_int8=Fraction(1)),
        [
            "FP16 TFLOPS would be 12 (in use 8 + this pod 4), over the limit of 10",
            "FP32 TFLOPS would be 1.5 (in use 0 + this pod 1.5), over the limit of 1",
            "INT8 TOPS would be 1 (in use 0 + this pod 1), over the limit of 0",
        ],
    ),
    # VRAM reads exactly, as Kubernetes prints bytes: never rounded until it looks under.
    (
        "vram-in-gi",
        {"vram": "1Gi"},
        QuotaUsage(vram=Fraction(GI)),
        QuotaUsage(vram=Fraction(GI // 2)),
        ["VRAM would be 1536Mi (in use 1Gi + this pod 512Mi), over the limit of 1Gi"],
    ),
    (
        "vram-of-one-kib-in-gi",
        {"vram": "1000"},
        QuotaUsage(),
        QuotaUsage(vram=Fraction(1024)),
        ["VRAM would be 1Ki (in use 0 + this pod 1Ki), over the limit of 1k"],
    ),
    (
        "vram-finer-than-kib-in-bytes",
        {"vram": "1Ki"},
        QuotaUsage(),
        QuotaUsage(vram=Fraction(1536)),
        ["VRAM would be 1536 (in use 0 + this pod 1536), over the limit of 1Ki"],
    ),
    (
        "vram-one-kib-over-a-gib",
        {"vram": "1Gi"},
        QuotaUsage(vram=Fraction(GI)),
        QuotaUsage(vram=Fraction(1024)),
        ["VRAM would be 1048577Ki (in use 1Gi + this pod 1Ki), over the limit of 1Gi"],
    ),
]


@pytest.mark.parametrize(
    ("hard", "used", "adding", "messages"),
    [e[1:] for e in EXCESS],
    ids=[e[0] for e in EXCESS],
)
def test_excess_is_reported_per_unit_in_its_own_terms(
    hard: dict[str, object], used: QuotaUsage, adding: QuotaUsage, messages: list[str]
) -> None:
    assert quota_excess(_quota(**hard), used, adding) == [
        f"ComputeQuota ml/team: {m}" for m in messages
    ]


def test_a_large_acu_total_is_rounded_exactly_not_through_floats(exchange: Exchange) -> None:
    # 55112 FP32 TFLOPS is 282625.641025641025... ACU (about 2,800 A100s): a float carries too
    # few digits to round it up at the ninth decimal.
    usage = QuotaUsage.of(ComputeRequest(tflops_fp32=55112), exchange)
    assert usage.to_limits().acu == Quantity("282625.641025642")
