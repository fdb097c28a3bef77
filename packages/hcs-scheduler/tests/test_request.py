"""A pod's abstract request becomes, per model, a share of one device or N whole devices."""

import pytest

from hcs_api import ComputeRequest, PodRequest, Preferences
from hcs_api.names import Vendor
from hcs_scheduler import request_from_pod

GI = 1024**3
MODELS = ["A100-SXM4-80G", "H100-SXM5-80G", "T4", "Ascend-910B1", "Ascend-910B3"]
VENDORS = ["nvidia", "nvidia", "nvidia", "ascend", "ascend"]


SHARDED = Preferences(sharded=True)


def _resolve(exchange, preferences=None, max_devices=8, **amounts):
    pod = PodRequest(
        containers=(), effective=ComputeRequest(**amounts), preferences=preferences or Preferences()
    )
    return request_from_pod("p", pod, MODELS, VENDORS, exchange, max_devices)


PLANS = [
    # (case, request, model, (whole, share, vram per device))
    ("share-of-an-a100", {"vram": 40 * GI, "tflops_fp16": 156}, "A100-SXM4-80G", (0, 500, 40 * GI)),
    (
        "smaller-share-of-an-h100",
        {"vram": 40 * GI, "tflops_fp16": 156},
        "H100-SXM5-80G",
        (0, 158, 40 * GI),
    ),
    (
        "sharded-vram-needs-three-t4",
        {"vram": 40 * GI, "tflops_fp16": 100, "preferences": SHARDED},
        "T4",
        (3, 1000, -(-40 * GI // 3)),
    ),
    (
        "throughput-over-two-a100-each-holds-the-vram",
        {"vram": 16 * GI, "tflops_fp16": 500},
        "A100-SXM4-80G",
        (2, 1000, 16 * GI),
    ),
    (
        "sharded-throughput-over-two-a100-splits-the-vram",
        {"vram": 16 * GI, "tflops_fp16": 500, "preferences": SHARDED},
        "A100-SXM4-80G",
        (2, 1000, 8 * GI),
    ),
    ("910b1-share", {"vram": 16 * GI, "tflops_fp16": 160}, "Ascend-910B1", (0, 500, 16 * GI)),
    (
        "explicit-devices",
        {"devices": 4, "vram": 160 * GI, "tflops_fp16": 800},
        "A100-SXM4-80G",
        (4, 1000, 40 * GI),
    ),
]


@pytest.mark.parametrize(
    ("amounts", "model", "plan"), [p[1:] for p in PLANS], ids=[p[0] for p in PLANS]
)
def test_plan_per_model(exchange, amounts, model, plan):
    request = _resolve(exchange, **amounts)
    i = MODELS.index(model)
    assert request.allowed[i]
    assert (int(request.whole[i]), int(request.share[i]), int(request.vram[i])) == plan


def test_vram_over_one_device_rules_the_model_out_naming_the_rule(exchange):
    # 70Gi with no device count: one T4 (16Gi) cannot hold it, and it may not be spread.
    request = _resolve(exchange, vram=70 * GI)
    assert request.allowed.tolist() == [True, True, False, False, False]
    t4 = next(r for r in request.reasons if r.startswith("T4:"))
    assert "70Gi VRAM must fit on one device and it holds 16Gi" in t4
    assert "ai.compute/devices" in t4
    assert "hcs.io/sharded" in t4


def test_unknown_throughput_rules_the_model_out_with_a_reason(exchange):
    request = _resolve(exchange, vram=16 * GI, tflops_fp16=100)
    assert not request.allowed[MODELS.index("Ascend-910B3")]
    assert "Ascend-910B3: fp16 throughput unknown" in request.reasons


def test_downgrade_consent_admits_models_without_the_figure(exchange):
    request = _resolve(
        exchange, preferences=Preferences(allow_downgrade=True), vram=16 * GI, tflops_fp16=100
    )
    i = MODELS.index("Ascend-910B3")
    assert request.allowed[i]
    assert request.downgraded[i]
    assert not request.downgraded[MODELS.index("A100-SXM4-80G")]


def test_vendor_preferences_rule_models_out(exchange):
    request = _resolve(
        exchange, preferences=Preferences(vendors=frozenset({Vendor.ASCEND})), vram=GI
    )
    assert request.allowed.tolist() == [False, False, False, True, True]
    assert any("vendor nvidia excluded" in reason for reason in request.reasons)


def test_more_devices_than_a_node_has_is_ruled_out(exchange):
    request = _resolve(exchange, SHARDED, max_devices=8, vram=1000 * GI, tflops_fp16=10)
    assert not request.allowed[MODELS.index("T4")]
    assert any("T4: needs 63 devices" in reason for reason in request.reasons)


def test_a_request_no_model_can_serve_still_needs_a_device(exchange):
    # Every model ruled out leaves the per-model plans empty; it must not pass for CPU-only
    # work and land on a node without accelerators.
    request = _resolve(exchange, max_devices=1, vram=1000 * GI)
    assert not request.allowed.any()
    assert request.needs_device
