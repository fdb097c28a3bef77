"""The harness gives the API HCS builds on (DRA resource.k8s.io/v1 with 1.37's gates), starts
kube-controller-manager on demand, and leaves nothing running after it stops."""

import os

import pytest
from hcs_envtest import ControlPlane, start_controller_manager, wait_for
from kubernetes import client
from kubernetes.client.exceptions import ApiException


def test_version_is_the_pinned_release(kube_api):
    info = client.VersionApi(kube_api).get_code()
    assert (info.major, info.minor) == ("1", "37")
    assert info.git_version.startswith("v1.37.")


def test_dra_resource_slices_keep_consumable_capacity(kube_api):
    """resource.k8s.io/v1 is served with DRAConsumableCapacity on: a device shared by several
    claims (allowMultipleAllocations) keeps its `vram` capacity, which HCS's DRA path sells."""
    resource = client.ResourceV1Api(kube_api)
    body = {
        "metadata": {"name": "envtest-slice"},
        "spec": {
            "driver": "compute.hcs.io",
            "nodeName": "dra-node",
            "pool": {"name": "dra-node", "generation": 1, "resourceSliceCount": 1},
            "devices": [
                {
                    "name": "gpu-0",
                    "allowMultipleAllocations": True,
                    "attributes": {"vendor": {"string": "nvidia"}},
                    "capacity": {"vram": {"value": "80Gi"}},
                }
            ],
        },
    }
    created = resource.create_resource_slice(body)
    try:
        device = created.spec.devices[0]
        assert device.allow_multiple_allocations is True
        assert device.capacity["vram"].value == "80Gi"
    finally:
        resource.delete_resource_slice("envtest-slice")


def test_controller_manager_runs_controllers(control_plane, kube_api):
    manager = start_controller_manager(
        control_plane, controllers=("serviceaccount-token", "serviceaccount")
    )
    core = client.CoreV1Api(kube_api)
    try:
        core.create_namespace({"metadata": {"name": "kcm-check"}})
        wait_for(
            lambda: core.list_namespaced_service_account("kcm-check").items,
            30,
            "the service account controller to make `default`",
        )
    finally:
        manager.stop()
        control_plane.processes.pop("kube-controller-manager", None)
        core.delete_namespace("kcm-check")


def test_a_stopped_control_plane_leaves_no_process(tmp_path):
    with ControlPlane(tmp_path / "second") as plane:
        pids = [p.pid for p in plane.processes.values()]
        assert len(pids) == 2
        api = plane.api_client()
        assert client.CoreV1Api(api).list_namespace().items
        api.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not (tmp_path / "second" / "etcd").exists()


def test_unauthenticated_requests_are_refused(control_plane):
    configuration = client.Configuration()
    configuration.host = control_plane.url
    configuration.ssl_ca_cert = str(control_plane.ca)
    with client.ApiClient(configuration) as anonymous, pytest.raises(ApiException) as refused:
        client.CoreV1Api(anonymous).list_namespace()
    assert refused.value.status in (401, 403)
