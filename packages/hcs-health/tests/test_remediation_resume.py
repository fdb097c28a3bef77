"""Checkpoint volumes are found where the kubelet put them; a replacement drops HCS's decisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hcs_health.remediation.port import ObjectRef
from hcs_health.remediation.resume import (
    checkpoint_dir,
    container_path,
    controller_of,
    host_path,
    next_name,
    replacement,
)

KUBELET = Path("/var/lib/kubelet")
VOLUMES = KUBELET / "pods" / "uid-1" / "volumes"


def pod_with(volume: dict[str, Any], mount_path: str = "/ckpt", **mount: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "train", "uid": "uid-1"},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "volumeMounts": [{"name": "data", "mountPath": mount_path, **mount}],
                }
            ],
            "volumes": [{"name": "data", **volume}],
        },
    }


def bound(claim: str) -> str | None:
    return {"ckpt-claim": "pv-123"}.get(claim)


@pytest.mark.parametrize(
    ("volume", "expected", "how"),
    [
        ({"emptyDir": {}}, VOLUMES / "kubernetes.io~empty-dir/data/run1", "emptyDir volume data"),
        ({"nfs": {"server": "x"}}, VOLUMES / "kubernetes.io~nfs/data/run1", "nfs volume data"),
        ({"hostPath": {"path": "/mnt/ckpt"}}, Path("/mnt/ckpt/run1"), "hostPath volume data"),
        (
            {"persistentVolumeClaim": {"claimName": "ckpt-claim"}},
            VOLUMES / "kubernetes.io~csi/pv-123/mount/run1",
            "claim ckpt-claim (volume pv-123)",
        ),
        ({"csi": {"driver": "d"}}, VOLUMES / "kubernetes.io~csi/data/mount/run1", "inline CSI"),
    ],
    ids=["empty-dir", "nfs", "host-path", "claim", "inline-csi"],
)
def test_host_path_per_volume_kind(volume: dict[str, Any], expected: Path, how: str) -> None:
    found, said = host_path(pod_with(volume), "/ckpt/run1", KUBELET, bound)
    assert found == expected
    assert said.startswith(how)


@pytest.mark.parametrize(
    ("volume", "wanted", "reason"),
    [
        ({"emptyDir": {}}, "/elsewhere", "no volume of the pod is mounted at /elsewhere"),
        ({"emptyDir": {}}, "/ckpt-other", "no volume of the pod is mounted at /ckpt-other"),
        (
            {"persistentVolumeClaim": {"claimName": "unbound"}},
            "/ckpt",
            "claim unbound is not bound to a volume",
        ),
        (
            {"configMap": {"name": "c"}, "secret": {}},
            "/ckpt",
            "volume data (configMap, secret) is not one HCS reads checkpoints from",
        ),
    ],
    ids=["not-mounted", "prefix-is-not-a-parent", "unbound-claim", "unsupported-kind"],
)
def test_host_path_says_why_it_cannot(volume: dict[str, Any], wanted: str, reason: str) -> None:
    assert host_path(pod_with(volume), wanted, KUBELET, bound) == (None, reason)


def test_host_path_mount_of_a_volume_missing_from_the_spec() -> None:
    pod = pod_with({"emptyDir": {}})
    pod["spec"]["volumes"] = []
    assert host_path(pod, "/ckpt", KUBELET, bound) == (None, "volume data is not in the pod's spec")


def test_host_path_exact_mount_point_and_sub_path() -> None:
    pod = pod_with({"hostPath": {"path": "/mnt"}}, subPath="jobs/a")
    assert host_path(pod, "/ckpt/", KUBELET, bound)[0] == Path("/mnt/jobs/a")
    assert host_path(pod, "/ckpt/x/../y", KUBELET, bound)[0] == Path("/mnt/jobs/a/y")


def test_host_path_deepest_mount_wins_in_any_order() -> None:
    pod = pod_with({"hostPath": {"path": "/outer"}}, mount_path="/data")
    pod["spec"]["containers"].insert(
        0, {"name": "side", "volumeMounts": [{"name": "inner", "mountPath": "/data/ckpt"}]}
    )
    pod["spec"]["volumes"].append({"name": "inner", "hostPath": {"path": "/inner"}})
    assert host_path(pod, "/data/ckpt/s1", KUBELET, bound)[0] == Path("/inner/s1")
    pod["spec"]["containers"].reverse()
    assert host_path(pod, "/data/ckpt/s1", KUBELET, bound)[0] == Path("/inner/s1")
    assert host_path(pod, "/data/other", KUBELET, bound)[0] == Path("/outer/other")


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({"hcs.io/checkpoint-dir": "/ckpt"}, "/ckpt"),
        ({"hcs.io/checkpoint-dir": "ckpt"}, None),
        ({"hcs.io/checkpoint-dir": 3}, None),
        ({}, None),
        (None, None),
    ],
    ids=["absolute", "relative", "not-a-string", "absent", "no-annotations"],
)
def test_checkpoint_dir(annotations: dict[str, Any] | None, expected: str | None) -> None:
    assert checkpoint_dir({"metadata": {"annotations": annotations}}) == expected


def test_container_path_maps_the_host_file_back() -> None:
    found = Path("/mnt/ckpt/run1/step-30.pt")
    assert container_path("/ckpt", Path("/mnt/ckpt"), found) == "/ckpt/run1/step-30.pt"


def test_controller_of_takes_the_controller_owner_only() -> None:
    owners = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm"},
        {"apiVersion": "batch/v1", "kind": "Job", "name": "train", "controller": True},
    ]
    obj = {"metadata": {"namespace": "ml", "ownerReferences": owners}}
    assert controller_of(obj) == ObjectRef("batch/v1", "Job", "ml", "train")
    assert controller_of({"metadata": {"ownerReferences": owners[:1]}}) is None
    assert controller_of({}) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("train", "train-r1"),
        ("train-r1", "train-r2"),
        ("train-r9", "train-r10"),
        ("a" * 70, "a" * 59 + "-r1"),
        ("-r5", "-r5-r1"),
    ],
    ids=["first", "second", "tenth", "long-name-cut", "no-base"],
)
def test_next_name(name: str, expected: str) -> None:
    assert next_name(name) == expected


def test_replacement_keeps_the_user_and_drops_the_decisions() -> None:
    pod = {
        "metadata": {
            "name": "train-r1",
            "uid": "u",
            "labels": {"app": "x"},
            "annotations": {
                "hcs.io/checkpoint-dir": "/ckpt",
                "hcs.io/devices.main": "nvidia-0",
                "hcs.io/vram-quota.main": "1",
                "hcs.io/node": "n1",
                "team": "a",
            },
        },
        "spec": {"nodeName": "n1", "containers": [{"name": "main"}]},
    }
    body = replacement(pod, "/ckpt/step-30.pt")
    assert body["apiVersion"] == "v1"
    assert body["kind"] == "Pod"
    assert body["metadata"] == {
        "name": "train-r2",
        "labels": {"app": "x"},
        "annotations": {
            "hcs.io/checkpoint-dir": "/ckpt",
            "team": "a",
            "hcs.io/resume-from": "/ckpt/step-30.pt",
        },
    }
    assert body["spec"] == {"containers": [{"name": "main"}]}
    assert "hcs.io/resume-from" not in replacement(pod, None)["metadata"]["annotations"]
    assert replacement({}, None)["metadata"]["name"] == "pod-r1"


def test_host_path_two_containers_mounting_the_same_path_first_wins() -> None:
    pod = pod_with({"hostPath": {"path": "/first"}})
    pod["spec"]["containers"].append(
        {"name": "side", "volumeMounts": [{"name": "other", "mountPath": "/ckpt"}]}
    )
    pod["spec"]["volumes"].append({"name": "other", "hostPath": {"path": "/second"}})
    assert host_path(pod, "/ckpt/s1", KUBELET, bound)[0] == Path("/first/s1")


def test_controller_of_an_object_without_a_namespace() -> None:
    owner = {"apiVersion": "v1", "kind": "Node", "name": "n1", "controller": True}
    assert controller_of({"metadata": {"ownerReferences": [owner]}}) == ObjectRef(
        "v1", "Node", "", "n1"
    )
