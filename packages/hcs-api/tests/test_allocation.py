"""The allocation annotations round-trip, name each container, and refuse a corrupt record;
the JSON keeps vendor-qualified ids while *_VISIBLE_DEVICES gets the vendor's own numbering."""

from __future__ import annotations

import json

import pytest

from hcs_api import (
    ContainerAllocation,
    HcsApiError,
    PlanResult,
    PodAllocation,
    allocation_annotations,
    read_allocation,
)
from hcs_api.names import Annotation, BindPhase, Vendor, is_decision_annotation


def _allocation() -> PodAllocation:
    return PodAllocation(
        node="gpu-01",
        vendor=Vendor.NVIDIA,
        model="H100-SXM5-80G",
        vram=80 << 30,
        share=1000,
        containers=[
            ContainerAllocation(
                container="train", devices=["nvidia-0", "nvidia-1"], vram=80 << 30, share=1000
            ),
            ContainerAllocation(container="sidecar", devices=["nvidia-1"], vram=1 << 30, share=0),
        ],
    )


def test_annotations_carry_every_decision_and_round_trip() -> None:
    annotations = allocation_annotations(_allocation(), BindPhase.RESERVED)
    assert annotations["hcs.io/node"] == "gpu-01"
    assert annotations["hcs.io/vendor"] == "nvidia"
    assert annotations["hcs.io/bind-phase"] == "reserved"
    assert annotations["hcs.io/devices.train"] == "0,1"
    assert annotations["hcs.io/vram-quota.train"] == str(80 << 30)
    assert annotations["hcs.io/devices.sidecar"] == "1"
    assert all(is_decision_annotation(key) for key in annotations)
    assert read_allocation(annotations) == _allocation()
    assert json.loads(annotations["hcs.io/allocation"])["containers"][1]["devices"] == ["nvidia-1"]
    assert _allocation().device_ids() == ["nvidia-0", "nvidia-1"]


def test_a_pod_without_allocation_holds_nothing() -> None:
    assert read_allocation({"other": "x"}) is None


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("not json", "not a valid allocation"),
        (
            json.dumps(
                {
                    "node": "n",
                    "vendor": "intel",
                    "model": "m",
                    "vram": 1,
                    "share": 1,
                    "containers": [],
                }
            ),
            "vendor",
        ),
        (
            json.dumps(
                {
                    "node": "n",
                    "vendor": "nvidia",
                    "model": "m",
                    "vram": 1,
                    "share": 1,
                    "containers": [{"container": "c", "devices": ["0"], "vram": 1, "share": 2000}],
                }
            ),
            "containers[0].share",
        ),
        (
            json.dumps(
                {
                    "node": "n",
                    "vendor": "ascend",
                    "model": "m",
                    "vram": 1,
                    "share": 1,
                    "containers": [
                        {"container": "c", "devices": ["nvidia-0"], "vram": 1, "share": 1}
                    ],
                }
            ),
            "device id nvidia-0 does not start with the allocation's vendor (ascend-)",
        ),
    ],
    ids=["not-json", "unknown-vendor", "share-over-whole", "device-of-another-vendor"],
)
def test_a_corrupt_record_is_an_error_naming_the_problem(raw: str, fragment: str) -> None:
    with pytest.raises(HcsApiError, match=r"hcs\.io/allocation") as caught:
        read_allocation({Annotation.ALLOCATION.value: raw})
    assert fragment in str(caught.value)


def test_plan_result_wire_names_are_camel_case() -> None:
    result = PlanResult(vendor=Vendor.ASCEND, model="Ascend-910B3", node="npu-01")
    assert result.to_wire() == {
        "vendor": "ascend",
        "model": "Ascend-910B3",
        "node": "npu-01",
        "candidates": [],
    }
