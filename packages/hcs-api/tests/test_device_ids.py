"""Device ids are `<vendor>-<index>`; ComputeNodes and allocations written before the rule read
as qualified, so a new scheduler works with old agents and old pods without a flag day."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from hcs_api import HcsApiError, read_allocation
from hcs_api.names import device_id, qualify_device_id, vendor_index
from hcs_api.v1alpha1 import ComputeNode

LEGACY_NODE = Path(__file__).parent / "data" / "computenode-h100-legacy.yaml"


@pytest.mark.parametrize(
    ("vendor", "index", "qualified"),
    [
        ("nvidia", "0", "nvidia-0"),
        ("ascend", "7", "ascend-7"),
        ("hygon", "12", "hygon-12"),
        ("cambricon", "3", "cambricon-3"),
        ("nvidia", "GPU-b42dd28e", "nvidia-GPU-b42dd28e"),  # a uuid index keeps its dashes
    ],
    ids=["nvidia", "ascend", "hygon", "cambricon", "uuid-index"],
)
def test_id_and_index_round_trip(vendor: str, index: str, qualified: str) -> None:
    assert device_id(vendor, index) == qualified
    assert vendor_index(qualified) == index


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: vendor_index("0"), r"device id '0' is not vendor-qualified"),
        (lambda: vendor_index("intel-0"), r"device id 'intel-0' is not vendor-qualified"),
        (lambda: vendor_index("nvidia-"), r"nvidia device index '' is not one"),
        (lambda: vendor_index("nvidia-0,1"), r"nvidia device index '0,1' is not one"),
        (lambda: device_id("intel", "0"), r"unknown vendor 'intel' for device index '0'"),
        (lambda: device_id("nvidia", "0 1"), r"nvidia device index '0 1' is not one"),
        (lambda: device_id("nvidia", "0\n"), r"nvidia device index '0\\n' is not one"),
    ],
    ids=["bare-index", "unknown-vendor", "empty-index", "comma", "bad-vendor", "space", "newline"],
)
def test_malformed_ids_are_errors_naming_them(call: object, message: str) -> None:
    with pytest.raises(HcsApiError, match=message):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("raw", "qualified"),
    [("0", "ascend-0"), ("ascend-0", "ascend-0"), ("nvidia-3", "nvidia-3")],
    ids=["bare-index-gets-the-vendor", "qualified-kept", "other-vendor-kept-for-the-validator"],
)
def test_legacy_ids_are_qualified_once(raw: str, qualified: str) -> None:
    assert qualify_device_id("ascend", raw) == qualified


def test_a_node_from_an_old_agent_reads_as_the_qualified_example(load_example) -> None:
    legacy = ComputeNode.model_validate(yaml.safe_load(LEGACY_NODE.read_text()))
    current = ComputeNode.model_validate(load_example("computenode-h100.yaml"))
    assert legacy.spec == current.spec  # ids and link peers
    assert legacy.status is not None
    assert current.status is not None
    assert legacy.status.devices == current.status.devices
    assert [d.id for d in legacy.spec.devices][:2] == ["nvidia-0", "nvidia-1"]
    assert legacy.to_wire()["spec"]["devices"][0]["links"][0]["peers"][0] == "nvidia-1"


def _mixed_node(status_ids: list[str]) -> dict[str, object]:
    devices = [
        {
            "id": f"{vendor}-0",
            "uuid": f"{vendor}-uuid",
            "vendor": vendor,
            "model": m,
            "vram": "64Gi",
        }
        for vendor, m in (("nvidia", "A100-SXM4-80G"), ("ascend", "Ascend-910B3"))
    ]
    return {
        "metadata": {"name": "mixed"},
        "spec": {"nodeName": "mixed", "vendors": ["nvidia", "ascend"], "devices": devices},
        "status": {"devices": [{"id": i, "vram": "1Gi"} for i in status_ids]},
    }


@pytest.mark.parametrize(
    ("status_ids", "read"),
    [
        (["nvidia-0", "ascend-0"], ["nvidia-0", "ascend-0"]),
        (["0"], ["0"]),  # two vendors' index 0: no old extender wrote this, nothing is guessed
    ],
    ids=["qualified", "ambiguous-bare-index-left-alone"],
)
def test_a_node_with_two_vendors_keeps_both_index_zero(
    status_ids: list[str], read: list[str]
) -> None:
    node = ComputeNode.model_validate(_mixed_node(status_ids))
    assert [d.id for d in node.spec.devices] == ["nvidia-0", "ascend-0"]
    assert node.status is not None
    assert [d.id for d in node.status.devices] == read


def test_status_written_by_an_old_extender_follows_a_new_spec(load_example) -> None:
    document = copy.deepcopy(load_example("computenode-h100.yaml"))
    document["status"]["devices"] = [{"id": "3", "vram": "8Gi"}, {"id": "nvidia-4", "vram": "1Gi"}]
    node = ComputeNode.model_validate(document)
    assert node.status is not None
    assert [d.id for d in node.status.devices] == ["nvidia-3", "nvidia-4"]


def test_roce_peers_name_nics_and_stay_as_written(load_example) -> None:
    document = copy.deepcopy(load_example("computenode-h100.yaml"))
    document["spec"]["devices"][0]["links"].append({"type": "roce", "peers": ["mlx5_0"]})
    node = ComputeNode.model_validate(document)
    assert node.spec.devices[0].links[-1].peers == ["mlx5_0"]


def test_an_old_pod_allocation_reads_qualified_and_keeps_its_visible_devices() -> None:
    old = {
        "node": "npu-01",
        "vendor": "ascend",
        "model": "Ascend-910B3",
        "vram": 1 << 30,
        "share": 250,
        "containers": [
            {"container": "train", "devices": ["0", "3"], "vram": 1 << 30, "share": 250}
        ],
    }
    allocation = read_allocation({"hcs.io/allocation": json.dumps(old)})
    assert allocation is not None
    assert allocation.device_ids() == ["ascend-0", "ascend-3"]
