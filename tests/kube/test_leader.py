"""Two extender replicas share one real Lease: one binds, the other waits warm, takes over when
the leader dies, and no write at a stale resourceVersion ever lands."""

import asyncio
import contextlib
import threading

import pytest
from hcs_envtest import wait_for
from kubernetes.client.exceptions import ApiException
from kubetest import ensure_namespace, h100, pod

from hcs_scheduler.extender.kube import Conflict, KubeError, NotFound
from hcs_scheduler.extender.kube_client import KubernetesKube

LEASE = "hcs-scheduler-extender"


def _holder(api):
    return api.coordination.read_namespaced_lease(LEASE, "hcs-system").spec.holder_identity


def test_one_replica_leads_the_other_takes_over_when_it_dies(
    api, make_node, agent_report, extender, hcs_kube_scheduler, kube_namespace
):
    make_node("leader-node")
    agent_report("leader-node", [h100(0), h100(1)])
    first = extender()
    second = extender(wait=False)
    wait_for(lambda: _holder(api) == first.identity, 30, "the first replica to lead")
    # The standby follows the API (warm cache) but is not ready: a Service sends it nothing.
    wait_for(lambda: not second.ready(), 10, "the standby to answer 503")
    assert first.ready()

    scheduler = hcs_kube_scheduler(first.url)
    api.core.create_namespaced_pod(
        kube_namespace, pod("before", {"ai.compute/devices": "1"}, schedulerName="hcs-scheduler")
    )
    wait_for(
        lambda: api.core.read_namespaced_pod("before", kube_namespace).spec.node_name,
        60,
        "the leader to bind",
    )
    first.process.kill()
    wait_for(lambda: _holder(api) == second.identity, 30, "the standby to take the lease over")
    wait_for(second.ready, 10, "the new leader to answer ready")
    lease = api.coordination.read_namespaced_lease(LEASE, "hcs-system")
    assert lease.spec.lease_transitions >= 1
    # The new leader's cache already holds the first pod's device: the next pod gets the other.
    # (In a cluster a Service follows the ready replica; here kube-scheduler is pointed anew.)
    scheduler.stop()
    hcs_kube_scheduler(second.url)
    api.core.create_namespaced_pod(
        kube_namespace, pod("after", {"ai.compute/devices": "1"}, schedulerName="hcs-scheduler")
    )
    bound = wait_for(
        lambda: (p := api.core.read_namespaced_pod("after", kube_namespace)).spec.node_name and p,
        60,
        "the new leader to bind",
    )
    before = api.core.read_namespaced_pod("before", kube_namespace)
    assert (
        bound.metadata.annotations["hcs.io/devices.main"]
        != (before.metadata.annotations["hcs.io/devices.main"])
    )


def test_the_adapters_lease_calls_against_the_api_server(control_plane, api):
    """KubernetesKube's Lease calls as the real API server answers them: 404 before it exists,
    a create whose MicroTimes (a zero fraction included) are stored as sent, 409 for a second
    create, a PUT only at the version read, and 409 for a PUT at a stale version."""
    ensure_namespace(api, "hcs-system")
    kube = KubernetesKube(control_plane.api_client())
    spec = {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        # The client's V1Lease model would render this without its fraction, which the API
        # server's MicroTime parser refuses: the adapter sends the JSON as given.
        "acquireTime": "2026-12-06T15:04:05.000000Z",
        "renewTime": "2026-12-06T15:04:05.123456Z",
        "leaseTransitions": 0,
    }
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "adapter-check", "namespace": "hcs-system"},
        "spec": spec,
    }

    async def exercise():
        with pytest.raises(NotFound) as missing:
            await kube.get_lease("hcs-system", "adapter-check")
        assert missing.value.status == 404
        created = await kube.create_lease("hcs-system", body)
        assert created["spec"] == spec
        with pytest.raises(Conflict) as twice:  # another replica created it first
            await kube.create_lease("hcs-system", body)
        assert twice.value.status == 409
        with pytest.raises(KubeError, match="must carry a resourceVersion"):
            await kube.replace_lease("hcs-system", "adapter-check", body)
        read = await kube.get_lease("hcs-system", "adapter-check")
        mine = {**read, "spec": {**read["spec"], "holderIdentity": "a"}}
        theirs = {**read, "spec": {**read["spec"], "holderIdentity": "b"}}
        written = await kube.replace_lease("hcs-system", "adapter-check", theirs)
        assert written["metadata"]["resourceVersion"] != read["metadata"]["resourceVersion"]
        with pytest.raises(Conflict, match="the object has been modified") as stale:
            await kube.replace_lease("hcs-system", "adapter-check", mine)
        assert "lease hcs-system/adapter-check" in str(stale.value)
        return await kube.get_lease("hcs-system", "adapter-check")

    try:
        stored = asyncio.run(exercise())
        assert stored["spec"]["holderIdentity"] == "b"
        assert stored["spec"]["acquireTime"] == "2026-12-06T15:04:05.000000Z"
    finally:
        kube.close()
        with contextlib.suppress(ApiException):
            api.coordination.delete_namespaced_lease("adapter-check", "hcs-system")


def test_lease_calls_never_wait_behind_a_pool_full_of_binds(control_plane, api):
    """A renewal must not queue behind a burst of API calls (the leader would step down): with
    the one worker thread busy, a Lease read still reaches the API server and is answered."""
    ensure_namespace(api, "hcs-system")
    kube = KubernetesKube(control_plane.api_client(), concurrency=1)
    release = threading.Event()

    class Answer:
        data = b"{}"

        def release_conn(self) -> None:
            """No pooled connection was taken: nothing to give back."""

    def a_slow_call(**_: object) -> Answer:
        release.wait(10)
        return Answer()

    async def scenario() -> None:
        busy = asyncio.create_task(kube._call("a slow bind", a_slow_call))
        await asyncio.sleep(0.05)  # the pool's one thread is taken
        with pytest.raises(NotFound):  # answered by the API server, not queued behind the bind
            await asyncio.wait_for(kube.get_lease("hcs-system", "no-such-lease"), 3)
        assert not busy.done()
        release.set()
        assert await busy == {}

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        kube.close()
