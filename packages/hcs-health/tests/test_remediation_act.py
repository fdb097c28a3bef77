"""The remediation's shell: a sick device is cordoned, the node tainted, each pod on it evicted
after its newest complete checkpoint is recorded where its replacement is admitted, a bare pod
is recreated, a PodDisruptionBudget is waited for, and every step is an Event."""

import zipfile

import pytest

from hcs_api.names import Annotation
from hcs_health.analyzer import Assessment, Grade
from hcs_health.remediation.act import Remediator
from hcs_health.remediation.plan import RemediationConfig
from hcs_health.remediation.port import InMemoryRemediation, ObjectRef

NODE = "gpu-1"
ALLOC = (
    '{"node":"gpu-1","vendor":"nvidia","model":"H100-SXM5-80G","vram":1,"share":1000,'
    '"containers":[{"container":"main","devices":["nvidia-1"],"vram":1,"share":1000}]}'
)


def compute_node():
    devices = [
        {
            "id": f"nvidia-{i}",
            "uuid": f"GPU-{i}",
            "vendor": "nvidia",
            "model": "H100-SXM5-80G",
            "vram": "80Gi",
        }
        for i in range(2)
    ]
    return {"metadata": {"name": NODE}, "spec": {"nodeName": NODE, "devices": devices}}


def pod(name, owner=None, checkpoint=True):
    meta = {
        "name": name,
        "namespace": "team-a",
        "uid": f"uid-{name}",
        "annotations": {
            Annotation.ALLOCATION.value: ALLOC,
            Annotation.NODE.value: NODE,
            "hcs.io/devices.main": "1",
        },
    }
    if checkpoint:
        meta["annotations"][Annotation.CHECKPOINT_DIR.value] = "/ckpt"
    if owner is not None:
        meta["ownerReferences"] = [
            {"apiVersion": "batch/v1", "kind": "Job", "name": owner, "controller": True}
        ]
    spec = {
        "nodeName": NODE,
        "containers": [
            {
                "name": "main",
                "image": "train",
                "volumeMounts": [{"name": "ckpt", "mountPath": "/ckpt"}],
            }
        ],
        "volumes": [{"name": "ckpt", "emptyDir": {}}],
    }
    return {"metadata": meta, "spec": spec}


