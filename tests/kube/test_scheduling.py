"""kube-scheduler with HCS's shipped configuration binds ai.compute pods through the extender."""

import json
import urllib.request

from hcs_envtest import wait_for
from kubetest import h100, pod

from hcs_api import read_allocation
from hcs_api.names import Annotation, vendor_index


def _post(url, body):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _bound(api, namespace, name):
    current = api.core.read_namespaced_pod(name, namespace)
    return current if current.spec.node_name else None


def _events(api, namespace, name, reason):
    listed = api.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}")
    return [e for e in listed.items if e.reason == reason]


def test_pods_are_bound_to_the_node_and_devices_hcs_chose(
    api, make_node, agent_report, extender, hcs_kube_scheduler, kube_namespace
):
    make_node("sched-small")
    make_node("sched-large")
    agent_report("sched-small", [h100(0), h100(1)])
    agent_report("sched-large", [h100(i) for i in range(4)])
    ext = extender()
    hcs_kube_scheduler(ext.url)

    # Four whole devices exist only on sched-large: kube-scheduler alone cannot know that.
    api.core.create_namespaced_pod(
        kube_namespace, pod("four", {"ai.compute/devices": "4"}, schedulerName="hcs-scheduler")
    )
    bound = wait_for(lambda: _bound(api, kube_namespace, "four"), 60, "pod four bound")
    assert bound.spec.node_name == "sched-large"
    annotations = bound.metadata.annotations
    allocation = read_allocation(annotations)
    assert allocation is not None
    assert allocation.node == "sched-large"
    assert sorted(allocation.device_ids()) == ["nvidia-0", "nvidia-1", "nvidia-2", "nvidia-3"]
    assert annotations[Annotation.NODE.value] == "sched-large"
    # NVIDIA_VISIBLE_DEVICES reads this: NVML's own indexes, not the qualified ids.
    indexes = [vendor_index(d) for d in allocation.containers[0].devices]
    assert annotations["hcs.io/devices.main"] == ",".join(indexes)

    # 40 GiB of one device fits on either node; after the four-device pod only sched-small has
    # a free device, so that is where it must go.
    api.core.create_namespaced_pod(
        kube_namespace, pod("slice", {"ai.compute/vram": "40Gi"}, schedulerName="hcs-scheduler")
    )
    bound = wait_for(lambda: _bound(api, kube_namespace, "slice"), 60, "pod slice bound")
    assert bound.spec.node_name == "sched-small"
    allocation = read_allocation(bound.metadata.annotations)
    assert allocation.vram == 40 * 2**30
    assert len(allocation.device_ids()) == 1
    assert bound.metadata.annotations[Annotation.BIND_PHASE.value] == "bound"

    # A bind kube-scheduler repeats (its answer was lost) is idempotent; one to another node is
    # refused; neither touches what the bound pod holds.
    args = {"PodName": "slice", "PodNamespace": kube_namespace, "PodUID": bound.metadata.uid}
    assert _post(f"{ext.url}/bind", {**args, "Node": "sched-small"}) == {"Error": ""}
    refused = _post(f"{ext.url}/bind", {**args, "Node": "sched-large"})
    assert "already bound to node sched-small" in refused["Error"]
    again = api.core.read_namespaced_pod("slice", kube_namespace)
    assert again.metadata.annotations == bound.metadata.annotations


def test_unschedulable_pod_gets_failedscheduling_with_hcs_reason(
    api, make_node, agent_report, extender, hcs_kube_scheduler, kube_namespace
):
    make_node("sched-only")
    agent_report("sched-only", [h100(0)])
    ext = extender()
    hcs_kube_scheduler(ext.url)
    api.core.create_namespaced_pod(
        kube_namespace, pod("too-big", {"ai.compute/vram": "900Gi"}, schedulerName="hcs-scheduler")
    )
    events = wait_for(
        lambda: _events(api, kube_namespace, "too-big", "FailedScheduling"),
        60,
        "a FailedScheduling event",
    )
    message = events[-1].message
    # The reason is HCS's own, word for word: what the extender's filter answers for the pod.
    stored = api.core.api_client.sanitize_for_serialization(
        api.core.read_namespaced_pod("too-big", kube_namespace)
    )
    answer = _post(f"{ext.url}/filter", {"Pod": stored, "NodeNames": ["sched-only"]})
    reason = {**answer["FailedNodes"], **answer["FailedAndUnresolvableNodes"]}["sched-only"]
    assert reason
    assert f"1 {reason}" in message, message
    current = api.core.read_namespaced_pod("too-big", kube_namespace)
    assert not current.spec.node_name
    condition = next(c for c in current.status.conditions if c.type == "PodScheduled")
    assert condition.status == "False"
    assert condition.reason == "Unschedulable"
