"""ComputeNode accepts what the agent reports and rejects inconsistent nodes, naming the field."""

import copy

import pytest

from hcs_api import InvalidResourceError, Quantity, parse_resource
from hcs_api.v1alpha1 import ComputeNode, LinkType, NodePhase


@pytest.fixture
def example(load_example):
    return load_example("computenode-h100.yaml")


def _node(example, **spec_changes):
    document = copy.deepcopy(example)
    for path, value in spec_changes.items():
        target = document["spec"]
        *parents, leaf = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(leaf) if leaf.isdigit() else leaf] = value
    return document


def test_example_node_parses_with_typed_fields(example):
    node = parse_resource(example)
    assert isinstance(node, ComputeNode)
    assert len(node.spec.devices) == 8
    first = node.spec.devices[0]
    assert first.vram == Quantity("81559Mi")
    assert first.links[0].type is LinkType.NVLINK
    assert node.spec.device("nvidia-5").cordoned
    assert node.status is not None
    assert node.status.phase is NodePhase.DEGRADED


def test_capacity_sums_devices(example):
    node = ComputeNode.model_validate(example)
    capacity = node.spec.capacity()
    assert capacity.devices == 8
    assert str(capacity.vram) == "652472Mi"
    assert str(capacity.compute.fp16) == "7916"
    # The example's status was written from the same arithmetic.
    assert node.status is not None
    assert node.status.capacity == capacity


def test_wire_form_round_trips(example):
    node = ComputeNode.model_validate(example)
    assert ComputeNode.model_validate(node.to_wire()) == node
    assert node.to_wire()["spec"]["devices"][0]["pciBusId"] == "00000000:18:00.0"


INVALID = [
    ("duplicate-id", {"devices__1__id": "nvidia-0"}, "device id nvidia-0 appears more than once"),
    ("legacy-duplicate-id", {"devices__1__id": "0"}, "device id nvidia-0 appears more than once"),
    (
        "duplicate-uuid",
        {"devices__1__uuid": "GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"},
        "device uuid GPU-b42dd28e",
    ),
    ("vendor-mismatch", {"vendors": ["nvidia", "ascend"]}, "do not match the devices' vendors"),
    (
        "id-of-another-vendor",
        {"devices__1__id": "ascend-1"},
        r"spec: device id ascend-1 does not start with its vendor \(nvidia-\)",
    ),
    (
        "index-with-a-comma",
        {"devices__1__id": "nvidia-1,2"},
        "nvidia device index '1,2' is not one \\*_VISIBLE_DEVICES takes",
    ),
    (
        "link-to-unknown-device",
        {"devices__0__links": [{"type": "nvlink", "peers": ["nvidia-9"]}]},
        "link to unknown device nvidia-9",
    ),
    (
        "link-to-itself",
        {"devices__0__links": [{"type": "pcie", "peers": ["nvidia-0"]}]},
        "link to itself",
    ),
    (
        "cordon-without-reason",
        {"devices__5__cordonReason": None},
        "cordoned without a cordonReason",
    ),
    (
        "health-over-100",
        {"devices__0__health": 101},
        r"spec.devices\[0\].health: Input should be less than or equal to 100",
    ),
    (
        "bad-vram",
        {"devices__2__vram": "80GB"},
        r"spec.devices\[2\].vram: '80GB' is not a Kubernetes quantity",
    ),
    (
        "fractional-vram",
        {"devices__2__vram": "0.5"},
        r"spec.devices\[2\].vram: 500m is not a whole number",
    ),
    ("negative-throughput", {"devices__0__compute": {"fp16": "-1"}}, "-1 is negative"),
    (
        "unknown-vendor",
        {"devices__0__vendor": "intel"},
        r"spec.devices\[0\].vendor: Input should be",
    ),
    (
        "bad-pci-id",
        {"devices__0__pciBusId": "18:00.0"},
        r"spec.devices\[0\].pciBusId: String should match pattern",
    ),
    (
        "typo-field",
        {"devices__0__vramm": "1Gi"},
        r"spec.devices\[0\].vramm: Extra inputs are not permitted",
    ),
    (
        "bad-link-type",
        {"devices__0__links": [{"type": "infiniband", "peers": ["nvidia-1"]}]},
        "type: Input should be",
    ),
]


@pytest.mark.parametrize(
    ("changes", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_inconsistent_nodes_are_rejected_with_the_field_named(example, changes, message):
    with pytest.raises(InvalidResourceError, match=message) as caught:
        parse_resource(_node(example, **changes))
    assert caught.value.name == "ComputeNode gpu-h100-01"


def test_wrong_api_version_or_kind_is_named(example):
    with pytest.raises(InvalidResourceError, match=r"apiVersion is 'hcs\.io/v1'"):
        parse_resource(example | {"apiVersion": "hcs.io/v1"})
    with pytest.raises(InvalidResourceError, match="kind is 'GpuNode'"):
        parse_resource(example | {"kind": "GpuNode"})
    with pytest.raises(InvalidResourceError, match="not an object"):
        parse_resource(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_unknown_metadata_fields_are_kept(example):
    document = copy.deepcopy(example)
    document["metadata"]["managedFields"] = [{"manager": "hcs-agent"}]
    node = ComputeNode.model_validate(document)
    assert node.to_wire()["metadata"]["managedFields"] == [{"manager": "hcs-agent"}]


def test_device_lookup_names_missing_device(example):
    node = ComputeNode.model_validate(example)
    with pytest.raises(KeyError, match="gpu-h100-01 has no device nvidia-12"):
        node.spec.device("nvidia-12")


def test_link_p2p_keeps_its_wire_name():
    # The camelCase alias generator would write "p2P", which a structural CRD would prune.
    from hcs_api.v1alpha1 import Link

    assert Link(type="nvlink", peers=["nvidia-1"], p2p=True).to_wire()["p2p"] is True
