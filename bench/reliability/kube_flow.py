"""kube-scheduler's half of the extender protocol, played by many concurrent clients.

Each client takes a pod from the queue and runs kube-scheduler's cycle for it: read the pod from
the API (kube-scheduler's informer would hold it), POST /filter with every candidate node name
(nodeCacheCapable), /prioritize with those that passed, then /bind to the best-scored node. As
kube-scheduler does, a failed cycle (an extender error, a 5xx, a connection refused, a timeout,
a refused bind) sends the pod back to the queue after a backoff that doubles (1 s to 10 s), and
a pod that fits nowhere is left pending. A share of the pods is scheduled in groups whose binds
all go to one node at the same instant: deliberate collisions on the same capacity.

Every answer is recorded (verb, status, when sent and received), and every refusal is checked
for a reason: the caller judges them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random
from typing import Any

import aiohttp
import orjson
from hcs_envtest import ControlPlane

NOT_SYNCED = "not synced"
"""Words of the extender's 503 while its cache is not synced (its designed answer)."""


@dataclass(frozen=True)
class Answer:
    """One extender exchange. status 0: no HTTP answer (refused, reset, timed out)."""

    verb: str
    status: int
    sent: float
    received: float
    error: str = ""

    @property
    def not_synced(self) -> bool:
        return self.status == 503 and NOT_SYNCED in self.error


@dataclass(frozen=True)
class Options:
    clients: int
    seed: int
    collide: float = 0.2
    """Share of the pods scheduled in collision groups."""
    group: int = 5
    """Pods per collision group (their binds go to one node at once)."""
    initial_backoff: float = 1.0
    max_backoff: float = 10.0
    """kube-scheduler's podInitialBackoffSeconds / podMaxBackoffSeconds defaults."""
    bind_refusals: int = 5
    """Refused binds after which a pod is left pending (kube-scheduler would keep trying)."""
    http_timeout: float = 10.0
    """The shipped configuration's extender httpTimeout."""
    deadline: float = 900.0
    """Seconds after which pods still queued are left pending (reported, never silent)."""


@dataclass
class Tally:
    """What the clients saw."""

    answers: list[Answer] = field(default_factory=list)
    bound: dict[str, str] = field(default_factory=dict)
    """Pod -> node, for every pod whose bind answered success (or that was found bound)."""
    refused: dict[str, str] = field(default_factory=dict)
    """Pod -> why it was left pending (the extender's reason)."""
    reasonless: list[str] = field(default_factory=list)
    """Refusals, failed nodes or error answers that gave no reason; unknown answers."""
    collisions: int = 0
    collision_binds: int = 0
    binds_in_flight: int = 0
    peak_binds_in_flight: int = 0
    finished: int = 0
    abandoned: list[str] = field(default_factory=list)
    """Pods still queued at the deadline, with their last failure."""


@dataclass(frozen=True)
class Chosen:
    pod: dict[str, Any]
    node: str
    passed: list[str]


class Retry(Exception):
    """The cycle failed; the pod goes back to the queue."""


class Final(Exception):
    """The pod is settled: bound (`node`) or left pending (`reason`)."""

    def __init__(self, node: str = "", reason: str = "") -> None:
        super().__init__(node or reason)
        self.node = node
        self.reason = reason


def api_ssl(plane: ControlPlane) -> ssl.SSLContext:
    """TLS to kube-apiserver as the admin (the client certificate of its kubeconfig)."""
    user = json.loads(plane.admin_kubeconfig.read_text())["users"][0]["user"]
    context = ssl.create_default_context(cafile=str(plane.ca))
    context.load_cert_chain(user["client-certificate"], user["client-key"])
    return context


