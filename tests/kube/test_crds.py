"""HCS's generated CRDs are accepted by a real kube-apiserver, which then enforces their schemas."""

import copy

import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from kubetest import DEPLOY, GROUP, VERSION


def _example(name):
    return yaml.safe_load((DEPLOY / "examples" / name).read_text())


def test_crds_are_established_and_serve_the_shipped_examples(api, crds):
    assert sorted(crds) == ["computenodes.hcs.io", "computequotas.hcs.io"]
    node = _example("computenode-h100.yaml")
    node["metadata"]["name"] = "crd-example-node"
    created = api.custom.create_cluster_custom_object(GROUP, VERSION, "computenodes", node)
    try:
        assert created["spec"]["devices"][0]["vram"] == "81559Mi"
        assert len(created["spec"]["devices"]) == 8
    finally:
        api.custom.delete_cluster_custom_object(GROUP, VERSION, "computenodes", "crd-example-node")


def test_a_node_with_bare_ids_from_an_older_agent_is_still_accepted(api, crds):
    """Agents before hcs-api 0.3 write bare device ids ("0"): the API server keeps taking them
    while agents are upgraded (the models read them as nvidia-0)."""
    node = _example("computenode-h100.yaml")
    node["metadata"]["name"] = "crd-legacy-node"
    node.pop("status", None)
    for device in node["spec"]["devices"]:
        device["id"] = device["id"].removeprefix("nvidia-")
        for link in device.get("links", []):
            link["peers"] = [peer.removeprefix("nvidia-") for peer in link["peers"]]
    created = api.custom.create_cluster_custom_object(GROUP, VERSION, "computenodes", node)
    try:
        assert [d["id"] for d in created["spec"]["devices"]][:2] == ["0", "1"]
    finally:
        api.custom.delete_cluster_custom_object(GROUP, VERSION, "computenodes", "crd-legacy-node")


def test_status_is_a_subresource(api, crds):
    """A write to the main resource cannot change status (the agent and extender own it)."""
    node = _example("computenode-h100.yaml")
    node["metadata"]["name"] = "crd-status-node"
    node.pop("status", None)
    api.custom.create_cluster_custom_object(GROUP, VERSION, "computenodes", node)
    try:
        patched = api.custom.patch_cluster_custom_object(
            GROUP, VERSION, "computenodes", "crd-status-node", {"status": {"phase": "Ready"}}
        )
        assert "status" not in patched or patched["status"].get("phase") != "Ready"
    finally:
        api.custom.delete_cluster_custom_object(GROUP, VERSION, "computenodes", "crd-status-node")


def _malformed_nodes():
    base = _example("computenode-h100.yaml")
    base.pop("status", None)
    wrong_vram = copy.deepcopy(base)
    wrong_vram["spec"]["devices"][0]["vram"] = "lots"
    wrong_vendor = copy.deepcopy(base)
    wrong_vendor["spec"]["devices"][1]["vendor"] = "intel"
    no_id = copy.deepcopy(base)
    del no_id["spec"]["devices"][2]["id"]
    unknown_field = copy.deepcopy(base)
    unknown_field["spec"]["devices"][0]["vramGiB"] = 80
    return [
        pytest.param(wrong_vram, "spec.devices[0].vram", id="vram-not-a-quantity"),
        pytest.param(wrong_vendor, "spec.devices[1].vendor", id="unknown-vendor"),
        pytest.param(no_id, "spec.devices[2].id", id="device-without-id"),
        pytest.param(unknown_field, "vramGiB", id="unknown-field"),
    ]


@pytest.mark.parametrize(("body", "field"), _malformed_nodes())
def test_malformed_computenode_is_refused_naming_the_field(api, crds, body, field):
    body["metadata"]["name"] = "crd-bad-node"
    with pytest.raises(ApiException) as refused:
        api.custom.create_cluster_custom_object(
            GROUP, VERSION, "computenodes", body, field_validation="Strict"
        )
    assert refused.value.status in (400, 422)
    assert field in refused.value.body, refused.value.body


def test_malformed_computequota_is_refused_naming_the_field(api, crds, kube_namespace):
    quota = _example("computequota.yaml")
    quota["metadata"]["namespace"] = kube_namespace
    api.custom.create_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, "computequotas", quota
    )
    bad = copy.deepcopy(quota)
    bad["metadata"]["name"] = "bad-quota"
    bad["spec"]["hard"]["vram"] = "a lot"
    with pytest.raises(ApiException) as refused:
        api.custom.create_namespaced_custom_object(
            GROUP, VERSION, kube_namespace, "computequotas", bad
        )
    assert refused.value.status == 422
    assert "spec.hard.vram" in refused.value.body, refused.value.body
