"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

The extender is a single writer: its binder assumes devices in its own memory and its
StatusWriter writes ComputeNode status.devices, so two active replicas would hand out one device
twice. One replica leads (binds, writes status); the others follow the API as warm standbys and
take over once the leader releases its Lease or stops renewing it.

`decide` is the pure part: from the Lease as the API returned it (or None) it says whether to
create it, renew it, take it over, or stand by, and which spec to write. `LeaderElector` is the
I/O shell: every retry period it reads the Lease and writes what `decide` says with a PUT that
carries the resourceVersion it read (a 409 means another replica wrote first: it reads again and
never overwrites). A leader that cannot renew within the renew deadline steps down before the
lease could expire for anyone else; on shutdown it releases the lease so a standby takes over at
once.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from hcs_scheduler.extender.kube import Conflict, JsonObject, KubeError, KubePort, NotFound

log = logging.getLogger(__name__)

MICROTIME = "%Y-%m-%dT%H:%M:%S.%fZ"
"""metav1.MicroTime on the wire: RFC 3339 in UTC with microseconds."""


def format_microtime(moment: datetime) -> str:
    """`moment` as a Lease's MicroTime (2026-12-06T15:04:05.123456Z)."""
    return moment.astimezone(UTC).strftime(MICROTIME)


def parse_microtime(value: object) -> datetime | None:
    """A Lease timestamp as an aware datetime; None when missing or not RFC 3339."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class Action(enum.StrEnum):
    ACQUIRE = "acquire"
    """No Lease exists: create it, held by us."""
    RENEW = "renew"
    """We hold it: write a fresh renewTime (acquireTime and leaseTransitions kept)."""
    TAKE_OVER = "take over"
    """Released, or its holder stopped renewing: take it (leaseTransitions + 1)."""
    STAND_BY = "stand by"
    """Another replica holds a live lease: write nothing."""


@dataclass(frozen=True)
class Decision:
    action: Action
    holder: str
    """Who holds the lease once the decision is carried out ("" for nobody)."""
    spec: JsonObject | None = None
    """The Lease spec to write; None when standing by."""


def decide(
    lease: JsonObject | None,
    identity: str,
    lease_duration: float,
    now: datetime,
    observed_at: datetime | None = None,
) -> Decision:
    """What replica `identity` does with `lease` at `now` (client-go's tryAcquireOrRenew).

    A held lease is live for its own leaseDurationSeconds from `observed_at`, when this replica
    first saw this very spec (client-go measures from its own observation, so that clock skew
    between replicas cannot depose a leader early), else from its renewTime. A lease with no
    holder (released) is taken at once. Fields of the spec this function does not own are kept.
    """
    spec: JsonObject = dict((lease or {}).get("spec") or {})
    holder = str(spec.get("holderIdentity") or "")
    stamp = format_microtime(now)
    seconds = max(1, math.ceil(lease_duration))
    transitions = _count(spec.get("leaseTransitions"))
    if lease is None:
        return Decision(Action.ACQUIRE, identity, _spec(identity, seconds, stamp, stamp, 0))
    if holder == identity:
        acquired = spec.get("acquireTime") or stamp
        renewed = _spec(identity, seconds, acquired, stamp, transitions)
        return Decision(Action.RENEW, identity, spec | renewed)
    if holder and not _expired(spec, now, observed_at):
        return Decision(Action.STAND_BY, holder)
    taken = _spec(identity, seconds, stamp, stamp, transitions + 1)
    return Decision(Action.TAKE_OVER, identity, spec | taken)


def released(spec: JsonObject, now: datetime) -> JsonObject:
    """The spec that gives a lease up (client-go's ReleaseOnCancel): no holder, one second left."""
    stamp = format_microtime(now)
    return spec | _spec("", 1, stamp, stamp, _count(spec.get("leaseTransitions")))


def _spec(holder: str, seconds: int, acquired: Any, renewed: str, transitions: int) -> JsonObject:
    return {
        "holderIdentity": holder,
        "leaseDurationSeconds": seconds,
        "acquireTime": acquired,
        "renewTime": renewed,
        "leaseTransitions": transitions,
    }


def _expired(spec: JsonObject, now: datetime, observed_at: datetime | None) -> bool:
    since = observed_at or parse_microtime(spec.get("renewTime"))
    if since is None:
        return True  # held, but never renewed that we can tell
    return since + timedelta(seconds=_count(spec.get("leaseDurationSeconds"))) <= now


def _count(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 0


class Clock(Protocol):
    """Time for the elector: monotonic seconds for deadlines, wall time for the Lease."""

    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class ElectionConfig:
    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("need 0 < retry_period < renew_deadline < lease_duration")


class LeaderElector:
    """Keeps this replica's claim on the Lease; `is_leader` says whether it may write.

    `leading` is set exactly while it leads (await it to wait for leadership); `on_change` is
    called with (is_leader, holder) whenever either changes. `run` is the loop (cancel it to
    stop: a leader then releases the lease); `step` is one round of it.
    """

    def __init__(
        self,
        kube: KubePort,
        config: ElectionConfig,
        clock: Clock | None = None,
        on_change: Callable[[bool, str], None] = lambda leading, holder: None,
    ) -> None:
        self.kube = kube
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.on_change = on_change
        self.is_leader = False
        self.holder = ""
        """The identity last seen holding the lease ("" while unknown)."""
        self.leading = asyncio.Event()
        self._lease: JsonObject | None = None
        """The Lease as last read or written (its resourceVersion goes with the next PUT)."""
        self._seen: tuple[JsonObject, float] | None = None
        """The spec last read, and the monotonic time it was first seen."""
        self._renewed_at = 0.0
        """Monotonic start of the round of the last successful write."""

    @property
    def identity(self) -> str:
        return self.config.identity

    def who_leads(self) -> str:
        """For messages: "<holder> leads", or that nobody is known to."""
        if self.is_leader:
            return f"{self.identity} (this replica) leads"
        return f"{self.holder} leads" if self.holder else "no replica holds the lease yet"

    async def run(self) -> None:
        """Acquire and renew until cancelled; then release the lease if held."""
        try:
            while True:
                await self.step()
                await self.clock.sleep(self._pause())
        finally:
            await self.release()

    async def step(self) -> None:
        """One round: read the lease and acquire, renew or stand by; step down past the
        renew deadline."""
        started = self.clock.monotonic()
        self._check_deadline(started)
        budget = self._deadline() - started if self.is_leader else self.config.renew_deadline
        try:
            async with asyncio.timeout(max(budget, 0.0)):
                if not (self.is_leader and self._lease and await self._write(self._lease, started)):
                    await self._write(await self._read(), started)
        except (KubeError, TimeoutError) as error:
            what = "renew" if self.is_leader else "acquire"
            log.warning("could not %s lease %s: %s", what, self._where(), str(error) or "timed out")
        self._check_deadline(self.clock.monotonic())

    async def release(self) -> None:
        """Give the lease up if held (no holder, one second left), so a standby takes over at
        its next round instead of after the lease duration."""
        lease, was_leader = self._lease, self.is_leader
        self._set(False, "")  # stop writing before the lease is given up
        if not was_leader or lease is None:
            return
        try:
            async with asyncio.timeout(self.config.renew_deadline):
                await self._give_up(lease)
            log.info("released lease %s", self._where())
        except (KubeError, TimeoutError) as error:
            log.warning("could not release lease %s: %s", self._where(), str(error) or "timed out")

    async def _give_up(self, lease: JsonObject) -> None:
        """Write `lease` released; on a 409, read it again and release it if still ours (a
        renewal cancelled by the shutdown may have landed after we last read it)."""
        for attempt in range(2):
            body = lease | {"spec": released(dict(lease.get("spec") or {}), self.clock.now())}
            try:
                self._lease = await self.kube.replace_lease(
                    self.config.namespace, self.config.name, body
                )
                return
            except Conflict:
                current = await self._read()
                spec = (current or {}).get("spec") or {}
                if attempt or current is None or spec.get("holderIdentity") != self.identity:
                    raise
                lease = current

    async def _read(self) -> JsonObject | None:
        try:
            lease = await self.kube.get_lease(self.config.namespace, self.config.name)
        except NotFound:
            lease = None
        self._lease = lease
        return lease

    async def _write(self, lease: JsonObject | None, started: float) -> bool:
        """Carry out the decision on `lease`; False when another replica wrote first."""
        now = self.clock.now()
        decision = decide(
            lease, self.identity, self.config.lease_duration, now, self._observed_at(lease, now)
        )
        if decision.spec is None:
            self._set(False, decision.holder)
            return True
        try:
            if lease is None:
                written = await self.kube.create_lease(self.config.namespace, self._new(decision))
            else:
                body = lease | {"spec": decision.spec}
                written = await self.kube.replace_lease(
                    self.config.namespace, self.config.name, body
                )
        except Conflict as error:
            log.info("lease %s was written by another replica first: %s", self._where(), error)
            self._lease = None  # read it again; never overwrite
            return False
        self._lease, self._renewed_at = written, started
        self._seen = (dict(written.get("spec") or {}), started)
        if decision.action is not Action.RENEW or not self.is_leader:
            log.info("lease %s: %s as %s", self._where(), decision.action, self.identity)
        self._set(True, self.identity)
        return True

    def _observed_at(self, lease: JsonObject | None, now: datetime) -> datetime:
        """Wall time at which this spec was first seen, measured on the monotonic clock."""
        spec = dict((lease or {}).get("spec") or {})
        at = self.clock.monotonic()
        if self._seen is None or self._seen[0] != spec:
            self._seen = (spec, at)
        return now - timedelta(seconds=at - self._seen[1])

    def _new(self, decision: Decision) -> JsonObject:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.config.name, "namespace": self.config.namespace},
            "spec": decision.spec,
        }

    def _deadline(self) -> float:
        return self._renewed_at + self.config.renew_deadline

    def _check_deadline(self, now: float) -> None:
        if self.is_leader and now >= self._deadline():
            log.warning(
                "lease %s not renewed within %s s: stepping down",
                self._where(),
                self.config.renew_deadline,
            )
            self._set(False, "")

    def _pause(self) -> float:
        """Until the next round: the retry period, or less if the renew deadline comes first."""
        if not self.is_leader:
            return self.config.retry_period
        left = self._deadline() - self.clock.monotonic()
        return max(0.0, min(self.config.retry_period, left))

    def _set(self, leading: bool, holder: str) -> None:
        if (leading, holder) == (self.is_leader, self.holder):
            return
        if leading != self.is_leader:
            verb = "now holds" if leading else "no longer holds"
            log.info("%s %s lease %s", self.identity, verb, self._where())
        self.is_leader, self.holder = leading, holder
        if leading:
            self.leading.set()
        else:
            self.leading.clear()
        self.on_change(leading, holder)

    def _where(self) -> str:
        return f"{self.config.namespace}/{self.config.name}"
