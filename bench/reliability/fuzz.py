"""Reliability part: mutated bodies over HTTP at hcs-webhook and hcs-scheduler's extender.

Each server runs in a process of its own on loopback (fuzz_servers.py: the real `create_app`,
in-memory cluster; the webhook over TLS). One client sends --count mutated bodies per server
(fuzz_bodies.py: seeded mutations of recorded valid bodies, fuzz_values.py: what they put in),
one at a time, and judges every answer:
- crash: the connection dropped, the server died (a fresh one is started and the run goes on)
  or it did not answer within REQUEST_TIMEOUT seconds;
- 5xx: any answer with a 5xx status;
- unnamed 4xx: a 4xx whose JSON body has no message, or one that does not say what is wrong
  (an HTTP reason phrase, "internal error", a bare Python exception such as
  `TypeError("'int' object is not subscriptable")`); for the webhook also a denial (200,
  allowed=false) without such a message;
- traceback: a Python traceback in any answer;
- malformed 200: a 2xx that is not the protocol's answer (an AdmissionReview with a response
  for the review's uid; extender answers that are JSON of the right shape).
Prints the reliability table (table.py), one line of counts per server, and a reproduction of
the first few bodies of every failing kind; exits 1 if any count is not zero.

    .venv/bin/python bench/reliability/fuzz.py [--count 100000] [--seed 1] [--only webhook]
        [--save DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import select
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from fuzz_bodies import BodyMaker
from fuzz_servers import extender_families, webhook_families
from table import Row, markdown

HERE = Path(__file__).resolve().parent
REQUEST_TIMEOUT = 30.0
START_TIMEOUT = 120.0
SAMPLES = 3
"""Reproductions kept per failing kind."""
FAILURES = ("crash", "5xx", "unnamed 4xx", "traceback", "malformed 200")
GENERIC = frozenset(
    {
        "bad request", "internal error", "internal server error", "error", "invalid",
        "invalid request", "request entity too large", "not found", "method not allowed",
        "unprocessable entity", "server got itself in trouble", "internal error in hcs-webhook",
    }
)  # fmt: skip
PYTHON_ERROR = re.compile(r"\b[A-Z]\w*(Error|Exception)\(")
TRACEBACK = re.compile(rb'Traceback \(most recent call last\)|File "[^"]+", line \d+')


@dataclass
class Tally:
    """What one server answered."""

    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[str]] = field(default_factory=dict)
    restarts: int = 0
    seconds: float = 0.0

    def fail(self, kind: str, endpoint: str, how: str, body: bytes, answer: str) -> None:
        self.failures[kind] += 1
        kept = self.samples.setdefault(kind, [])
        if len(kept) < SAMPLES:
            kept.append(f"POST {endpoint} [{how}] body={_clip(body)!r} -> {answer}")

    def failed(self) -> int:
        return sum(self.failures[k] for k in FAILURES)


def _clip(data: bytes, limit: int = 300) -> bytes:
    return data if len(data) <= limit else data[:limit] + b"...(%d bytes)" % len(data)


class Server:
    """One server process (fuzz_servers.py) and a client session to it."""

    def __init__(self, kind: str, workdir: Path, seed: int) -> None:
        self.kind, self.workdir, self.seed = kind, workdir, seed
        self.log = workdir / f"{kind}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.ssl: ssl.SSLContext | bool = False

    def start(self) -> None:
        command = [sys.executable, str(HERE / "fuzz_servers.py"), self.kind, str(self.workdir)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*command, str(self.seed)], stdout=subprocess.PIPE, stderr=log
            )
        port = self._port()
        scheme = "https" if self.kind == "webhook" else "http"
        self.url = f"{scheme}://127.0.0.1:{port}"
        if self.kind == "webhook":
            self.ssl = ssl.create_default_context(cafile=str(self.workdir / "tls.crt"))

    def _port(self) -> int:
        assert self.proc is not None
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"{self.kind} did not start; see {self.log}")
        return int(line.split()[1])

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(ssl=self.ssl, limit=1)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        headers = {"Content-Type": "application/json"}
        return aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers)

    def logged_tracebacks(self) -> Counter[str]:
        """The last line of every traceback the server logged (the exception), by count."""
        found: Counter[str] = Counter()
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        in_traceback = False
        for line in lines:
            if line.startswith("Traceback (most recent call last)"):
                in_traceback = True
            elif in_traceback and line and not line.startswith(" "):
                found[line[:160]] += 1  # the exception ending the traceback
                in_traceback = False
        return found


def judge(kind: str, endpoint: str, status: int, body: bytes, sent: bytes = b"") -> list[str]:
    """The failing kinds this answer (to the request body `sent`) shows; none for a good one."""
    problems = ["traceback"] if TRACEBACK.search(body) else []
    if status >= 500:
        problems.append("5xx")
    elif status >= 400:
        if not names_problem(_error_message(body)):
            problems.append("unnamed 4xx")
    elif status == 200:
        problems += _judge_ok(kind, endpoint, body, sent)
    else:
        problems.append("malformed 200")
    return problems


def _json(body: bytes) -> Any:
    """The answer decoded; the stdlib's decoder where orjson refuses what JSON allows (a lone
    surrogate escape such as \\udfff, echoed back from the request). Raises ValueError."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _error_message(body: bytes) -> object:
    try:
        document = _json(body)
    except ValueError:
        return None  # a 4xx must be JSON like the servers' other answers
    if not isinstance(document, dict):
        return None
    return document.get("error", document.get("Error"))


