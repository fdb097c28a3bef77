"""hcs-health on a real control plane: a real NVRM Xid line written to /dev/kmsg gets the device
cordoned (and kept cordoned across the agent's own reports) and the node tainted; the pods on
the device are evicted through the Eviction API, a PodDisruptionBudget holding one back until it
allows it; and the replacements, the Job controller's and HCS's own for a bare pod, are admitted
by the webhook with the newest complete checkpoint in HCS_RESUME_FROM."""

import json
import os
import time
import zipfile

from hcs_envtest import Process, start_controller_manager, wait_for
from kubetest import GROUP, HCS_USER, VERSION, agent_command, h100, pod

BUS = ("0000:c7:00.0", "0000:c8:00.0")
XID_79 = "NVRM: Xid (PCI:0000:c8:00): 79, pid=1911, GPU has fallen off the bus."
"""journal-xid79-fallen-off-bus_rtx5070ti_open-gpu-kernel-modules-1010.txt's line, on the bus
address of the test's nvidia-1 (an address no fixture line uses, so another test's kernel lines
cannot reach this test's devices)."""
CHECKPOINT = "/ckpt/step-20.pt"
AGENT_USER = "system:serviceaccount:hcs-system:hcs-agent"
"""The agent's identity as the chart runs it: the webhook lets it write hcs.io/resume-from on the
bare pod it recreates, and no other decision."""


def _allocation(node):
    return json.dumps(
        {
            "node": node,
            "vendor": "nvidia",
            "model": "H100-SXM5-80G",
            "vram": 17179869184,
            "share": 200,
            "containers": [
                {"container": "main", "devices": ["nvidia-1"], "vram": 17179869184, "share": 200}
            ],
        }
    )


def _bind(hcs, api, namespace, name, node):
    """What the extender does at bind (annotations, Binding) and the kubelet after (Running)."""
    from kubernetes import client

    annotations = {
        "hcs.io/node": node,
        "hcs.io/vendor": "nvidia",
        "hcs.io/allocation": _allocation(node),
        "hcs.io/bind-phase": "bound",
        "hcs.io/devices.main": "1",
        "hcs.io/vram-quota.main": "17179869184",
    }
    hcs.patch_namespaced_pod(name, namespace, {"metadata": {"annotations": annotations}})
    target = client.V1ObjectReference(kind="Node", name=node)
    binding = client.V1Binding(metadata=client.V1ObjectMeta(name=name), target=target)
    hcs.create_namespaced_binding(namespace, binding, _preload_content=False)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
        }
    }
    api.core.patch_namespaced_pod_status(name, namespace, status)
    return api.core.read_namespaced_pod(name, namespace)


def _checkpoints(kubelet, uid):
    """The pod's emptyDir as the kubelet lays it out: a complete checkpoint, a newer partial."""
    root = kubelet / "pods" / uid / "volumes" / "kubernetes.io~empty-dir" / "ckpt"
    root.mkdir(parents=True)
    for step in (10, 20):
        with zipfile.ZipFile(root / f"step-{step}.pt", "w") as archive:
            archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
            archive.writestr("archive/version", b"3\n")
    (root / "step-30.pt.tmp").write_bytes((root / "step-20.pt").read_bytes()[:50])


def _training_pod(name):
    body = pod(name, {"ai.compute/vram": "16Gi"}, annotations={"hcs.io/checkpoint-dir": "/ckpt"})
    body["spec"]["containers"][0]["volumeMounts"] = [{"name": "ckpt", "mountPath": "/ckpt"}]
    body["spec"]["volumes"] = [{"name": "ckpt", "emptyDir": {}}]
    return body


def _env(pod_object):
    return {e.name: e.value for e in pod_object.spec.containers[0].env or []}


def _events(api, namespace, name):
    listed = api.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}")
    return {e.reason: e.message for e in listed.items}


