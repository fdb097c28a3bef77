"""Kernel signals from the eBPF programs of native/ebpf, read through hcs-ebpf-loader.

The loader does the privileged work (load, attach, filter in the kernel) and prints one JSON
object per line (native/ebpf/README.md, "Protocol"); this module starts it, reads its lines on a
thread and turns them into HealthEvents. `record_event` is the pure part: one record -> event.

Cost (bench/health/ebpf_cpu.py): the loader coalesces repeated lines and writes records in
batches, so the reader thread wakes once per batch, splits it and hands it over in one queue put;
the caller's poll parses. Per-line thread hand-offs, not parsing, were most of the old cost.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from hcs_health.errors import SourceError
from hcs_health.events import EventKind, HealthEvent, Severity, Source
from hcs_health.kernel_lines import parse_line

DEFAULT_LOADER = Path("/usr/lib/hcs/hcs-ebpf-loader")
LOADER_ENV = "HCS_EBPF_LOADER"
READY_TIMEOUT_S = 10.0
MESSAGE_LIMIT = 512
READ_SIZE = 1 << 16

# Device file name prefix -> vendor (the loader's default --device-prefix list).
FILE_VENDORS = (
    ("nvidia", "nvidia"),
    ("davinci", "ascend"),
    ("devdrv", "ascend"),
    ("kfd", "hygon"),
    ("cambricon", "cambricon"),
    ("mlu", "cambricon"),
)

# aer_event's severity (include/ras/ras_event.h): 0 non-fatal, 1 fatal, 2 corrected.
AER_SEVERITIES = {
    0: (EventKind.AER_UNCORRECTABLE, Severity.ERROR, "uncorrectable (non-fatal)"),
    1: (EventKind.AER_UNCORRECTABLE, Severity.FATAL, "uncorrectable (fatal)"),
    2: (EventKind.AER_CORRECTABLE, Severity.INFO, "correctable"),
}

Record = Mapping[str, Any]
Batch = tuple[float, list[Record]]
"""Records read together from the loader, and when they arrived."""


def find_loader(explicit: Path | None) -> Path:
    """The loader binary: the argument, else $HCS_EBPF_LOADER, else the packaged path."""
    candidates = [
        ("the configured path", explicit),
        (f"${LOADER_ENV}", Path(os.environ[LOADER_ENV]) if os.environ.get(LOADER_ENV) else None),
        ("the packaged path", DEFAULT_LOADER),
    ]
    for _, path in candidates:
        if path is not None and path.is_file() and os.access(path, os.X_OK):
            return path
    tried = "; ".join(f"{what}: {path if path else 'not set'}" for what, path in candidates)
    raise SourceError(f"hcs-ebpf-loader not found or not executable ({tried})")


def file_vendor(name: str) -> str | None:
    return next((vendor for prefix, vendor in FILE_VENDORS if name.startswith(prefix)), None)


def _aer_event(rec: Record, at: float) -> HealthEvent:
    severity = int(rec["severity"])
    kind, level, words = AER_SEVERITIES.get(
        severity, (EventKind.AER_UNCORRECTABLE, Severity.ERROR, f"severity {severity}")
    )
    dev, status = str(rec["dev"]), int(rec["status"])
    return HealthEvent(
        at=at,
        kind=kind,
        severity=level,
        source=Source.EBPF_AER,
        pci=dev or None,
        message=f"PCIe AER {words} on {dev}: status 0x{status:08x}",
    )


def _ioctl_event(rec: Record, at: float) -> HealthEvent:
    file, latency_ms = str(rec["file"]), int(rec["latency_us"]) / 1000
    message = (
        f"ioctl 0x{int(rec['cmd']):x} on {file} by {rec['comm']} (pid {rec['pid']}) "
        f"took {latency_ms:.1f} ms"
    )
    return HealthEvent(
        at=at,
        kind=EventKind.IOCTL_SLOW,
        severity=Severity.INFO,
        source=Source.EBPF_IOCTL,
        vendor=file_vendor(file),
        value=latency_ms,
        message=message[:MESSAGE_LIMIT],
    )


def record_event(rec: Record, at: float) -> HealthEvent | None:
    """One event record of the loader -> its HealthEvent; None for a line that is no event
    (a printk line kernel_lines does not recognise, a status line)."""
    kind = rec.get("type")
    event: HealthEvent | None = None
    if kind == "printk":
        event = parse_line(str(rec["msg"]), at, Source.EBPF_PRINTK)
    elif kind == "aer":
        event = _aer_event(rec, at)
    elif kind == "ioctl":
        event = _ioctl_event(rec, at)
    count = int(rec.get("count", 1))
    if event is None or count == 1:
        return event
    # A coalesced record stands for `count` repeats of the line (a line may itself count).
    return dataclasses.replace(event, count=event.count * count)


def decode_lines(lines: list[bytes]) -> tuple[list[Record], list[bytes]]:
    """The records of whole JSON lines, and the lines that were not JSON objects. One array
    decode for the batch (the common case), line by line only when something is wrong."""
    try:
        records = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        records = None
    if isinstance(records, list) and all(isinstance(r, dict) for r in records):
        return records, []
    good: list[Record] = []
    bad: list[bytes] = []
    for raw in lines:
        try:
            rec = json.loads(raw)
        except ValueError:
            rec = None
        if isinstance(rec, dict):
            good.append(rec)
        else:
            bad.append(raw)
    return good, bad


class EbpfSource:
    """A running hcs-ebpf-loader. `attached` says which programs run (None) or why not;
    `lost` is how many records the kernel's ring buffer had no room for."""

    name = "ebpf"

    def __init__(
        self,
        loader: Path,
        ioctl_slow_ms: float = 50,
        clock: Callable[[], float] = time.monotonic,
        coalesce_ms: int | None = None,
        batch_ms: int | None = None,
    ) -> None:
        """`coalesce_ms` and `batch_ms` are the loader's --coalesce-ms and --batch-ms (None:
        its defaults, 250 and 10)."""
        if ioctl_slow_ms < 0:
            raise SourceError(f"ioctl_slow_ms must be >= 0, got {ioctl_slow_ms}")
        for name, ms in (("coalesce_ms", coalesce_ms), ("batch_ms", batch_ms)):
            if ms is not None and ms < 0:
                raise SourceError(f"{name} must be >= 0, got {ms}")
        self.loader, self.ioctl_slow_ms, self._clock = loader, ioctl_slow_ms, clock
        self._options = {"--coalesce-ms": coalesce_ms, "--batch-ms": batch_ms}
        self.attached: dict[str, str | None] = {}
        self.lost = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[Batch | None] = queue.Queue()
        self._backlog: collections.deque[tuple[float, Record]] = collections.deque()
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._threads: list[threading.Thread] = []
        self._ended = False

    @property
    def pid(self) -> int | None:
        """The loader's process id while it runs (for CPU accounting)."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the loader and wait (10 s at most) until its programs are attached."""
        args = [str(self.loader), "--ioctl-slow-us", str(round(self.ioctl_slow_ms * 1000))]
        args += [
            arg for flag, ms in self._options.items() if ms is not None for arg in (flag, str(ms))
        ]
        try:
            self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise SourceError(f"cannot run the eBPF loader {self.loader}: {exc}") from exc
        self._spawn(self._read_stdout)
        self._spawn(self._read_stderr)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                item = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if item is None:
                raise self._failure("exited before it was ready")
            at, records = item
            for i, rec in enumerate(records):
                if rec.get("type") == "ready":
                    self._backlog.extend((at, later) for later in records[i + 1 :])
                    return
                if rec.get("type") == "attach":
                    self.attached[str(rec["program"])] = None if rec["ok"] else str(rec["error"])
        raise self._failure(f"was not ready within {READY_TIMEOUT_S:.0f} s")

    def poll(self, timeout_s: float) -> list[HealthEvent]:
        """Events that arrived, waiting at most `timeout_s` for the first; SourceError once
        the loader has stopped and everything it sent was returned."""
        events = self._events(self._backlog)
        self._backlog.clear()
        wait: float | None = 0.0 if events else max(timeout_s, 0.0)
        while True:
            try:
                item = self._lines.get(timeout=wait) if wait else self._lines.get_nowait()
            except queue.Empty:
                return events
            wait = 0
            if item is None:
                self._ended = True
                if events:
                    return events
                raise self._failure("stopped")
            at, records = item
            events += self._events((at, rec) for rec in records)

    def _events(self, records: Iterable[tuple[float, Record]]) -> list[HealthEvent]:
        events = []
        for at, rec in records:
            if rec.get("type") == "lost":
                self.lost = int(rec["total"])
            event = record_event(rec, at)
            if event is not None:
                events.append(event)
        return events

    def close(self) -> None:
        """Stop the loader (SIGTERM, then SIGKILL after 5 s); its programs detach with it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()

    def _spawn(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"hcs-ebpf-{target.__name__}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _read_stdout(self) -> None:
        """Whatever the pipe holds at each wake-up, split into lines: one queue put per batch."""
        assert self._proc is not None
        assert self._proc.stdout is not None
        fd, rest = self._proc.stdout.fileno(), b""
        while chunk := os.read(fd, READ_SIZE):
            *lines, rest = (rest + chunk).split(b"\n")
            records, bad = decode_lines([line for line in lines if line.strip()])
            self._stderr.extend(f"unreadable line on stdout: {raw[:200]!r}" for raw in bad)
            if records:
                self._lines.put((self._clock(), records))
        self._lines.put(None)

    def _read_stderr(self) -> None:
        assert self._proc is not None
        assert self._proc.stderr is not None
        for raw in self._proc.stderr:
            self._stderr.append(raw.decode("utf-8", "replace").rstrip())

    def _failure(self, what: str) -> SourceError:
        proc = self._proc
        status = ""
        if proc is not None:
            if proc.poll() is None and not self._ended:
                proc.kill()
            try:
                status = f" (exit status {proc.wait(timeout=5)})"
            except subprocess.TimeoutExpired:
                status = ""
        for thread in self._threads[1:]:
            thread.join(timeout=2)
        stderr = " | ".join(self._stderr) or "nothing on stderr"
        self.close()
        return SourceError(f"eBPF loader {self.loader} {what}{status}: {stderr}")