class StandIn:
    """kube-scheduler for `namespace`'s pods, over `nodes`, against the extender at `url`."""

    def __init__(
        self,
        plane: ControlPlane,
        namespace: str,
        nodes: list[str],
        url: str,
        options: Options,
        on_finished: Callable[[int], None] = lambda finished: None,
    ) -> None:
        self.plane = plane
        self.namespace = namespace
        self.nodes = nodes
        self.url = url
        self.options = options
        self.on_finished = on_finished
        self.tally = Tally()
        self.rng = Random(options.seed)
        self._attempts: dict[str, int] = {}
        self._refusals: dict[str, int] = {}
        self._last_error: dict[str, str] = {}
        self._pending: set[str] = set()
        self._queue: asyncio.Queue[list[str]] = asyncio.Queue()
        self._done = asyncio.Event()
        self._crash: Exception | None = None

    async def run(self, pods: list[str]) -> Tally:
        timeout = aiohttp.ClientTimeout(total=self.options.http_timeout)
        limit = aiohttp.TCPConnector(limit=self.options.clients + 8)
        api = aiohttp.TCPConnector(limit=32, ssl=api_ssl(self.plane))
        async with (
            aiohttp.ClientSession(connector=limit, timeout=timeout) as self.http,
            aiohttp.ClientSession(connector=api, base_url=self.plane.url) as self.api,
        ):
            self._pending = set(pods)
            for group in self._groups(pods):
                self._queue.put_nowait(group)
            workers = [asyncio.create_task(self._work()) for _ in range(self.options.clients)]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), self.options.deadline)
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        if self._crash is not None:
            raise RuntimeError("a client of the stand-in failed") from self._crash
        self.tally.abandoned = [
            f"{n}: {self._last_error.get(n, '')}" for n in sorted(self._pending)
        ]
        return self.tally

    def _groups(self, pods: list[str]) -> list[list[str]]:
        """Pods in queue order: most alone, a share in groups bound to one node together."""
        groups: list[list[str]] = []
        index = 0
        while index < len(pods):
            size = self.options.group if self.rng.random() < self.options.collide else 1
            groups.append(pods[index : index + size])
            index += size
        return groups

    async def _work(self) -> None:
        while True:
            group = await self._queue.get()
            try:
                if len(group) == 1:
                    await self._settle(group[0], self._cycle(group[0]))
                else:
                    await self._collide(group)
            except Exception as error:  # a fault of this harness: stop the run, say where
                self._crash = error
                self._done.set()
                return

    async def _settle(self, name: str, outcome: Any) -> None:
        """Await one pod's `outcome` and settle it: bound, left pending, or queued again."""
        try:
            await outcome
        except Final as final:
            self._finish(name, final)
        except Retry as retry:
            self._requeue(name, str(retry))

    async def _cycle(self, name: str) -> None:
        chosen = await self._decide(name)
        await self._bind(name, chosen)

    async def _collide(self, group: list[str]) -> None:
        """Decide every pod of the group, then bind all that can go to the first one's node
        there at the same instant (the others to their own choice)."""
        decided = await asyncio.gather(*(self._decide(n) for n in group), return_exceptions=True)
        chosen = [(n, d) for n, d in zip(group, decided, strict=True) if isinstance(d, Chosen)]
        for name, result in zip(group, decided, strict=True):
            if not isinstance(result, Chosen):
                await self._settle(name, _raise(result))
        if not chosen:
            return
        target = chosen[0][1].node
        binds = []
        together = 0
        for name, decision in chosen:
            if target in decision.passed:
                decision = Chosen(decision.pod, target, decision.passed)
                together += 1
            binds.append(self._settle(name, self._bind(name, decision)))
        if together > 1:
            self.tally.collisions += 1
            self.tally.collision_binds += together
        await asyncio.gather(*binds)

    # -- one cycle
    async def _decide(self, name: str) -> Chosen:
        pod = await self._read_pod(name)
        bound_to = (pod.get("spec") or {}).get("nodeName")
        if bound_to:  # an earlier bind landed though its answer was lost
            raise Final(node=bound_to)
        passed = await self._filter(name, pod)
        node = await self._prioritize(pod, passed)
        return Chosen(pod, node, passed)

    async def _read_pod(self, name: str) -> dict[str, Any]:
        path = f"/api/v1/namespaces/{self.namespace}/pods/{name}"
        try:
            async with self.api.get(path) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise Retry(f"reading the pod: {error!r}") from None
        if response.status != 200:
            raise Retry(f"reading the pod: HTTP {response.status}")
        pod: dict[str, Any] = orjson.loads(body)
        return pod

    async def _filter(self, name: str, pod: dict[str, Any]) -> list[str]:
        answer = await self._post("filter", {"Pod": pod, "NodeNames": self.nodes})
        passed = [str(n) for n in answer.get("NodeNames") or []]
        failed = {
            **(answer.get("FailedNodes") or {}),
            **(answer.get("FailedAndUnresolvableNodes") or {}),
        }
        for node, reason in failed.items():
            if not str(reason).strip():
                self.tally.reasonless.append(f"filter {name}: node {node} failed without a reason")
        missing = set(self.nodes) - set(passed) - set(failed)
        if missing:
            self.tally.reasonless.append(
                f"filter {name}: {len(missing)} nodes neither passed nor failed"
            )
        if not passed:
            reasons = sorted({str(r) for r in failed.values()})
            raise Final(reason="fits no node: " + "; ".join(reasons[:3]))
        return passed

    async def _prioritize(self, pod: dict[str, Any], passed: list[str]) -> str:
        answer = await self._post("prioritize", {"Pod": pod, "NodeNames": passed})
        scores = {str(h.get("Host")): int(h.get("Score", 0)) for h in answer if isinstance(h, dict)}
        if not scores:
            return passed[0]
        best = max(scores.values())
        return self.rng.choice(sorted(h for h, s in scores.items() if s == best))

    async def _bind(self, name: str, chosen: Chosen) -> None:
        metadata = chosen.pod["metadata"]
        args = {
            "PodName": name,
            "PodNamespace": self.namespace,
            "PodUID": metadata["uid"],
            "Node": chosen.node,
        }
        self.tally.binds_in_flight += 1
        self.tally.peak_binds_in_flight = max(
            self.tally.peak_binds_in_flight, self.tally.binds_in_flight
        )
        try:
            await self._post("bind", args)
        except Retry as error:
            if str(error).startswith("refused:"):
                self._refusals[name] = self._refusals.get(name, 0) + 1
                if self._refusals[name] >= self.options.bind_refusals:
                    raise Final(reason=str(error)) from None
            raise
        finally:
            self.tally.binds_in_flight -= 1
        raise Final(node=chosen.node)

    async def _post(self, verb: str, body: dict[str, Any]) -> Any:
        """POST one verb; its decoded answer, or Retry (recorded either way)."""
        sent = time.time()
        try:
            async with self.http.post(
                f"{self.url}/{verb}",
                data=orjson.dumps(body),
                headers={"Content-Type": "application/json"},
            ) as response:
                status, raw = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as failure:
            self.tally.answers.append(Answer(verb, 0, sent, time.time(), repr(failure)))
            raise Retry(f"{verb}: no answer: {failure!r}") from None
        decoded = _decode(raw)
        error = str(decoded.get("Error") or "") if isinstance(decoded, dict) else ""
        self.tally.answers.append(Answer(verb, status, sent, time.time(), error))
        if status != 200 or error:
            if not error.strip():
                self.tally.reasonless.append(
                    f"{verb}: HTTP {status} without a reason: {raw[:200]!r}"
                )
            if status == 200:
                raise Retry(f"refused: {error}" if verb == "bind" else f"{verb}: {error}")
            raise Retry(f"{verb}: HTTP {status}: {error}")
        if decoded is None:
            self.tally.reasonless.append(f"{verb}: an answer that is not JSON: {raw[:200]!r}")
            raise Retry(f"{verb}: not JSON")
        return decoded

    # -- the queue
    def _finish(self, name: str, final: Final) -> None:
        if name not in self._pending:
            return
        self._pending.discard(name)
        if final.node:
            self.tally.bound[name] = final.node
        else:
            self.tally.refused[name] = final.reason
        self.tally.finished += 1
        self.on_finished(self.tally.finished)
        if not self._pending:
            self._done.set()

    def _requeue(self, name: str, why: str) -> None:
        """Back to the queue after kube-scheduler's backoff for this pod's attempt count."""
        self._last_error[name] = why
        attempts = self._attempts[name] = self._attempts.get(name, 0) + 1
        delay = min(self.options.max_backoff, self.options.initial_backoff * 2 ** (attempts - 1))
        asyncio.get_running_loop().call_later(delay, self._queue.put_nowait, [name])


def _decode(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


async def _raise(error: BaseException) -> None:
    raise error
