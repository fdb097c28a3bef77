"""The extender killed mid-stream and started again rebuilds its state from the API: pods
already bound keep their devices, nothing is handed out twice, the rest are still placed."""

from collections import Counter

from hcs_envtest import wait_for
from kubetest import h100, pod

from hcs_api import read_allocation

PODS = 12
DEVICES = 8  # two nodes of four: four pods must stay Pending


def _pods(api, namespace):
    return api.core.list_namespaced_pod(namespace).items


def _bound(api, namespace):
    return [p for p in _pods(api, namespace) if p.spec.node_name]


def test_extender_killed_mid_stream_rebuilds_and_never_double_books(
    api, make_node, agent_report, extender, hcs_kube_scheduler, kube_namespace
):
    for name in ("restart-a", "restart-b"):
        make_node(name)
        agent_report(name, [h100(i) for i in range(4)])
    first = extender()
    hcs_kube_scheduler(first.url)
    for index in range(PODS):
        api.core.create_namespaced_pod(
            kube_namespace,
            pod(f"job-{index:02d}", {"ai.compute/devices": "1"}, schedulerName="hcs-scheduler"),
        )
    wait_for(lambda: len(_bound(api, kube_namespace)) >= 3, 60, "the first binds")
    first.process.kill()  # SIGKILL: no clean-up, whatever was in flight is cut off

    # A new process on the same port (kube-scheduler's configuration does not change).
    extender(port=first.port)
    wait_for(lambda: len(_bound(api, kube_namespace)) == DEVICES, 120, "every device given out")

    bound = _bound(api, kube_namespace)
    held = Counter()
    for current in bound:
        allocation = read_allocation(current.metadata.annotations or {})
        assert allocation is not None, f"{current.metadata.name} bound without an allocation"
        assert allocation.node == current.spec.node_name
        held.update((allocation.node, d) for d in allocation.device_ids())
    assert sorted(held.values()) == [1] * DEVICES, f"a device given twice: {held}"
    pending = [p for p in _pods(api, kube_namespace) if not p.spec.node_name]
    assert len(pending) == PODS - DEVICES
    for current in pending:  # nothing half-written survives on the pods left over
        annotations = current.metadata.annotations or {}
        assert (
            read_allocation(annotations) is None or annotations.get("hcs.io/bind-phase") != "bound"
        )