def _spec_device(api, node, device):
    """The device as the ComputeNode's spec holds it, and the ComputeNode ((None, None) before
    the agent's first report)."""
    from kubernetes.client.exceptions import ApiException

    try:
        found = api.custom.get_cluster_custom_object(GROUP, VERSION, "computenodes", node)
    except ApiException as error:
        if error.status == 404:
            return None, None
        raise
    return next(d for d in found["spec"]["devices"] if d["id"] == device), found


def test_xid_79_cordons_taints_evicts_and_resumes_from_the_checkpoint(
    api, control_plane, crds, make_node, webhook, kube_namespace, tmp_path
):
    from kubernetes import client

    manager = start_controller_manager(
        control_plane, ["job-controller", "disruption-controller"], name="kcm-health"
    )
    node = make_node("gpu-health")
    hcs = client.CoreV1Api(
        control_plane.api_client(control_plane.kubeconfig(HCS_USER, ["system:masters"]))
    )
    batch = client.BatchV1Api(api.core.api_client)
    policy = client.PolicyV1Api(api.core.api_client)
    kubelet = tmp_path / "kubelet"

    # A Job's pod behind a PodDisruptionBudget, and a bare pod, both on nvidia-1.
    template = _training_pod("train")
    template["metadata"].pop("name")
    template["spec"]["restartPolicy"] = "Never"
    job = {"metadata": {"name": "train"}, "spec": {"backoffLimit": 4, "template": template}}
    batch.create_namespaced_job(kube_namespace, job)
    first = wait_for(
        lambda: api.core.list_namespaced_pod(kube_namespace, label_selector="job-name=train").items,
        30,
        "the Job's pod",
    )[0]
    assert "HCS_RESUME_FROM" not in _env(first), "a first run has nothing to resume"
    job_pod = _bind(hcs, api, kube_namespace, first.metadata.name, node)
    pdb = {
        "metadata": {"name": "train"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"job-name": "train"}}},
    }
    policy.create_namespaced_pod_disruption_budget(kube_namespace, pdb)
    api.core.create_namespaced_pod(kube_namespace, _training_pod("solo"))
    solo = _bind(hcs, api, kube_namespace, "solo", node)
    for uid in (job_pod.metadata.uid, solo.metadata.uid):
        _checkpoints(kubelet, uid)
    wait_for(
        lambda: (
            policy.read_namespaced_pod_disruption_budget_status(
                "train", kube_namespace
            ).status.observed_generation
        ),
        30,
        "the disruption controller to see the budget",
    )

    devices = [h100(i, pciBusId=BUS[i]) for i in range(2)]
    argv = agent_command(tmp_path / "inventory.yaml", devices, node, interval="1")
    env = {
        **os.environ,
        "HCS_AGENT_KUBECONFIG": str(control_plane.kubeconfig(AGENT_USER, ["system:masters"])),
        "HCS_AGENT_HEALTH_SOURCE": "poll",
        "HCS_AGENT_KUBELET_ROOT": str(kubelet),
    }
    agent = Process("hcs-agent", argv, tmp_path / "agent.log", env=env)
    try:
        wait_for(lambda: _spec_device(api, node, "nvidia-1")[0], 30, "the agent's ComputeNode")
        # The polling fallback opened /dev/kmsg from its end: wait for the log to say so.
        wait_for(lambda: "polling /dev/kmsg" in (tmp_path / "agent.log").read_text(), 30, "kmsg")
        with open("/dev/kmsg", "w") as kmsg:
            kmsg.write(XID_79 + "\n")

        device = wait_for(
            lambda: (d := _spec_device(api, node, "nvidia-1")[0]).get("cordoned") and d,
            10,
            "nvidia-1 cordoned",
        )
        assert device["cordonReason"].startswith("hcs-health: nvidia-1 UNHEALTHY (score 0)")
        assert "fallen-off-bus" in device["cordonReason"] or "79" in device["cordonReason"]
        assert not _spec_device(api, node, "nvidia-0")[0].get("cordoned")
        taints = wait_for(lambda: api.core.read_node(node).spec.taints, 10, "the node's taint")
        assert [(t.key, t.effect) for t in taints] == [("hcs.io/degraded", "PreferNoSchedule")]

        # The bare pod: evicted, and HCS's replacement admitted with its checkpoint.
        replacement = wait_for(
            lambda: _get_pod(api, kube_namespace, "solo-r1"), 30, "the bare pod's replacement"
        )
        assert _env(replacement)["HCS_RESUME_FROM"] == CHECKPOINT
        assert replacement.spec.node_name is None, "the scheduler places it again"
        assert api.core.read_namespaced_pod("solo", kube_namespace).metadata.deletion_timestamp
        solo_events = _events(api, kube_namespace, "solo")
        assert f"resumes from {CHECKPOINT}" in solo_events["HCSEvicted"]

        # The Job's pod: the budget holds it back, and the Event says so...
        blocked = wait_for(
            lambda: _events(api, kube_namespace, job_pod.metadata.name).get("HCSEvictionBlocked"),
            30,
            "the eviction to wait for the disruption budget",
        )
        assert "disruption budget" in blocked
        assert not api.core.read_namespaced_pod(
            job_pod.metadata.name, kube_namespace
        ).metadata.deletion_timestamp
        recorded = batch.read_namespaced_job("train", kube_namespace).metadata.annotations
        assert recorded["hcs.io/resume-from"] == CHECKPOINT
        # ...until the budget allows it: the retry evicts, the Job makes a new pod, and the
        # webhook hands it the checkpoint the agent recorded on the Job.
        policy.patch_namespaced_pod_disruption_budget(
            "train", kube_namespace, {"spec": {"minAvailable": 0}}
        )
        second = wait_for(
            lambda: [
                p
                for p in api.core.list_namespaced_pod(
                    kube_namespace, label_selector="job-name=train"
                ).items
                if p.metadata.uid != job_pod.metadata.uid
            ],
            60,
            "the Job's replacement pod",
        )[0]
        assert _env(second)["HCS_RESUME_FROM"] == CHECKPOINT
        node_events = _events(api, "default", node)
        assert "nvidia-1 cordoned" in node_events["HCSDeviceCordoned"]

        # The agent keeps applying its spec every second: the cordon (hcs-health's field
        # manager) survives it.
        beat = _spec_device(api, node, "nvidia-1")[1]["status"]["lastHeartbeat"]
        wait_for(
            lambda: _spec_device(api, node, "nvidia-1")[1]["status"]["lastHeartbeat"] != beat,
            30,
            "another report from the agent",
        )
        assert _spec_device(api, node, "nvidia-1")[0]["cordoned"] is True

        # The node's other device fails too: nothing usable is left, so the node turns
        # NoExecute-unhealthy, and the agent's reports (no throughput left to advertise) still
        # go through.
        with open("/dev/kmsg", "w") as kmsg:
            kmsg.write(XID_79.replace(BUS[1][:10], BUS[0][:10]) + "\n")
        taints = wait_for(
            lambda: (
                [(t.key, t.effect) for t in api.core.read_node(node).spec.taints or []]
                == [("hcs.io/unhealthy", "NoExecute")]
            ),
            10,
            "the node's unhealthy taint",
        )
        later = _spec_device(api, node, "nvidia-0")[1]["status"]["lastHeartbeat"]
        status = wait_for(
            lambda: (
                (n := _spec_device(api, node, "nvidia-0")[1])["status"]["lastHeartbeat"] != later
                and n["status"]
            ),
            30,
            "a report after every device failed",
        )
        assert status["phase"] == "NotReady"
        assert status["allocatable"]["devices"] == 0
    finally:
        agent.stop()
        manager.stop()


def _get_pod(api, namespace, name):
    from kubernetes.client.exceptions import ApiException

    try:
        return api.core.read_namespaced_pod(name, namespace)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
