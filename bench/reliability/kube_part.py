"""What binds.py and restarts.py share: the command line, the run on a fresh control plane,
the final checks, and how a result is printed and judged."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hcs_envtest import ControlPlane
from kube_checks import Audit, audit, metrics_disagreements, settled, status_disagreements
from kube_flow import Tally
from kube_setup import Extender
from table import Row, markdown

SETTLE_SECONDS = 20.0
"""How long the extender's status.devices and /metrics may take to catch up with the API."""


@dataclass(frozen=True)
class Settings:
    pods: int
    clients: int
    kills: int
    seed: int
    nodes: int
    workdir: Path


@dataclass
class Result:
    row: Row
    summary: str
    problems: list[str]
    """Every failed check, one line each (the row's counts and the other checks)."""
    tally: Tally
    audit: Audit

    def failed(self) -> bool:
        return self.row.failed() or bool(self.problems)


def parse(argv: Sequence[str] | None, doc: str, clients: int, kills: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000, help="pods to schedule (default 1000)")
    parser.add_argument(
        "--clients", type=int, default=clients, help=f"concurrent clients (default {clients})"
    )
    parser.add_argument(
        "--kills", type=int, default=kills, help=f"kill -9 of the extender (default {kills})"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the pod mix and the faults")
    parser.add_argument("--nodes", type=int, default=16, help="nodes x 8 H100s (default 16)")
    parser.add_argument("--workdir", type=Path, help="keep the logs here (default: a tempdir)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None, doc: str, clients: int, kills: int, run: Callable) -> int:
    """Run one part on a fresh control plane; print its table row and summary; 1 if it failed."""
    args = parse(argv, doc, clients, kills)
    with tempfile.TemporaryDirectory(prefix="hcs-reliability-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        settings = Settings(args.pods, args.clients, args.kills, args.seed, args.nodes, workdir)
        started = time.monotonic()
        with ControlPlane(workdir / "control-plane") as plane:
            result: Result = run(plane, settings)
        print(markdown([result.row]))
        print(f"{result.summary}; {time.monotonic() - started:.1f} s in all with set-up")
        for problem in result.problems[:40]:
            print(f"FAILED: {problem}", file=sys.stderr)
        return 1 if result.failed() else 0


@dataclass
class Findings:
    audit: Audit
    disagree: list[str]

    @property
    def lost(self) -> int:
        return len(self.audit.lost) + len(self.disagree)

    def problems(self, tally: Tally) -> list[str]:
        out = [f"lost: {p}" for p in self.audit.lost]
        out += [f"the extender disagrees with the pods: {p}" for p in self.disagree]
        out += [f"over capacity: {p}" for p in self.audit.over]
        out += [f"allocation on a pending pod: {p}" for p in self.audit.stray]
        out += [f"bind answered success but: {p}" for p in self.audit.silent]
        out += [f"no reason: {p}" for p in tally.reasonless]
        out += [f"still queued at the deadline: {p}" for p in tally.abandoned]
        return out


def final_checks(
    plane: ControlPlane, extender: Extender, namespace: str, nodes: list[str], tally: Tally
) -> Findings:
    """The API's pods and ComputeNodes, then the running extender's status.devices and
    /metrics, given time to catch up."""
    api = plane.api_client()
    try:
        found = audit(api, namespace, nodes, tally.bound)
        disagree = settled(
            lambda: (
                status_disagreements(api, nodes, found.held)
                + metrics_disagreements(extender.url, nodes, found.held)
            ),
            SETTLE_SECONDS,
        )
    finally:
        api.close()
    return Findings(found, disagree)


def outcome_line(
    part: str, settings: Settings, tally: Tally, findings: Findings, wall: float
) -> str:
    a = findings.audit
    refusals = sum(1 for x in tally.answers if x.verb == "bind" and x.status == 200 and x.error)
    return (
        f"{part}: {settings.pods:,} pods over {settings.nodes * 8} devices in {wall:.1f} s: "
        f"{a.bound:,} bound, {a.pending:,} refused (left pending; {len(tally.abandoned)} of them "
        f"still queued at the deadline); {len(tally.answers):,} extender answers, "
        f"{refusals} binds refused with a reason, peak {tally.peak_binds_in_flight} binds in "
        f"flight, {tally.collisions} collisions ({tally.collision_binds} binds to one node at once)"
    )