def torch_file(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("archive/version", b"3\n")


def checkpoints(kubelet, name, partial=True):
    root = kubelet / "pods" / f"uid-{name}" / "volumes" / "kubernetes.io~empty-dir" / "ckpt"
    root.mkdir(parents=True)
    torch_file(root / "step-10.pt")
    torch_file(root / "step-20.pt")
    if partial:
        (root / "step-30.pt.tmp").write_bytes((root / "step-20.pt").read_bytes()[:40])
    return root


def sick(score=0):
    grade = Grade.UNHEALTHY if score < 50 else Grade.HEALTHY
    return {
        "nvidia-0": Assessment("nvidia-0", 100, Grade.HEALTHY, (), 0.0, 100),
        "nvidia-1": Assessment("nvidia-1", score, grade, (), 0.0, 100),
    }


@pytest.fixture
def cluster():
    port = InMemoryRemediation()
    port.nodes[NODE] = compute_node()
    return port


def remediator(port, tmp_path, **config):
    r = Remediator(NODE, port, RemediationConfig(**config), kubelet_root=tmp_path, retry_s=5)
    r.refresh()
    return r


def test_bare_pod_is_cordoned_evicted_and_recreated_with_its_newest_checkpoint(cluster, tmp_path):
    cluster.pods[("team-a", "train")] = pod("train")
    checkpoints(tmp_path, "train")
    outcome = remediator(cluster, tmp_path).reconcile(sick(), now=1.0)
    assert set(cluster.cordons[NODE]) == {"nvidia-1"}
    assert cluster.cordons[NODE]["nvidia-1"].startswith("hcs-health: nvidia-1 UNHEALTHY")
    assert cluster.taints[NODE] == {"hcs.io/degraded": "PreferNoSchedule"}
    assert cluster.calls[0].startswith("cordons"), "the cordon goes out before anything else"
    replacement = cluster.pods[("team-a", "train-r1")]
    assert replacement["metadata"]["annotations"][Annotation.RESUME_FROM] == "/ckpt/step-20.pt"
    assert "nodeName" not in replacement["spec"]
    assert Annotation.ALLOCATION not in replacement["metadata"]["annotations"]
    assert "hcs.io/devices.main" not in replacement["metadata"]["annotations"]
    reasons = [reason for _, reason, _ in cluster.events]
    assert reasons == ["HCSDeviceCordoned", "HCSNodeTaints", "HCSEvicted", "HCSReplaced"]
    evicted = next(m for _, r, m in cluster.events if r == "HCSEvicted")
    assert "resumes from /ckpt/step-20.pt" in evicted
    assert "nvidia-1" in evicted
    assert outcome.cordoned_at == {"nvidia-1": 1.0}


def test_job_pod_records_the_resume_point_on_its_owners_before_eviction(cluster, tmp_path):
    cluster.pods[("team-a", "train-abc")] = pod("train-abc", owner="train")
    job = ObjectRef("batch/v1", "Job", "team-a", "train")
    jobset = ObjectRef("jobset.x-k8s.io/v1alpha2", "JobSet", "team-a", "train")
    cluster.objects[job] = {
        "metadata": {
            "name": "train",
            "namespace": "team-a",
            "ownerReferences": [
                {
                    "apiVersion": jobset.api_version,
                    "kind": "JobSet",
                    "name": "train",
                    "controller": True,
                }
            ],
        }
    }
    cluster.objects[jobset] = {"metadata": {"name": "train", "namespace": "team-a"}}
    checkpoints(tmp_path, "train-abc")
    remediator(cluster, tmp_path).reconcile(sick(), now=1.0)
    for ref in (job, jobset):
        annotations = cluster.objects[ref]["metadata"]["annotations"]
        assert annotations[Annotation.RESUME_FROM] == "/ckpt/step-20.pt"
    order = [c.split()[0] for c in cluster.calls]
    assert order.index("annotate") < order.index("evict")
    assert ("team-a", "train-abc-r1") not in cluster.pods, "the Job makes its own replacement"


def test_a_pod_without_checkpoint_dir_is_still_moved(cluster, tmp_path):
    cluster.pods[("team-a", "infer")] = pod("infer", checkpoint=False)
    remediator(cluster, tmp_path).reconcile(sick(), now=1.0)
    replacement = cluster.pods[("team-a", "infer-r1")]
    assert Annotation.RESUME_FROM not in replacement["metadata"]["annotations"]
    evicted = next(m for _, r, m in cluster.events if r == "HCSEvicted")
    assert "no hcs.io/checkpoint-dir" in evicted


def test_a_disruption_budget_delays_the_eviction_and_it_is_retried(cluster, tmp_path):
    cluster.pods[("team-a", "train")] = pod("train")
    cluster.blocked.add("train")
    checkpoints(tmp_path, "train")
    r = remediator(cluster, tmp_path)
    r.reconcile(sick(), now=1.0)
    r.reconcile(sick(), now=2.0)
    assert ("team-a", "train") in cluster.pods
    assert [x for _, x, _ in cluster.events].count("HCSEvictionBlocked") == 1
    cluster.blocked.clear()
    r.reconcile(sick(), now=7.0)
    assert ("team-a", "train") not in cluster.pods
    assert ("team-a", "train-r1") in cluster.pods


def test_checkpoint_dir_unreadable_from_the_node_is_said(cluster, tmp_path):
    broken = pod("train")
    broken["spec"]["volumes"] = [{"name": "ckpt", "configMap": {"name": "x"}}]
    cluster.pods[("team-a", "train")] = broken
    remediator(cluster, tmp_path).reconcile(sick(), now=1.0)
    evicted = next(m for _, r, m in cluster.events if r == "HCSEvicted")
    assert "not readable from the node" in evicted
    assert "configMap" in evicted


def test_a_device_that_vanished_loses_its_cordon_entry(cluster, tmp_path):
    r = remediator(cluster, tmp_path)
    r.reconcile(sick(), now=1.0)
    assert "nvidia-1" in cluster.cordons[NODE]
    r.release(["nvidia-0"], clock=2.0)
    assert cluster.cordons[NODE] == {}


def test_recovery_lifts_the_cordon_after_the_quiet_period_and_clears_taints(cluster, tmp_path):
    r = remediator(cluster, tmp_path, quiet_period_s=60)
    r.reconcile(sick(), now=0.0)
    r.reconcile(sick(95), now=10.0)
    assert "nvidia-1" in cluster.cordons[NODE]
    r.reconcile(sick(95), now=71.0)
    assert cluster.cordons[NODE] == {}
    assert cluster.taints[NODE] == {}
    assert "HCSDeviceUncordoned" in [x for _, x, _ in cluster.events]
