"""Mutated bodies over HTTP crash neither server, get no 5xx, and every 4xx names the problem."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # pytest imports in importlib mode

from fuzz import judge, report, run
from fuzz_bodies import BodyMaker
from fuzz_servers import extender_families, webhook_families

COUNT = 2_000
"""Bodies per server in CI (the full run sends 100,000)."""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["webhook", "extender"])
def test_mutated_bodies_never_crash_a_server_or_get_an_unnamed_error(
    kind: str, tmp_path: Path
) -> None:
    tally, logged = run(kind, COUNT, seed=1, workdir=tmp_path)
    assert tally.sent == COUNT
    assert tally.failed() == 0, report(kind, tally, logged)
    assert not logged, report(kind, tally, logged)  # nothing reached the servers' 500 path
    # The mutants reach the decisions (answered 200) as well as the edge (400).
    assert tally.statuses[200] > COUNT // 4
    assert tally.statuses[400] > COUNT // 10


CASES = [
    ("plain-500", "extender", "/filter", 500, b"500 Internal Server Error", ["5xx"]),
    ("json-503", "extender", "/bind", 503, b'{"Error": "not synced yet"}', ["5xx"]),
    ("400-without-json", "webhook", "/mutate", 400, b"Bad Request", ["unnamed 4xx"]),
    ("400-generic", "extender", "/plan", 400, b'{"Error": "Bad Request"}', ["unnamed 4xx"]),
    (
        "400-python-repr",
        "webhook",
        "/mutate",
        400,
        b'{"error": "request.object is not a valid Pod: TypeError(\\"unhashable type\\")"}',
        ["unnamed 4xx"],
    ),
    (
        "denial-without-message",
        "webhook",
        "/validate",
        200,
        b'{"response": {"uid": "1", "allowed": false, "status": {"code": 403}}}',
        ["unnamed 4xx"],
    ),
    (
        "traceback",
        "extender",
        "/filter",
        400,
        b'{"Error": "Traceback (most recent call last):\\n  File \\"x.py\\", line 1"}',
        ["traceback"],
    ),
    ("prioritize-not-a-list", "extender", "/prioritize", 200, b"{}", ["malformed 200"]),
    (
        "answer-for-another-review",
        "webhook",
        "/mutate",
        200,
        b'{"response": {"uid": "2", "allowed": true}}',
        ["malformed 200"],
    ),
    ("good-400", "extender", "/filter", 400, b'{"Error": "Pod.metadata: not an object"}', []),
    (
        "good-denial",
        "webhook",
        "/validate",
        200,
        b'{"response": {"uid": "1", "allowed": false, "status": {"message": "hcs.io/node is '
        b'written only by HCS"}}}',
        [],
    ),
]


@pytest.mark.parametrize(
    ("kind", "endpoint", "status", "body", "problems"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_the_judge_names_every_kind_of_bad_answer(
    kind: str, endpoint: str, status: int, body: bytes, problems: list[str]
) -> None:
    sent = b'{"request": {"uid": "1"}}'
    assert judge(kind, endpoint, status, body, sent) == problems


@pytest.mark.parametrize(
    "families", [webhook_families, extender_families], ids=["webhook", "extender"]
)
def test_the_same_seed_gives_the_same_bodies(families) -> None:  # type: ignore[no-untyped-def]
    first, again = BodyMaker(families(), 7), BodyMaker(families(), 7)
    assert [first.next() for _ in range(200)] == [again.next() for _ in range(200)]
