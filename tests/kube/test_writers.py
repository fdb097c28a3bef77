"""Two writers of one ComputeNode, the agent (spec, heartbeat, capacity) and the extender
(status.devices), each keep what they wrote while the other writes at the same time."""

import os

from hcs_envtest import Process, wait_for
from kubetest import GROUP, VERSION, agent_command, h100, pod


def _computenode(api, name):
    return api.custom.get_cluster_custom_object(GROUP, VERSION, "computenodes", name)


def _devices(api, name):
    status = _computenode(api, name).get("status") or {}
    return {d["id"]: d for d in status.get("devices") or []}


def test_agent_and_extender_write_one_computenode_without_losing_updates(
    api,
    control_plane,
    make_node,
    agent_report,
    extender,
    hcs_kube_scheduler,
    kube_namespace,
    tmp_path,
):
    node = make_node("writers")
    agent_report(node, [h100(0), h100(1)])
    ext = extender()
    hcs_kube_scheduler(ext.url)
    # The agent keeps reporting every 0.2 s: each report rewrites heartbeat and conditions.
    argv = agent_command(tmp_path / "inventory.yaml", [h100(0), h100(1)], node, interval="0.2")
    env = {**os.environ, "HCS_AGENT_KUBECONFIG": str(control_plane.admin_kubeconfig)}
    agent = Process("hcs-agent", argv, tmp_path / "agent-loop.log", env=env)
    try:
        first_beat = _computenode(api, node)["status"]["lastHeartbeat"]
        for index, vram in enumerate(("30Gi", "20Gi")):
            api.core.create_namespaced_pod(
                kube_namespace,
                pod(f"p{index}", {"ai.compute/vram": vram}, schedulerName="hcs-scheduler"),
            )
        # The extender sums both pods into status.devices while the agent keeps applying.
        devices = wait_for(
            lambda: (d := _devices(api, node)) and sum(x["pods"] for x in d.values()) == 2 and d,
            60,
            "status.devices to show both pods",
        )
        assert sum(x["pods"] for x in devices.values()) == 2
        # ...and neither write wiped the other: devices stay while heartbeats advance.
        later = wait_for(
            lambda: (n := _computenode(api, node))["status"]["lastHeartbeat"] != first_beat and n,
            30,
            "a newer heartbeat from the agent",
        )
        assert {d["id"] for d in later["status"]["devices"]} == set(devices)
        assert later["status"]["phase"] == "Ready"
        assert len(later["spec"]["devices"]) == 2
        for _ in range(5):  # several agent reports later, the extender's sums are still there
            wait_for(
                lambda b=later["status"]["lastHeartbeat"]: (
                    _computenode(api, node)["status"]["lastHeartbeat"] != b
                ),
                30,
                "another heartbeat",
            )
            assert set(_devices(api, node)) == set(devices)
        assert agent.running(), agent.tail()
    finally:
        agent.stop()
