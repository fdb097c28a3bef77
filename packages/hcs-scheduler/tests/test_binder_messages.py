"""Every answer the binder gives kube-scheduler (whose events show it to the user) is exact, a pod
that asks for no compute is bound as it is, and a bound pod carries the time it was bound."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from hcs_api import read_allocation
from hcs_api.v1alpha1 import ComputeNode
from hcs_exchange import Exchange, load_database
from hcs_scheduler.extender.binder import STATIC_MODE, Binder
from hcs_scheduler.extender.decide import Decider
from hcs_scheduler.extender.kube import Conflict, InMemoryKube, Kind, KubeError
from hcs_scheduler.extender.leader import ElectionConfig, LeaderElector, format_microtime
from hcs_scheduler.extender.state import ClusterState
from hcs_scheduler.extender.wire import ExtenderBindingArgs

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]

EXCHANGE = Exchange(load_database())
BOUND_AT = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
WHERE = "pod ml/a to node gpu-01"


def computenode(name: str) -> ComputeNode:
    device = {"id": "nvidia-0", "uuid": f"{name}-0", "vendor": "nvidia"}
    device |= {"model": "H100-SXM5-80G", "vram": "80Gi"}
    spec = {"nodeName": name, "vendors": ["nvidia"], "devices": [device]}
    return ComputeNode.model_validate({"metadata": {"name": name}, "spec": spec})


def pod(name: str = "a", vram: str | None = "48Gi", **spec: Any) -> dict[str, Any]:
    requests = {"ai.compute/vram": vram} if vram else {"cpu": "1"}
    container = {"name": "main", "resources": {"requests": requests}}
    metadata = {"name": name, "namespace": "ml", "uid": f"uid-{name}"}
    return {"metadata": metadata, "spec": {"containers": [container], **spec}}


def args(name: str = "a", uid: str | None = None, node: str = "gpu-01") -> ExtenderBindingArgs:
    return ExtenderBindingArgs(
        PodName=name, PodNamespace="ml", PodUID=uid or f"uid-{name}", Node=node
    )


class Setup:
    def __init__(self) -> None:
        self.kube = InMemoryKube()
        self.state = ClusterState(lambda: 0.0)
        for name in ("gpu-01", "gpu-02"):
            self.state.upsert_node(computenode(name))
        self.decider = Decider(self.state, EXCHANGE)
        self.leader: LeaderElector | None = None

    def binder(self) -> Binder:
        now = lambda: BOUND_AT  # noqa: E731
        return Binder(self.state, self.decider, self.kube, 30, now=now, leader=self.leader)

    async def standby(self, holder: str | None) -> None:
        """This replica is a standby; `holder` holds a live lease (None: not yet read)."""
        config = ElectionConfig(namespace="hcs-system", name="hcs", identity="hcs-1")
        self.leader = LeaderElector(self.kube, config)
        if holder is not None:
            spec = {"holderIdentity": holder, "leaseDurationSeconds": 15}
            spec["renewTime"] = format_microtime(datetime.now(UTC))
            await self.kube.create_lease("hcs-system", {"metadata": {"name": "hcs"}, "spec": spec})
            await self.leader.step()


@pytest.fixture
def setup() -> Setup:
    return Setup()


async def no_pod(s: Setup) -> ExtenderBindingArgs:
    return args()


async def replaced(s: Setup) -> ExtenderBindingArgs:
    s.kube.apply(Kind.POD, pod())
    return args(uid="uid-old")


async def without_uid(s: Setup) -> ExtenderBindingArgs:
    body = pod()
    del body["metadata"]["uid"]
    s.kube.apply(Kind.POD, body)
    return args()


async def bound_elsewhere(s: Setup) -> ExtenderBindingArgs:
    s.kube.apply(Kind.POD, pod(nodeName="gpu-02"))
    return args()


async def too_big(s: Setup) -> ExtenderBindingArgs:
    s.kube.apply(Kind.POD, pod(vram="96Gi"))
    return args()


async def malformed(s: Setup) -> ExtenderBindingArgs:
    s.kube.apply(Kind.POD, pod(vram="lots"))
    return args()


async def binding_refused(s: Setup) -> ExtenderBindingArgs:
    s.kube.apply(Kind.POD, pod())
    s.kube.fail_next["bind_pod"] = Conflict("pod ml/a is already bound", 409)
    return args()


async def plain_binding_refused(s: Setup) -> ExtenderBindingArgs:
    s.kube.apply(Kind.POD, pod(vram=None))
    s.kube.fail_next["bind_pod"] = KubeError("the API server is shutting down", 503)
    return args()


async def standby_unknown_leader(s: Setup) -> ExtenderBindingArgs:
    s.kube.apply(Kind.POD, pod())
    await s.standby(holder=None)
    return args()


async def standby_known_leader(s: Setup) -> ExtenderBindingArgs:
    s.kube.apply(Kind.POD, pod())
    await s.standby(holder="hcs-0")
    return args()


STANDBY = "this hcs-scheduler replica (hcs-1) is a standby; "
REFUSALS = [
    (no_pod, f"cannot bind {WHERE}: pod ml/a not found"),
    (replaced, f"cannot bind {WHERE}: the pod was replaced (uid uid-a, not uid-old)"),
    (without_uid, f"cannot bind {WHERE}: the pod was replaced (uid , not uid-a)"),
    (
        bound_elsewhere,
        f"cannot bind {WHERE}: it is already bound to node gpu-02; what it holds there stays held",
    ),
    (
        too_big,
        f"cannot bind {WHERE}: H100-SXM5-80G: 96Gi VRAM must fit on one device and it holds "
        "80Gi (ai.compute/vram is per device; ask ai.compute/devices, or annotate "
        'hcs.io/sharded: "true", to spread it over devices)',
    ),
    (
        malformed,
        f"cannot bind {WHERE}: container 'main': ai.compute/vram in requests: 'lots' is not a "
        "Kubernetes quantity: expected a number with an optional suffix, such as 16Gi, 500m, "
        "1.5 or 1e3",
    ),
    (
        binding_refused,
        f"binding {WHERE} failed: pod ml/a is already bound; its devices were released",
    ),
    (plain_binding_refused, f"binding {WHERE} failed: the API server is shutting down"),
    (
        standby_unknown_leader,
        f"cannot bind {WHERE}: {STANDBY}no replica holds the lease yet "
        "(kube-scheduler retries the pod)",
    ),
    (
        standby_known_leader,
        f"cannot bind {WHERE}: {STANDBY}hcs-0 leads (kube-scheduler retries the pod)",
    ),
]


@pytest.mark.parametrize(("arrange", "error"), REFUSALS, ids=[r[0].__name__ for r in REFUSALS])
async def test_a_bind_that_cannot_be_done_says_exactly_why_and_holds_nothing(
    setup: Setup, arrange: Any, error: str
) -> None:
    asked = await arrange(setup)
    result = await setup.binder().bind(asked)
    assert result.error == error
    assert list(setup.state.held()) == []
    stored = setup.kube.stored(Kind.POD, "ml", "a")
    assert stored is None or not (stored["metadata"].get("annotations") or {})


async def test_without_an_api_server_a_bind_names_static_mode(setup: Setup) -> None:
    binder = Binder(setup.state, setup.decider, None, 30)
    assert (await binder.bind(args())).error == STATIC_MODE


async def test_a_pod_asking_for_no_compute_is_bound_as_it_is(setup: Setup) -> None:
    setup.kube.apply(Kind.POD, pod(vram=None))
    assert (await setup.binder().bind(args())).error == ""
    stored = setup.kube.stored(Kind.POD, "ml", "a")
    assert stored is not None
    assert stored["spec"]["nodeName"] == "gpu-01"
    assert "annotations" not in stored["metadata"]
    assert setup.kube.calls == [("bind", "ml", "a", "gpu-01")]
    assert list(setup.state.held()) == []


async def test_a_bound_pod_records_its_devices_and_the_second_it_was_bound(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    setup.kube.apply(Kind.POD, pod())
    caplog.set_level(logging.INFO, logger="hcs_scheduler.extender.binder")
    assert (await setup.binder().bind(args())).error == ""
    stored = setup.kube.stored(Kind.POD, "ml", "a")
    assert stored is not None
    annotations = stored["metadata"]["annotations"]
    assert annotations["hcs.io/bind-time"] == "2026-03-04T05:06:07Z"
    allocation = read_allocation(annotations)
    assert allocation is not None
    assert allocation.node == "gpu-01"
    assert allocation.device_ids() == ["nvidia-0"]
    assert setup.state.holds("uid-a") == allocation
    # The operator's record of the bind: which pod, where, and what it holds.
    assert caplog.messages == [f"bound {WHERE}: {allocation.to_wire()}"]
