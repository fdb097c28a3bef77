"""Reliability, concurrent binds: 100 clients bind 1,000 pods through the real extender at once.

On a loopback control plane (etcd + kube-apiserver), 16 nodes x 8 H100s with their ComputeNodes
and `hcs-scheduler serve` in its own process; 1,000 pods asking for slices (VRAM + FP16 TFLOPS)
or whole devices (1, 2, 4, 8), about three times what the cluster holds. 100 clients play
kube-scheduler (kube_flow.py): filter, prioritize, bind to the best node; a fifth of the pods
go in groups of 5 whose binds hit one node at the same instant. Afterwards, from the API: no
device over capacity, no bound pod without its allocation, no allocation on a pending pod, every
refusal with a reason; the extender's status.devices and /metrics equal the pods' sums, in the
running process and in a fresh one that rebuilt its cache from the API.

    HCS_CONTROLPLANE_BIN=$(make -s controlplane) .venv/bin/python bench/reliability/binds.py \
        [--pods 1000 --clients 100 --seed 0 --nodes 16 --workdir DIR]

`--kills` is accepted so every part takes one command line; this part injects no fault.
Prints the reliability table row and a summary; exits 1 on any loss, duplication, 5xx or other
failed check.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from random import Random

from hcs_envtest import ControlPlane
from kube_flow import Options, StandIn
from kube_part import Result, Settings, final_checks, main, outcome_line
from kube_setup import Extender, build_nodes, create_pods, prepare
from table import Row


def run(plane: ControlPlane, settings: Settings) -> Result:
    prepare(plane)
    nodes = build_nodes(plane, f"binds-{secrets.token_hex(2)}", settings.nodes)
    namespace = f"binds-{secrets.token_hex(3)}"
    pods = create_pods(plane, namespace, settings.pods, Random(settings.seed))
    extender = Extender(plane, settings.workdir)
    try:
        extender.start()
        extender.wait_ready()
        options = Options(clients=settings.clients, seed=settings.seed)
        started = time.monotonic()
        tally = asyncio.run(StandIn(plane, namespace, nodes, extender.url, options).run(pods))
        wall = time.monotonic() - started
        live = final_checks(plane, extender, namespace, nodes, tally)
        # A fresh process must rebuild the same holdings from the API alone.
        extender.current.process.stop()
        extender.start()
        extender.wait_ready()
        rebuilt = final_checks(plane, extender, namespace, nodes, tally)
    finally:
        extender.stop()
    errors = sum(1 for a in tally.answers if a.status >= 500)
    row = Row(
        part="concurrent binds",
        load=f"{settings.pods:,} pods, {settings.clients} binds in flight, "
        f"{settings.nodes * 8} devices",
        lost=live.lost + len(rebuilt.disagree),
        duplicated=len(live.audit.over),
        server_errors=errors,
    )
    problems = live.problems(tally) + [f"after a restart: {p}" for p in rebuilt.disagree]
    summary = outcome_line("binds", settings, tally, live, wall)
    return Result(row, summary, problems, tally, live.audit)


if __name__ == "__main__":
    sys.exit(main(None, __doc__ or "", clients=100, kills=0, run=run))
