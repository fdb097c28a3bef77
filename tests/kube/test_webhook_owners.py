"""The webhook's owner reads against the real API server: a Job's annotations and its
controller, an owner kind with no API (404, nothing), a core-group owner never asked, and an
owner the webhook may not read (403) named in the error."""

import asyncio

import pytest

from hcs_webhook.errors import ClusterReadError
from hcs_webhook.kube import KubernetesCluster
from hcs_webhook.ports import OwnerRef


def _job(namespace):
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "train",
            "namespace": namespace,
            "annotations": {"hcs.io/resume-from": "/ckpt/step-30.pt"},
            "ownerReferences": [
                {
                    "apiVersion": "jobset.x-k8s.io/v1alpha2",
                    "kind": "JobSet",
                    "name": "big",
                    "uid": "00000000-0000-0000-0000-000000000002",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "suspend": True,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "registry.example/train:1"}],
                }
            },
        },
    }


def test_a_jobs_annotations_and_controller_are_read(api, kube_namespace, control_plane):
    from kubernetes import client

    client.BatchV1Api(api.core.api_client).create_namespaced_job(
        kube_namespace, _job(kube_namespace)
    )
    reads = KubernetesCluster(control_plane.api_client())
    meta = asyncio.run(reads.owner_annotations(kube_namespace, "batch/v1", "Job", "train"))
    assert meta is not None
    assert meta.annotations["hcs.io/resume-from"] == "/ckpt/step-30.pt"
    assert meta.controller == OwnerRef("jobset.x-k8s.io/v1alpha2", "JobSet", "big")


def test_an_owner_without_an_api_or_in_the_core_group_gives_nothing(kube_namespace, control_plane):
    reads = KubernetesCluster(control_plane.api_client())
    missing = reads.owner_annotations(kube_namespace, "kubeflow.org/v1", "PyTorchJob", "x")
    assert asyncio.run(missing) is None, "no such API here: 404, not an error"
    gone = reads.owner_annotations(kube_namespace, "batch/v1", "Job", "nope")
    assert asyncio.run(gone) is None
    core = reads.owner_annotations(kube_namespace, "v1", "ReplicationController", "rc")
    assert asyncio.run(core) is None


def test_an_owner_it_may_not_read_is_an_error_naming_it(kube_namespace, control_plane):
    nobody = control_plane.api_client(control_plane.kubeconfig("hcs-test-nobody", []))
    reads = KubernetesCluster(nobody)
    with pytest.raises(ClusterReadError, match=rf"batch/v1 Job {kube_namespace}/train: 403"):
        asyncio.run(reads.owner_annotations(kube_namespace, "batch/v1", "Job", "train"))
