"""Reliability, kill -9: the extender SIGKILLed 10 times mid-stream, restarted at once each time.

The cluster and pods of binds.py (16 nodes x 8 H100s, 1,000 pods, more than fit); 10 clients play
kube-scheduler (kube_flow.py) and treat a refused connection, a reset or a 503 as kube-scheduler
does: the pod goes back to the queue and is tried again after its backoff, against whichever
process answers then. At 10 random points of the stream (after a random count of settled pods,
plus up to 0.1 s; none in the last tenth) the extender's process group gets SIGKILL and a new
process starts on the same port with the same Lease identity (a Deployment's restarted pod).

Readiness only after resync: from each start, a prober asks /readyz, /filter, /prioritize and
/bind (of a pod that does not exist) in a loop until /readyz says ready. Every 2xx answer, the
clients' included, is compared with the moment that process logged "cache synced" (its log's
timestamp, taken in the step that marks the cache synced): an answer received earlier, from a
request sent after the process started, is a verb answering before resync.

At the end, from the API: no device over capacity, every bound pod with its allocation; the last
process's status.devices and /metrics equal the pods' sums.

    HCS_CONTROLPLANE_BIN=$(make -s controlplane) .venv/bin/python bench/reliability/restarts.py \
        [--pods 1000 --clients 10 --kills 10 --seed 0 --nodes 16 --workdir DIR]

Prints the reliability table row and a summary; exits 1 on any loss, duplication, 5xx (other
than the designed 503 before sync), answer before resync or other failed check.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from dataclasses import dataclass, field
from random import Random
from typing import Any

import aiohttp
import orjson
from hcs_envtest import ControlPlane
from kube_flow import Answer, Options, StandIn, Tally
from kube_part import Result, Settings, final_checks, main, outcome_line
from kube_setup import Extender, Generation, build_nodes, create_pods, get_json, prepare
from table import Row

JITTER = 0.1
"""Seconds, at most, between reaching a kill point and the kill."""
TAIL = 0.1
"""The last tenth of the stream (and at least one pod per client) gets no kill point, so that
a kill falls while pods are still being scheduled."""
PROBE_PAUSE = 0.02
"""Seconds between the prober's rounds (it shares the cores with the starting process)."""
ABSENT_POD = {
    "PodName": "reliability-probe-absent",
    "PodUID": "00000000-0000-0000-0000-000000000000",
}


@dataclass
class Prober:
    """Asks every verb of a starting extender, in a loop, until /readyz says ready."""

    session: aiohttp.ClientSession
    url: str
    pod: dict[str, Any]
    nodes: list[str]
    namespace: str
    answers: list[Answer] = field(default_factory=list)

    async def until_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = await self._ask("readyz", None)
            filter_args = {"Pod": self.pod, "NodeNames": self.nodes}
            await self._ask("filter", filter_args)
            await self._ask("prioritize", filter_args)
            bind_args = {**ABSENT_POD, "PodNamespace": self.namespace, "Node": self.nodes[0]}
            await self._ask("bind", bind_args)
            if ready.status == 200:
                return
            await asyncio.sleep(PROBE_PAUSE)

    async def _ask(self, verb: str, body: dict[str, Any] | None) -> Answer:
        sent = time.time()
        try:
            if body is None:
                request = self.session.get(f"{self.url}/{verb}")
            else:
                request = self.session.post(f"{self.url}/{verb}", data=orjson.dumps(body))
            async with request as response:
                status, raw = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            answer = Answer(f"probe {verb}", 0, sent, time.time(), repr(error))
        else:
            answer = Answer(f"probe {verb}", status, sent, time.time(), _reason(raw))
        self.answers.append(answer)
        return answer


def _reason(raw: bytes) -> str:
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:200].decode(errors="replace")
    if isinstance(decoded, dict):
        return str(decoded.get("Error") or decoded.get("status") or "")
    return ""


@dataclass
class Kills:
    """Where the kills fell."""

    at: list[int] = field(default_factory=list)
    """Settled pods when each kill fired."""
    binds_in_flight: list[int] = field(default_factory=list)


async def _killer(
    positions: list[int],
    standin: StandIn,
    progress: asyncio.Event,
    extender: Extender,
    prober: Prober,
    rng: Random,
    kills: Kills,
) -> None:
    probes = []
    for position in positions:
        while standin.tally.finished < position:
            progress.clear()
            await progress.wait()
        await asyncio.sleep(rng.uniform(0, JITTER))
        kills.at.append(standin.tally.finished)
        kills.binds_in_flight.append(standin.tally.binds_in_flight)
        await asyncio.to_thread(extender.kill)
        extender.start()
        probes.append(asyncio.create_task(prober.until_ready()))
    await asyncio.gather(*probes)


