"""What the eBPF health programs cost: CPU of the loader, of the Python reader, and of the
kernel lines' writer, at 1,000 driver lines/s plus 1,000 ordinary lines/s to /dev/kmsg for 10 s,
beside the same writer with no program attached (the baseline).

Run as root from the checkout: `.venv/bin/python bench/health/ebpf_cpu.py` (builds the loader
with `make -C native/ebpf` unless --loader or $HCS_EBPF_LOADER names one). The printk program runs
in the writer's context, so its in-kernel cost shows as the writer's extra CPU over the baseline.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
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
TICK = os.sysconf("SC_CLK_TCK")

# The writer: paced open loop, one driver line and one ordinary line per period.
WRITER = """
import os, sys, time
driver, other = sys.argv[1].encode(), sys.argv[2].encode()
rate, seconds = int(sys.argv[3]), float(sys.argv[4])
fd = os.open("/dev/kmsg", os.O_WRONLY)
period, start, n = 1.0 / rate, time.monotonic(), 0
while n < rate * seconds:
    due = start + n * period
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    os.write(fd, b"<4>" + driver + b"\\n")
    os.write(fd, b"<4>" + other + b"\\n")
    n += 1
"""


def cpu_s(pid: int) -> float:
    """utime + stime of a process, seconds (proc(5): fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def driver_line() -> str:
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    return next(t for t in lines if "Xid" in t).split(" kernel: ", 1)[1]


def run_writer(rate: int, seconds: float, source: EbpfSource | None) -> dict[str, float]:
    driver = driver_line()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, driver, "hcs bench: ordinary line", str(rate), str(seconds)]
    )
    loader_pid = source.pid if source else None
    loader_before = cpu_s(loader_pid) if loader_pid else 0.0
    reader_before, wall_before = time.process_time(), time.monotonic()
    received: list[HealthEvent] = []
    writer_cpu = 0.0
    while writer.poll() is None:
        writer_cpu = cpu_s(writer.pid)
        if source:
            received += source.poll(timeout_s=0.1)
        else:
            time.sleep(0.1)
    if source:  # what is still in flight
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            received += source.poll(timeout_s=0.2)
    wall = time.monotonic() - wall_before
    return {
        "wall_s": wall,
        "sent": rate * seconds,
        "received": sum(1 for e in received if e.message == driver),
        "lost_in_kernel": source.lost if source else 0,
        "loader_pct": (cpu_s(loader_pid) - loader_before) / wall * 100 if loader_pid else 0.0,
        "reader_pct": (time.process_time() - reader_before) / wall * 100 if source else 0.0,
        "writer_cpu_s": writer_cpu,
    }


def report(name: str, r: dict[str, float]) -> None:
    if name.startswith("programs detached"):
        print(f"{name:<22} writer {r['writer_cpu_s']:.2f} s CPU over {r['wall_s']:.1f} s")
        return
    print(
        f"{name:<22} sent {r['sent']:.0f} driver lines, received {r['received']:.0f}, "
        f"lost {r['sent'] - r['received']:.0f} (ring buffer full: {r['lost_in_kernel']:.0f}); "
        f"loader {r['loader_pct']:.2f} % of a core, reader {r['reader_pct']:.2f} %, "
        f"writer {r['writer_cpu_s']:.2f} s CPU over {r['wall_s']:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loader", type=Path)
    parser.add_argument("--rate", type=int, default=1000, help="driver lines per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.loader is None and not os.environ.get("HCS_EBPF_LOADER"):
        subprocess.run(["make", "-s", "-C", str(REPO / "native/ebpf")], check=True)
        args.loader = REPO / "native/ebpf/build/hcs-ebpf-loader"
    before = DEVKMSG.read_text().strip()
    DEVKMSG.write_text("on\n")
    try:
        baseline = run_writer(args.rate, args.seconds, None)
        source = EbpfSource(find_loader(args.loader))
        source.start()
        try:
            attached = run_writer(args.rate, args.seconds, source)
        finally:
            source.close()
    finally:
        DEVKMSG.write_text(before + "\n")
    print(f"{args.rate} driver + {args.rate} ordinary lines/s to /dev/kmsg for {args.seconds} s")
    report("programs detached:", baseline)
    report("programs attached:", attached)
    extra = attached["writer_cpu_s"] - baseline["writer_cpu_s"]
    print(f"writer's extra CPU with the programs attached (in-kernel filter): {extra:+.2f} s")


if __name__ == "__main__":
    main()
