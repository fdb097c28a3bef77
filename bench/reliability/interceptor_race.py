"""Reliability part: processes racing for one container's VRAM quota through the interceptor,
some killed with SIGKILL in the middle of an allocation and replaced.

Eight processes (lanes) share one HCS_SHM_PATH region and HCS_VRAM_QUOTA, each making --count
allocations of random sizes (4 KiB to 16 MiB) with frees interleaved, through
libhcs_interceptor.so (LD_PRELOAD) against a stub libcuda.so.1 (interceptor_race.c). The stub
keeps its own books in a ledger of shared memory: the live bytes each process holds, as a
driver would (a dead process's memory is released with it). At every grant it sums the live
processes' bytes and counts a violation when the sum is over the quota: the quota is judged
from the driver's side, not from the interceptor's counter.

--kills SIGKILLs land mid-allocation: half inside the driver call (the stub pauses there, after
the interceptor reserved the bytes, before or after the device grant), half at random moments
of a lane's run (in the interceptor's lock, in the driver, between calls). A killed process is
replaced by one that makes the rest of its lane's allocations. Half the processes exit holding
memory. Afterwards, fresh processes ask cuMemGetInfo and allocate 1 MiB until refused: the
interceptor documents that a dead process's slot is reclaimed (when a process claims a slot, an
allocation would not fit, or memory info is asked for), so the whole quota must be free again;
what is not is counted as lost. `--control` runs the same race without the interceptor, to show
the ledger does catch a container over its quota.

    .venv/bin/python bench/reliability/interceptor_race.py [--count 10000] [--kills 16]
        [--lanes 8] [--seed 1] [--control]
"""

from __future__ import annotations

import argparse
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from table import Row, markdown

HERE = Path(__file__).resolve().parent
NATIVE = HERE.parent.parent / "native" / "interceptor"
MiB = 1 << 20
CFLAGS = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"]
LANE_TIMEOUT = 120.0
"""Seconds one process may take (a hung process is a failure, not a wait)."""


@dataclass(frozen=True)
class Tools:
    interceptor: Path
    program: Path
    libdir: Path
    """Holds the stub libcuda.so.1."""


def _cc(*args: str | Path) -> None:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or "gcc"
    include = f"-I{NATIVE / 'include'}"
    subprocess.run([compiler, *CFLAGS, include, *map(str, args)], check=True)


def build(out: Path) -> Tools:
    """The interceptor (HCS_INTERCEPTOR_SO, else `make -C native/interceptor`), the stub driver
    and the program, compiled into `out`."""
    given = os.environ.get("HCS_INTERCEPTOR_SO")
    if given:
        interceptor = Path(given).resolve()
    else:
        subprocess.run(["make", "-s", "-C", str(NATIVE)], check=True)
        interceptor = NATIVE / "build" / "libhcs_interceptor.so"
    source = HERE / "interceptor_race.c"
    driver = ["-DRACE_DRIVER", "-shared", "-fPIC", "-Wl,-soname,libcuda.so.1"]
    _cc(*driver, "-o", out / "libcuda.so.1", source, "-lpthread")
    _cc("-o", out / "interceptor_race", source, "-ldl", "-lpthread")
    return Tools(interceptor, out / "interceptor_race", out)


@dataclass(frozen=True)
class Kill:
    how: str
    """"driver-before" / "driver-after": paused in the stub's allocation, before or after the
    grant; "random": at `delay` seconds into the process's run."""
    at: int = 0
    """For a driver kill: the process's allocation (driver call) to pause in."""
    delay: float = 0.0


