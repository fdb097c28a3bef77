"""Quota accounting: a pod counts what it asks for, in VRAM, ACU, TFLOPS and devices; the
messages for a pod over quota name the quota and the figures."""

from __future__ import annotations

from fractions import Fraction

import pytest

from hcs_api import ComputeRequest
from hcs_api.v1alpha1 import ComputeQuota
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