def names_problem(message: object) -> bool:
    """Whether an error message says what is wrong: present, not a generic phrase, not only a
    Python exception's repr (which names an operation inside HCS, not the field sent)."""
    if not isinstance(message, str):
        return False
    text = message.strip()
    if len(text) < 12 or text.lower().rstrip(".") in GENERIC:
        return False
    return not PYTHON_ERROR.search(text)


def _judge_ok(kind: str, endpoint: str, body: bytes, sent: bytes) -> list[str]:
    try:
        answer = _json(body)
    except ValueError:
        return ["malformed 200"]
    if kind == "extender":
        shape = list if endpoint == "/prioritize" else dict
        return [] if isinstance(answer, shape) else ["malformed 200"]
    response = answer.get("response") if isinstance(answer, dict) else None
    if not isinstance(response, dict) or not isinstance(response.get("allowed"), bool):
        return ["malformed 200"]
    if sent and response.get("uid") != _review_uid(sent):
        return ["malformed 200"]  # kube-apiserver refuses an answer for another review
    if response["allowed"]:
        return []
    status = response.get("status")
    message = status.get("message") if isinstance(status, dict) else None
    return [] if names_problem(message) else ["unnamed 4xx"]


def _review_uid(sent: bytes) -> object:
    """request.uid of the review sent (decoded as the webhook decodes it: the stdlib's json)."""
    try:
        request = json.loads(sent).get("request")
    except (ValueError, AttributeError, RecursionError):
        return None
    return request.get("uid") if isinstance(request, dict) else None


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, bytes]:
    # aiohttp asks for a file object above 1 MiB (raw bytes that large would block its loop).
    data: Any = io.BytesIO(body) if len(body) > 1 << 20 else body
    async with session.post(url, data=data) as response:
        return response.status, await response.read()


async def fuzz(server: Server, maker: BodyMaker, count: int, tally: Tally) -> None:
    """Sends `count` bodies one at a time; a dead or hung server is replaced and counted."""
    session = server.session()
    started = time.perf_counter()
    try:
        for _ in range(count):
            endpoint, body, how = maker.next()
            tally.sent += 1
            try:
                status, answer = await _post(session, server.url + endpoint, body)
            except (aiohttp.ClientError, TimeoutError) as error:
                await session.close()
                tally.fail("crash", endpoint, how, body, f"{type(error).__name__}: {error}")
                server.stop()
                server.start()
                tally.restarts += 1
                session = server.session()
                continue
            tally.statuses[status] += 1
            for problem in judge(server.kind, endpoint, status, answer, body):
                tally.fail(problem, endpoint, how, body, f"{status} {_clip(answer)!r}")
    finally:
        await session.close()
        tally.seconds = time.perf_counter() - started


LABELS = {
    "webhook": ("hcs-webhook over TLS: /mutate, /validate", "mutated AdmissionReviews"),
    "extender": (
        "hcs-scheduler extender: /filter, /prioritize, /bind, /plan",
        "mutated ExtenderArgs, PlanRequests, ExtenderBindingArgs",
    ),
}


def row(kind: str, tally: Tally) -> Row:
    part, inputs = LABELS[kind]
    return Row(
        part=f"fuzz {part}",
        load=f"{tally.sent:,} bodies, 1 in flight",
        bad_inputs=f"{tally.sent:,} {inputs}",
        server_errors=tally.failures["5xx"] + tally.failures["crash"],
    )


def run(kind: str, count: int, seed: int, workdir: Path) -> tuple[Tally, Counter[str]]:
    """Fuzzes one server; returns what it answered and the tracebacks it logged."""
    families = webhook_families() if kind == "webhook" else extender_families()
    maker = BodyMaker(families, seed)
    server = Server(kind, workdir, seed)
    tally = Tally()
    server.start()
    try:
        asyncio.run(fuzz(server, maker, count, tally))
    finally:
        server.stop()
    return tally, server.logged_tracebacks()


def report(kind: str, tally: Tally, logged: Counter[str]) -> str:
    statuses = ", ".join(f"{s} x {n:,}" for s, n in sorted(tally.statuses.items()))
    counts = ", ".join(f"{k} {tally.failures[k]:,}" for k in FAILURES)
    lines = [
        f"{kind}: {tally.sent:,} bodies in {tally.seconds:.1f} s "
        f"({tally.sent / max(tally.seconds, 1e-9):,.0f}/s); {counts}; "
        f"restarts {tally.restarts}; answers {statuses}"
    ]
    for error, n in logged.most_common(5):
        lines.append(f"  logged by the server {n:,} x: {error}")
    for problem, kept in tally.samples.items():
        lines += [f"  {problem}: {sample}" for sample in kept]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="bodies per server")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=["webhook", "extender"], action="append")
    parser.add_argument("--save", type=Path, help="keep the servers' logs here")
    args = parser.parse_args(argv)
    rows, details, failed = [], [], 0
    with tempfile.TemporaryDirectory(prefix="hcs-fuzz-") as tmp:
        workdir = args.save or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for kind in args.only or ["webhook", "extender"]:
            tally, logged = run(kind, args.count, args.seed, workdir)
            rows.append(row(kind, tally))
            details.append(report(kind, tally, logged))
            failed += tally.failed()
    print(markdown(rows))
    print()
    print("\n".join(details))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
