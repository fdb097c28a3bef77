"""What the eBPF health path costs at 1,000 driver lines/s (plus 1,000 ordinary lines/s) written
to /dev/kmsg for 10 s: CPU of the loader and of the Python reader (EbpfSource + kernel_lines),
events delivered and the occurrences they stand for, and write-to-delivery latency.

Three rows in one run:
  (a) writer alone, programs detached: the writer's own CPU (the baseline);
  (b) flood: the same Xid line again and again (a sick GPU repeating itself), every 50th line a
      distinct probe line whose latency is measured: the loader coalesces the repeats;
  (c) distinct: every driver line differs (a running number inside it), so coalescing cannot
      help; every line's latency is measured.

Run as root from the checkout: `.venv/bin/python bench/health/ebpf_cpu.py` (builds the loader
with `make -C native/ebpf` unless --loader or $HCS_EBPF_LOADER names one). The printk program runs
in the writer's context, so its in-kernel cost shows as the writer's extra CPU over row (a).
kernel.printk_devkmsg is set to "on" for the run (ratelimit would drop the lines) and restored.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hcs_health.events import HealthEvent
from hcs_health.sources.ebpf import EbpfSource, find_loader

REPO = Path(__file__).resolve().parents[2]
FIXTURE = (
    REPO
    / "native/ebpf/tests/fixtures"
    / ("journal-xid79-fallen-off-bus_rtx5070ti_open-gpu-kernel-modules-1010.txt")
)
DEVKMSG = Path("/proc/sys/kernel/printk_devkmsg")
PROBE_EVERY = 50
# A numbered line: the fixture's Xid 79 line with the running number as its pid.
NUMBERED = re.compile(r"pid=(\d+), name=hcs-bench,")

# The writer: paced open loop, one driver line and one ordinary line per period. Mode "flood"
# repeats one line and writes a numbered one every PROBE_EVERY-th period; "distinct" numbers
# every line. It records when each numbered line was written (CLOCK_MONOTONIC) in argv[7].
WRITER = """
import json, os, sys, time
repeated, numbered, other = (a.encode() for a in sys.argv[1:4])
rate, seconds, mode = int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
every = int(sys.argv[8])
fd = os.open("/dev/kmsg", os.O_WRONLY)
period, start, n, written = 1.0 / rate, time.monotonic(), 0, {}
while n < rate * seconds:
    due = start + n * period
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    if mode == "distinct" or n % every == 0:
        written[n] = time.monotonic()
        os.write(fd, b"<4>" + numbered % n + b"\\n")
    else:
        os.write(fd, b"<4>" + repeated + b"\\n")
    os.write(fd, b"<4>" + other + b"\\n")
    n += 1
with open(sys.argv[7], "w") as f:
    json.dump(written, f)
"""


@dataclass
class Row:
    name: str
    wall_s: float
    written: int
    writer_cpu_s: float
    loader_pct: float = 0.0
    reader_pct: float = 0.0
    events: int = 0
    counted: int = 0
    lost_in_kernel: int = 0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    samples: int = 0


def children_cpu_s() -> float:
    """CPU of the children reaped so far (the writer, once waited for): read once per row, not
    in the polling loop, whose own cost would count as the reader's."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ns(pid: int) -> int:
    """Time on CPU of a process's main thread, nanoseconds (/proc/PID/schedstat, first field):
    finer than the 10 ms ticks of /proc/PID/stat."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def driver_line() -> str:
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    return next(t for t in lines if "Xid" in t).split(" kernel: ", 1)[1]


def start_writer(mode: str, rate: int, seconds: float, times: Path) -> subprocess.Popen[bytes]:
    repeated = driver_line()
    numbered = re.sub(r"pid=\d+, name=[^,]+,", "pid=%d, name=hcs-bench,", repeated)
    args = [repeated, numbered, "hcs bench: ordinary line", str(rate), str(seconds), mode]
    return subprocess.Popen([sys.executable, "-c", WRITER, *args, str(times), str(PROBE_EVERY)])


def collect(
    writer: subprocess.Popen[bytes], source: EbpfSource | None
) -> tuple[list[tuple[float, HealthEvent]], float]:
    """(delivery time, event) of everything the source gave while the writer ran and 2 s
    after (a coalesced count is emitted at the end of its window); the writer's CPU."""
    got: list[tuple[float, HealthEvent]] = []
    children_before = children_cpu_s()
    while writer.poll() is None:
        if source is None:
            time.sleep(0.1)
            continue
        events = source.poll(timeout_s=0.1)
        now = time.monotonic()
        got += [(now, e) for e in events]
    writer_cpu = children_cpu_s() - children_before
    deadline = time.monotonic() + 2
    while source is not None and time.monotonic() < deadline:
        events = source.poll(timeout_s=0.2)
        now = time.monotonic()
        got += [(now, e) for e in events]
    return got, writer_cpu


