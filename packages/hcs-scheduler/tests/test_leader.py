"""One replica leads through the Lease; a standby takes over on expiry or release, never racing."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from hcs_scheduler.extender.kube import Conflict, InMemoryKube, KubeError
from hcs_scheduler.extender.leader import (
    Action,
    ElectionConfig,
    LeaderElector,
    decide,
    format_microtime,
    released,
)
from hcs_scheduler.extender.settings import ExtenderSettings

pytestmark = pytest.mark.timeout(30)

NS, NAME = "hcs-system", "hcs-scheduler-extender"
NOW = datetime(2026, 12, 6, 15, 4, 5, 123456, tzinfo=UTC)
STAMP = "2026-12-06T15:04:05.123456Z"


def ago(seconds: float) -> str:
    return format_microtime(NOW - timedelta(seconds=seconds))


def lease(holder: str, renewed: float, duration: int = 15, transitions: int = 3) -> dict[str, Any]:
    spec = {
        "holderIdentity": holder,
        "leaseDurationSeconds": duration,
        "acquireTime": ago(100),
        "renewTime": ago(renewed),
        "leaseTransitions": transitions,
    }
    return {"metadata": {"name": NAME, "namespace": NS, "resourceVersion": "7"}, "spec": spec}


# -- the pure decision


@pytest.mark.parametrize(
    ("current", "observed", "action", "holder", "acquired", "transitions"),
    [
        (None, None, Action.ACQUIRE, "me", STAMP, 0),
        (lease("me", renewed=4), None, Action.RENEW, "me", ago(100), 3),
        (lease("me", renewed=60), None, Action.RENEW, "me", ago(100), 3),
        (lease("other", renewed=4), None, Action.STAND_BY, "other", None, None),
        (lease("other", renewed=15), None, Action.TAKE_OVER, "me", STAMP, 4),
        (lease("other", 60), NOW - timedelta(seconds=14), Action.STAND_BY, "other", None, None),
        (lease("other", 60), NOW - timedelta(seconds=15), Action.TAKE_OVER, "me", STAMP, 4),
        (lease("", renewed=0, duration=1), None, Action.TAKE_OVER, "me", STAMP, 4),
    ],
    ids=[
        "absent-create",
        "own-renew-keeps-acquire-time",
        "own-but-lapsed-still-renews",
        "others-live-stand-by",
        "others-expired-take-over",
        "others-stale-renew-time-but-seen-14s-ago",
        "others-seen-unchanged-for-its-duration",
        "released-take-over-at-once",
    ],
)
def test_the_decision_follows_client_gos_rules(
    current: dict[str, Any] | None,
    observed: datetime | None,
    action: Action,
    holder: str,
    acquired: str | None,
    transitions: int | None,
) -> None:
    decision = decide(current, "me", 15, NOW, observed)
    assert (decision.action, decision.holder) == (action, holder)
    if acquired is None:
        assert decision.spec is None  # standing by writes nothing
        return
    assert decision.spec == {
        "holderIdentity": "me",
        "leaseDurationSeconds": 15,
        "acquireTime": acquired,
        "renewTime": STAMP,
        "leaseTransitions": transitions,
    }


def test_release_clears_the_holder_and_keeps_the_transitions_and_other_fields() -> None:
    spec = lease("me", renewed=1)["spec"] | {"strategy": "OldestEmulationVersion"}
    assert released(spec, NOW) == {
        "holderIdentity": "",
        "leaseDurationSeconds": 1,
        "acquireTime": STAMP,
        "renewTime": STAMP,
        "leaseTransitions": 3,
        "strategy": "OldestEmulationVersion",
    }
    assert decide({"spec": released(spec, NOW)}, "b", 15, NOW).action is Action.TAKE_OVER


# -- the in-memory port keeps resourceVersions


@pytest.mark.asyncio
async def test_a_put_at_a_stale_resource_version_is_a_conflict_and_changes_nothing() -> None:
    kube = InMemoryKube()
    created = await kube.create_lease(NS, {"metadata": {"name": NAME}, "spec": {}})
    with pytest.raises(Conflict, match="already exists"):
        await kube.create_lease(NS, {"metadata": {"name": NAME}, "spec": {}})
    first = await kube.replace_lease(NS, NAME, created | {"spec": {"holderIdentity": "a"}})
    assert first["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    with pytest.raises(Conflict, match="the object has been modified"):
        await kube.replace_lease(NS, NAME, created | {"spec": {"holderIdentity": "b"}})
    unversioned = {"metadata": {"name": NAME}, "spec": {"holderIdentity": "b"}}
    with pytest.raises(KubeError, match="must carry a resourceVersion"):
        await kube.replace_lease(NS, NAME, unversioned)
    assert await kube.get_lease(NS, NAME) == first


# -- electors on one API with a fake clock


class FakeClock:
    """Virtual time: sleepers wake, in order, only when the test advances the clock."""

    def __init__(self) -> None:
        self.t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return NOW + timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._order), wake))
        await wake

    async def advance(self, seconds: float) -> None:
        target = self.t + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            at, _, wake = heapq.heappop(self._sleepers)
            self.t = max(self.t, at)
            if not wake.done():
                wake.set_result(None)
            await settle()
        self.t = target


async def settle() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


class Cluster:
    """Replicas on one InMemoryKube; records who started or stopped leading when, and any
    moment at which two replicas believed they led."""

    def __init__(self, delay: float = 0.0) -> None:
        self.kube = InMemoryKube(delay)
        self.clock = FakeClock()
        self.leaders: set[str] = set()
        self.history: list[tuple[float, str, bool]] = []
        self.overlaps: list[tuple[float, set[str]]] = []

    def elector(self, identity: str) -> LeaderElector:
        config = ElectionConfig(NS, NAME, identity, 15, 10, 2)

        def changed(leading: bool, holder: str) -> None:
            if leading == (identity in self.leaders):
                return  # only the holder it saw changed
            self.history.append((self.clock.t, identity, leading))
            (self.leaders.add if leading else self.leaders.discard)(identity)
            if len(self.leaders) > 1:
                self.overlaps.append((self.clock.t, set(self.leaders)))

        return LeaderElector(self.kube, config, self.clock, changed)

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.kube.stored_lease(NS, NAME)["spec"]
        return spec


@pytest.mark.asyncio
async def test_one_leads_and_the_other_takes_over_only_after_expiry() -> None:
    cluster = Cluster()
    a, b = cluster.elector("a"), cluster.elector("b")
    await a.step()
    await b.step()
    assert (a.is_leader, b.is_leader, b.holder) == (True, False, "a")
    assert b.who_leads() == "a leads"
    assert cluster.spec()["leaseTransitions"] == 0
    # a dies without releasing. b counts the lease duration from when it first saw a's last
    # renewal (t=0), on its own monotonic clock.
    await cluster.clock.advance(14.9)
    await b.step()
    assert not b.is_leader
    await cluster.clock.advance(0.1)
    await b.step()
    assert b.is_leader
    assert cluster.spec() == {
        "holderIdentity": "b",
        "leaseDurationSeconds": 15,
        "acquireTime": format_microtime(NOW + timedelta(seconds=15)),
        "renewTime": format_microtime(NOW + timedelta(seconds=15)),
        "leaseTransitions": 1,
    }
    # a comes back: it has not renewed for 15 s, steps down and follows b.
    await a.step()
    assert (a.is_leader, a.holder) == (False, "b")


@pytest.mark.asyncio
async def test_a_leader_renews_with_one_put_and_rereads_only_after_a_conflict() -> None:
    cluster = Cluster()
    a = cluster.elector("a")
    reads: list[float] = []
    get_lease = cluster.kube.get_lease

    async def counted(*args: Any) -> Any:
        reads.append(cluster.clock.t)
        return await get_lease(*args)

    cluster.kube.get_lease = counted  # type: ignore[method-assign]
    for _ in range(3):
        await a.step()
        await cluster.clock.advance(2)
    assert reads == [0.0]  # renewals go straight to a PUT at the version it wrote last
    # Someone else touches the Lease (a label): the next PUT is a 409; a reads it again and
    # renews in the same round, at the version it just read.
    touched = cluster.kube.stored_lease(NS, NAME)
    touched["metadata"]["labels"] = {"team": "ml"}
    await cluster.kube.replace_lease(NS, NAME, touched)
    await a.step()
    assert reads == [0.0, 6.0]
    assert a.is_leader
    assert cluster.spec()["renewTime"] == format_microtime(NOW + timedelta(seconds=6))
    assert cluster.kube.stored_lease(NS, NAME)["metadata"]["labels"] == {"team": "ml"}


@pytest.mark.asyncio
async def test_a_leader_that_cannot_renew_steps_down_before_anyone_may_take_over() -> None:
    cluster = Cluster()
    a, b = cluster.elector("a"), cluster.elector("b")
    runs = [asyncio.create_task(a.run())]
    await settle()
    runs.append(asyncio.create_task(b.run()))
    await cluster.clock.advance(1)
    assert (a.is_leader, b.holder) == (True, "a")
    for method in ("replace_lease", "get_lease"):  # the API stops answering a (not b)
        original = getattr(cluster.kube, method)

        async def refuse(*args: Any, _original: Any = original) -> Any:
            if asyncio.current_task() is runs[0]:
                raise KubeError("connection refused")
            return await _original(*args)

        setattr(cluster.kube, method, refuse)
    await cluster.clock.advance(30)
    for run in runs:
        run.cancel()
    await asyncio.gather(*runs, return_exceptions=True)
    # a stepped down at its renew deadline, 10 s after its last renewal (t=0); b took the lease
    # at its first round 15 s after it first saw that renewal (rounds every 2 s: t=16); it
    # released the lease when cancelled.
    assert cluster.history == [
        (0.0, "a", True),
        (10.0, "a", False),
        (16.0, "b", True),
        (31.0, "b", False),
    ]
    assert cluster.overlaps == []


@pytest.mark.asyncio
async def test_two_replicas_racing_for_an_expired_lease_never_overwrite_each_other() -> None:
    cluster = Cluster(delay=0.001)  # both read the lease before either write lands
    await cluster.kube.create_lease(NS, lease("gone", renewed=60) | {"metadata": {"name": NAME}})
    a, b = cluster.elector("a"), cluster.elector("b")
    await a.step()
    await b.step()
    assert (a.holder, b.holder) == ("gone", "gone")
    await cluster.clock.advance(15)  # unchanged for its whole duration: both may take it
    await asyncio.gather(a.step(), b.step())
    (winner,) = [e for e in (a, b) if e.is_leader]
    assert cluster.spec()["holderIdentity"] == winner.identity
    assert cluster.spec()["leaseTransitions"] == 4  # one takeover, not two
    loser = b if winner is a else a
    await loser.step()  # it read again after its 409, and now follows the winner
    assert (loser.is_leader, loser.holder) == (False, winner.identity)
    assert cluster.overlaps == []


@pytest.mark.asyncio
async def test_a_cancelled_leader_releases_the_lease_and_a_standby_takes_over_at_once() -> None:
    cluster = Cluster()
    a, b = cluster.elector("a"), cluster.elector("b")
    run_a = asyncio.create_task(a.run())
    await settle()
    run_b = asyncio.create_task(b.run())
    await cluster.clock.advance(5)
    assert (a.is_leader, b.holder) == (True, "a")
    run_a.cancel()
    await asyncio.gather(run_a, return_exceptions=True)
    assert not a.is_leader
    assert cluster.spec()["holderIdentity"] == ""
    assert cluster.spec()["leaseDurationSeconds"] == 1
    await cluster.clock.advance(2)  # one retry period, not a lease duration
    assert b.is_leader
    assert cluster.spec()["leaseTransitions"] == 1
    run_b.cancel()
    await asyncio.gather(run_b, return_exceptions=True)
    assert cluster.overlaps == []


@pytest.mark.asyncio
async def test_release_after_a_renewal_landed_unseen_still_gives_the_lease_up() -> None:
    # A shutdown cancels the task awaiting a renewal whose PUT still lands: the version the
    # leader holds is then stale. The release reads again and gives up what is still its own.
    cluster = Cluster()
    a = cluster.elector("a")
    await a.step()
    assert a.is_leader
    landed = cluster.kube.stored_lease(NS, NAME)
    await cluster.kube.replace_lease(NS, NAME, landed)  # the unseen renewal: a new version
    await a.release()
    assert cluster.spec()["holderIdentity"] == ""
    # Someone else's lease is never released by it.
    b = cluster.elector("b")
    await cluster.clock.advance(2)
    await b.step()
    assert b.is_leader
    a._lease, a.is_leader = cluster.kube.stored_lease(NS, NAME), True  # a stale belief
    await cluster.kube.replace_lease(NS, NAME, cluster.kube.stored_lease(NS, NAME))
    await a.release()
    assert cluster.spec()["holderIdentity"] == "b"


# -- settings


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"lease_duration": 10, "renew_deadline": 10}, ["renew_deadline", "lease_duration"]),
        ({"renew_deadline": 5, "retry_period": 6}, ["retry_period", "renew_deadline"]),
        ({"lease_duration": 0.5}, ["lease_duration"]),
    ],
    ids=["renew-deadline-not-below-duration", "retry-not-below-deadline", "sub-second-lease"],
)
def test_a_wrong_timing_stops_start_up_naming_the_keys(
    values: dict[str, float], names: list[str]
) -> None:
    with pytest.raises(ValidationError) as error:
        ExtenderSettings(**values)  # type: ignore[arg-type]
    message = str(error.value)
    assert all(name in message for name in names)


def test_the_identity_is_the_pod_name_else_the_host_and_a_random_suffix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POD_NAME", "hcs-scheduler-7d9f-x2x4q")
    assert ExtenderSettings().identity == "hcs-scheduler-7d9f-x2x4q"
    monkeypatch.delenv("POD_NAME")
    first, second = ExtenderSettings().identity, ExtenderSettings().identity
    assert first != second
    assert first.split("_")[0] == second.split("_")[0] != ""