async def _stream(
    plane: ControlPlane,
    settings: Settings,
    extender: Extender,
    namespace: str,
    nodes: list[str],
    pods: list[str],
) -> tuple[Tally, list[Answer], Kills]:
    rng = Random(settings.seed)
    points = range(1, len(pods) - max(int(len(pods) * TAIL), settings.clients))
    positions = sorted(rng.sample(points, min(settings.kills, len(points))))
    progress = asyncio.Event()
    options = Options(clients=settings.clients, seed=settings.seed)
    standin = StandIn(plane, namespace, nodes, extender.url, options, lambda _: progress.set())
    api = plane.api_client()
    try:
        probe_pod = get_json(api, f"/api/v1/namespaces/{namespace}/pods/{pods[0]}")
    finally:
        api.close()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        prober = Prober(session, extender.url, probe_pod, nodes, namespace)
        extender.start()
        await prober.until_ready()
        kills = Kills()
        stream = asyncio.create_task(standin.run(pods))
        killer = asyncio.create_task(
            _killer(positions, standin, progress, extender, prober, rng, kills)
        )
        tally = await stream
        if not killer.done():  # the stream ended before a kill point: counted as a failure
            killer.cancel()
        await asyncio.gather(killer, return_exceptions=True)
    return tally, prober.answers, kills


def early_answers(answers: list[Answer], generations: list[Generation]) -> list[str]:
    """2xx answers received before the answering process logged its cache synced. An answer
    belongs to the last process started before its request was sent (the one before was
    killed and reaped by then)."""
    synced = [g.synced_at() for g in generations]
    found = []
    for answer in answers:
        if not 200 <= answer.status < 300:
            continue
        owner = max(
            (g.number for g in generations if g.started <= answer.sent),
            default=None,
        )
        if owner is None:
            continue
        ready_at = synced[owner]
        if ready_at is None or answer.received < ready_at:
            found.append(
                f"{answer.verb} answered {answer.status} at {answer.received:.3f}, process "
                f"#{owner} logged its cache synced at {ready_at}"
            )
    return found


def run(plane: ControlPlane, settings: Settings) -> Result:
    prepare(plane)
    nodes = build_nodes(plane, f"restarts-{secrets.token_hex(2)}", settings.nodes)
    namespace = f"restarts-{secrets.token_hex(3)}"
    pods = create_pods(plane, namespace, settings.pods, Random(settings.seed))
    extender = Extender(plane, settings.workdir)
    try:
        started = time.monotonic()
        coroutine = _stream(plane, settings, extender, namespace, nodes, pods)
        tally, probes, kills = asyncio.run(coroutine)
        wall = time.monotonic() - started
        extender.wait_ready()
        findings = final_checks(plane, extender, namespace, nodes, tally)
    finally:
        extender.stop()
    answers = tally.answers + probes
    early = early_answers(answers, extender.generations)
    verbs = [a for a in answers if not a.verb.endswith("readyz")]
    errors = [a for a in verbs if a.status >= 500 and not a.not_synced]
    row = Row(
        part="extender kill -9",
        load=f"{settings.pods:,} pods, {settings.clients} in flight",
        faults=f"{len(kills.at)} x kill -9",
        lost=findings.lost,
        duplicated=len(findings.audit.over),
        server_errors=len(errors),
    )
    problems = findings.problems(tally) + [f"answered before resync: {e}" for e in early]
    problems += [f"5xx: {a.verb} {a.status} {a.error}" for a in errors]
    if len(kills.at) < settings.kills:
        problems.append(f"only {len(kills.at)} of {settings.kills} kills happened")
    summary = outcome_line("restarts", settings, tally, findings, wall)
    summary += "\n" + _restart_line(kills, extender.generations, answers, len(early))
    return Result(row, summary, problems, tally, findings.audit)


def _restart_line(
    kills: Kills, generations: list[Generation], answers: list[Answer], early: int
) -> str:
    resync = [synced - g.started for g in generations if (synced := g.synced_at()) is not None]
    not_synced = sum(1 for a in answers if a.not_synced)
    refused = sum(1 for a in answers if a.status == 0)
    during_binds = sum(1 for n in kills.binds_in_flight if n)
    spread = f"{min(resync):.1f}-{max(resync):.1f} s" if resync else "never"
    return (
        f"kills after {kills.at} settled pods ({during_binds} with binds in flight); "
        f"{len(generations)} processes, start to cache synced {spread}; "
        f"{not_synced} answers 503 not synced, {refused} without an answer (down); "
        f"2xx before resync: {early}"
    )


if __name__ == "__main__":
    sys.exit(main(None, __doc__ or "", clients=10, kills=10, run=run))