def plan_kills(rng: random.Random, lanes: int, count: int, kills: int) -> list[list[Kill]]:
    """`kills` kills spread over the lanes; each lane's in the order its processes meet them."""
    plan: list[list[Kill]] = [[] for _ in range(lanes)]
    for i in range(kills):
        if i % 2 == 0:
            how = "driver-before" if i % 4 == 0 else "driver-after"
            # Driver calls are the granted allocations: well under `count` for any process.
            kill = Kill(how, at=rng.randint(1, max(1, count // 4)))
        else:  # within the first process's run (~2-4 us an allocation with 8 on 2 cores)
            kill = Kill("random", delay=rng.uniform(0.0005, count * 4e-6))
        plan[rng.randrange(lanes)].append(kill)
    return plan


@dataclass
class Lane:
    index: int
    kills: list[Kill]
    proc: subprocess.Popen[bytes] | None = None
    kill: Kill | None = None
    deadline: float = 0.0
    """When a random kill is due (monotonic), or the process's timeout."""


@dataclass
class Outcome:
    lanes: int
    count: int
    quota: int
    killed: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    ledger: dict[str, int] = field(default_factory=dict)
    free_after: int = 0
    filled_after: int = 0
    seconds: float = 0.0
    attempts: int = 0
    """Allocations the lanes asked for, refused ones included (those cut short by a kill not)."""

    @property
    def lost(self) -> int:
        """Quota bytes a fresh process cannot have after every racer is gone."""
        return max(self.quota - self.free_after, self.quota - self.filled_after * MiB, 0)


class Race:
    """The lanes' processes, their kills and replacements."""

    def __init__(self, tools: Tools, workdir: Path, quota: int, seed: int, preload: bool) -> None:
        self.tools, self.workdir, self.seed = tools, workdir, seed
        self.ledger = workdir / "ledger"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LD_LIBRARY_PATH": str(tools.libdir),
            "HCS_SHM_PATH": str(workdir / "region"),
            "HCS_VRAM_QUOTA": f"{quota // MiB}Mi",
            "HCS_RACE_LEDGER": str(self.ledger),
        }
        if preload:
            self.env["LD_PRELOAD"] = str(tools.interceptor)
        self.log = (workdir / "stderr.log").open("ab")
        self.selector = selectors.DefaultSelector()

    def program(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [str(self.tools.program), *args],
            env=env or self.env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            timeout=LANE_TIMEOUT,
            check=True,
        )
        return done.stdout.decode()

    def attempts(self) -> dict[int, int]:
        """Allocations each lane has made so far (all its processes), from the ledger."""
        words = self.program("report", str(self.ledger)).split()
        return {
            int(w[4 : w.index("=")]): int(w.split("=")[1].split("/")[0])
            for w in words
            if w.startswith("lane")
        }

    def start(self, lane: Lane, count: int) -> None:
        lane.kill = lane.kills.pop(0) if lane.kills else None
        env = dict(self.env)
        if lane.kill is not None and lane.kill.how != "random":
            env["HCS_RACE_PAUSE_AT"] = str(lane.kill.at)
            env["HCS_RACE_PAUSE_WHEN"] = lane.kill.how.removeprefix("driver-")
        seed = str(self.seed * 1000 + lane.index * 10 + len(lane.kills))
        lane.proc = subprocess.Popen(
            [str(self.tools.program), "work", str(lane.index), str(count), seed],
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        random_kill = lane.kill is not None and lane.kill.how == "random"
        delay = lane.kill.delay if lane.kill is not None and random_kill else LANE_TIMEOUT
        lane.deadline = time.monotonic() + delay
        assert lane.proc.stdout is not None
        os.set_blocking(lane.proc.stdout.fileno(), False)
        self.selector.register(lane.proc.stdout, selectors.EVENT_READ, lane)

    def stop(self, lane: Lane) -> int:
        """SIGKILLs the lane's process (if still running) and reaps it; its exit status."""
        assert lane.proc is not None
        assert lane.proc.stdout is not None
        self.selector.unregister(lane.proc.stdout)
        if lane.proc.poll() is None:
            lane.proc.send_signal(signal.SIGKILL)
        code = lane.proc.wait()
        lane.proc.stdout.close()
        return code

    def run(self, lanes: list[Lane], count: int, outcome: Outcome) -> None:
        for lane in lanes:
            self.start(lane, count)
        running = {lane.index: lane for lane in lanes}
        while running:
            due = min(lane.deadline for lane in running.values())
            events = self.selector.select(timeout=max(0.0, due - time.monotonic()))
            for key, _ in events:
                self._output(key.data, count, outcome, running)
            now = time.monotonic()
            for lane in [lane for lane in running.values() if lane.deadline <= now]:
                self._due(lane, count, outcome, running)

    def _output(self, lane: Lane, count: int, outcome: Outcome, running: dict[int, Lane]) -> None:
        assert lane.proc is not None
        assert lane.proc.stdout is not None
        data = os.read(lane.proc.stdout.fileno(), 4096)  # readable: data, or b"" at its end
        if b"paused" in data:
            self.stop(lane)
            self._killed(lane, count, outcome, running)
        elif not data:  # end of output: the process exited
            code = self.stop(lane)
            if code != 0:
                outcome.errors.append(f"lane {lane.index}: exit status {code}")
            if lane.kill is not None:
                lane.kills.insert(0, lane.kill)  # finished first: the kill never happened
            del running[lane.index]

    def _due(self, lane: Lane, count: int, outcome: Outcome, running: dict[int, Lane]) -> None:
        if lane.kill is None or lane.kill.how != "random":
            self.stop(lane)
            outcome.errors.append(f"lane {lane.index}: no answer in {LANE_TIMEOUT:.0f} s")
            del running[lane.index]
            return
        code = self.stop(lane)
        if code == -signal.SIGKILL:
            self._killed(lane, count, outcome, running)
            return
        if code != 0:
            outcome.errors.append(f"lane {lane.index}: exit status {code}")
        lane.kills.insert(0, lane.kill)  # it finished just before the kill
        del running[lane.index]

    def _killed(self, lane: Lane, count: int, outcome: Outcome, running: dict[int, Lane]) -> None:
        assert lane.kill is not None
        outcome.killed[lane.kill.how] = outcome.killed.get(lane.kill.how, 0) + 1
        remaining = count - self.attempts().get(lane.index, 0)
        if remaining > 0:
            self.start(lane, remaining)  # the replacement makes the rest of the lane's share
        else:
            del running[lane.index]


@dataclass(frozen=True)
class Load:
    lanes: int = 8
    count: int = 10_000
    """Allocations per lane."""
    kills: int = 16
    quota: int = 128 * MiB
    seed: int = 1


def race(tools: Tools, load: Load, preload: bool = True) -> Outcome:
    """One race in a fresh region and ledger; the figures it left."""
    lanes, count = load.lanes, load.count
    outcome = Outcome(lanes, count, load.quota)
    with tempfile.TemporaryDirectory(prefix="hcs-race-") as tmp:
        workdir = Path(tmp)
        runner = Race(tools, workdir, load.quota, load.seed, preload)
        runner.program("init", str(runner.ledger), str(load.quota))
        plan = plan_kills(random.Random(load.seed), lanes, count, load.kills)
        started = time.perf_counter()
        runner.run([Lane(i, plan[i]) for i in range(lanes)], count, outcome)
        outcome.seconds = time.perf_counter() - started
        outcome.attempts = sum(runner.attempts().values())
        report = runner.program("report", str(runner.ledger)).split()
        outcome.ledger = {k: int(v) for k, v in (w.split("=") for w in report if "/" not in w)}
        if preload:  # without the interceptor nothing limits a fill
            info = dict(w.split("=") for w in runner.program("info").split())
            outcome.free_after = int(info["free"])
            outcome.filled_after = int(runner.program("fill").split("=")[1])
        runner.log.close()
        if outcome.errors:
            tail = (workdir / "stderr.log").read_text(errors="replace").splitlines()[-5:]
            outcome.errors += [f"  stderr: {line}" for line in tail]
    return outcome


def row(outcome: Outcome, control: bool = False) -> Row:
    driver = sum(n for how, n in outcome.killed.items() if how.startswith("driver"))
    random_points = outcome.killed.get("random", 0)
    part = "interceptor quota race (stub CUDA driver)"
    return Row(
        part=f"{part}, control without the interceptor" if control else part,
        load=f"{outcome.lanes} processes x {outcome.count:,} allocations",
        faults=f"{driver + random_points} SIGKILLs mid-allocation ({driver} inside the driver "
        f"call, {random_points} at random points)",
        lost=None if control else outcome.lost,
        duplicated=outcome.ledger.get("violations", 0),
    )


def details(outcome: Outcome, control: bool = False) -> str:
    ledger = outcome.ledger
    after = (
        f"after every racer exited: cuMemGetInfo free {outcome.free_after:,} bytes, "
        f"{outcome.filled_after} x 1 MiB allocated; "
        if not control
        else ""
    )
    return (
        f"{outcome.attempts:,} allocations asked, {ledger.get('grants', 0):,} granted by the "
        f"driver, {ledger.get('frees', 0):,} frees, in "
        f"{outcome.seconds:.2f} s; most live at once {ledger.get('max_live', 0):,} bytes of "
        f"{outcome.quota:,} (worst excess {ledger.get('worst_excess', 0):,}); {after}"
        f"kills {outcome.killed}" + "".join(f"\n  error: {e}" for e in outcome.errors)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="allocations per lane")
    parser.add_argument("--kills", type=int, default=16)
    parser.add_argument("--lanes", type=int, default=8)
    parser.add_argument("--quota-mib", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--control", action="store_true", help="also race without interceptor")
    args = parser.parse_args(argv)
    load = Load(args.lanes, args.count, args.kills, args.quota_mib * MiB, args.seed)
    with tempfile.TemporaryDirectory(prefix="hcs-race-build-") as tmp:
        tools = build(Path(tmp))
        outcome = race(tools, load)
        rows, lines = [row(outcome)], [details(outcome)]
        if args.control:
            control = race(tools, load, preload=False)
            rows.append(row(control, control=True))
            lines.append("control: " + details(control, control=True))
    print(markdown(rows))
    print()
    print("\n".join(lines))
    return 1 if failed(outcome) else 0


def failed(outcome: Outcome) -> bool:
    return bool(outcome.errors or outcome.lost or outcome.ledger.get("violations", 0))


if __name__ == "__main__":
    sys.exit(main())
