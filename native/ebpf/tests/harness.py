"""Runs hcs-ebpf-loader and feeds the kernel real lines (shared by the test modules)."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
READY_TIMEOUT_S = 10.0

# The prefix a capture put before the driver's text: syslog/journal "Mon DD HH:MM:SS host
# kernel: ", a bare "kernel: ", then dmesg's "[  123.456789] " or dmesg --ctime's
# "[Sat Aug 31 07:06:03 2024] ".
_PREFIX = re.compile(r"^(?:\w+ +\d+ [\d:]+ \S+ kernel: |kernel: )?(?:\[[^\]]*\] )?")


class BpfRefused(Exception):
    """The loader could not load its programs here (no privilege, BPF locked down)."""


def kernel_text(line: str) -> str:
    """The text the driver printed, without the capture's timestamp/host prefix."""
    return _PREFIX.sub("", line, count=1)


def fixture_lines(name: str) -> list[str]:
    """The driver text of each line of a fixture; the poster's elision lines ("...") left out."""
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    texts = [kernel_text(line) for line in lines]
    return [t for t in texts if t.strip() and t.strip() not in {"...", "[...]"}]


def write_kmsg(text: str) -> None:
    """One record to the kernel log, as a driver's printk would make it (level 4, warning)."""
    fd = os.open("/dev/kmsg", os.O_WRONLY)
    try:
        os.write(fd, f"<4>{text}\n".encode())
    finally:
        os.close(fd)


class Loader:
    """A running hcs-ebpf-loader: its attach status lines, then its events on a queue."""

    def __init__(self, binary: Path, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            [str(binary), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.attach: dict[str, dict[str, Any]] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._wait_ready()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.events.put(json.loads(raw))
        self.events.put(None)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                line = self.events.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            if line["type"] == "ready":
                return
            if line["type"] == "attach":
                self.attach[line["program"]] = line
        self.proc.kill()
        _, err = self.proc.communicate(timeout=5)
        raise BpfRefused(
            f"hcs-ebpf-loader exited {self.proc.returncode} before 'ready': {err.decode().strip()}"
        )

    def collect_until(self, marker: str, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        """Events up to and including the printk event whose text is `marker`."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                ev = self.events.get(timeout=0.1)
            except queue.Empty:
                continue
            assert ev is not None, "the loader stopped while events were expected"
            got.append(ev)
            if ev["type"] == "printk" and ev["msg"] == marker:
                return got
        raise AssertionError(f"marker {marker!r} not received in {timeout_s} s; got {got}")

    def collect_for(self, seconds: float) -> list[dict[str, Any]]:
        """Every event of the next `seconds` (coalesced counts arrive at the end of a window)."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                ev = self.events.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            assert ev is not None, "the loader stopped while events were expected"
            got.append(ev)
        return got

    def stop(self) -> int:
        """SIGTERM, as an agent stopping the source does; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=5)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reader.join(timeout=5)
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()