def latencies_ms(got: list[tuple[float, HealthEvent]], written: dict[str, float]) -> list[float]:
    """Write-to-delivery of each numbered line (each one a first occurrence)."""
    out = []
    for delivered, event in got:
        found = NUMBERED.search(event.message)
        if found and found[1] in written:
            out.append((delivered - written[found[1]]) * 1000)
    return out


def run_row(name: str, mode: str, args: argparse.Namespace, loader: Path | None) -> Row:
    source = EbpfSource(loader) if loader else None
    with tempfile.TemporaryDirectory() as where:
        times = Path(where) / "written.json"
        if source:
            source.start()
        try:
            loader_ns = run_ns(source.pid) if source and source.pid else 0
            reader_before, wall_before = time.process_time(), time.monotonic()
            writer = start_writer(mode, args.rate, args.seconds, times)
            got, writer_cpu = collect(writer, source)
            wall = time.monotonic() - wall_before
            loader_ns = run_ns(source.pid) - loader_ns if source and source.pid else 0
            reader_s = time.process_time() - reader_before
        finally:
            if source:
                source.close()
        written = json.loads(times.read_text())
    row = Row(name, wall, int(args.rate * args.seconds), writer_cpu)
    if source is None:
        return row
    repeated = driver_line()  # others may write Xid lines too: count only the bench's own
    driver = [e for _, e in got if e.message == repeated or NUMBERED.search(e.message)]
    lat = latencies_ms(got, written)
    row.loader_pct, row.reader_pct = loader_ns / 1e7 / wall, reader_s * 100 / wall
    row.events, row.counted, row.lost_in_kernel = (
        len(driver),
        sum(e.count for e in driver),
        source.lost,
    )
    if lat:
        row.samples, row.p50_ms = len(lat), statistics.median(lat)
        row.p99_ms = statistics.quantiles(lat, n=100)[98] if len(lat) > 1 else lat[0]
    return row


def report(rows: list[Row], rate: int, seconds: float) -> None:
    print(f"{rate} driver + {rate} ordinary lines/s to /dev/kmsg for {seconds:.0f} s")
    head = (
        f"{'row':<30} {'loader':>7} {'reader':>7} {'sum':>7} {'events':>7} {'count':>7} "
        f"{'written':>7} {'lost':>5} {'p50 ms':>7} {'p99 ms':>7} {'n':>6} {'writer s':>8}"
    )
    print(head)
    for r in rows:
        if r.name.startswith("(a)"):
            print(f"{r.name:<30} {'':>75} {r.writer_cpu_s:8.2f}")
            continue
        print(
            f"{r.name:<30} {r.loader_pct:6.2f}% {r.reader_pct:6.2f}% "
            f"{r.loader_pct + r.reader_pct:6.2f}% {r.events:7d} {r.counted:7d} {r.written:7d} "
            f"{r.lost_in_kernel:5d} {r.p50_ms:7.2f} {r.p99_ms:7.2f} {r.samples:6d} "
            f"{r.writer_cpu_s:8.2f}"
        )
    print("loader/reader/sum: % of one core over the row's wall time; count: summed event count")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--loader", type=Path)
    parser.add_argument("--rate", type=int, default=1000, help="driver lines per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.loader is None and not os.environ.get("HCS_EBPF_LOADER"):
        subprocess.run(["make", "-s", "-C", str(REPO / "native/ebpf")], check=True)
        args.loader = REPO / "native/ebpf/build/hcs-ebpf-loader"
    loader = find_loader(args.loader)
    before = DEVKMSG.read_text().strip()
    DEVKMSG.write_text("on\n")
    try:
        rows = [
            run_row("(a) writer alone (detached)", "distinct", args, None),
            run_row("(b) flood of one driver line", "flood", args, loader),
            run_row("(c) distinct driver lines", "distinct", args, loader),
        ]
    finally:
        DEVKMSG.write_text(before + "\n")
    report(rows, args.rate, args.seconds)


if __name__ == "__main__":
    main()
