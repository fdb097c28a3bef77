"""Kernel lines from /dev/kmsg: the polling fallback when the eBPF printk probe cannot load.

Each read() of /dev/kmsg returns one record, "prio,seq,ts_usec,flags;text\\n" followed by
" KEY=value" dictionary lines (Documentation/ABI/testing/dev-kmsg). The text is parsed by
kernel_lines, so the events are the same as the eBPF source's.
"""

from __future__ import annotations

import errno
import os
import re
import select
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from hcs_health.errors import SourceError
from hcs_health.events import HealthEvent, Source
from hcs_health.kernel_lines import parse_lines

_RECORD_HEADER = re.compile(rb"^(\d+),(\d+),(\d+),[^;]*;")
_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
_READ_SIZE = 8192  # larger than one record (the kernel's limit is 1024 + dictionary)


def parse_record(raw: bytes) -> tuple[int, int, str] | None:
    """(seq, ts_usec, text) of one /dev/kmsg record, or None when it is not one.

    The kernel escapes unprintable bytes as \\xNN; a newline inside a message (a multi-line
    printk) comes back as a real newline so kernel_lines can join the record."""
    found = _RECORD_HEADER.match(raw)
    if found is None:
        return None
    first = raw[found.end() :].split(b"\n", 1)[0]  # the " KEY=value" lines are dictionary
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), first.decode("utf-8", "replace"))
    return int(found.group(2)), int(found.group(3)), text


class KmsgSource:
    """Reads new kernel records without blocking; `lost` counts records the ring overwrote
    before they were read (the kernel answers EPIPE and skips ahead)."""

    name = "kmsg"

    def __init__(
        self,
        path: Path = Path("/dev/kmsg"),
        clock: Callable[[], float] = time.monotonic,
        from_now: bool = True,
    ) -> None:
        self.path, self._clock, self._from_now = path, clock, from_now
        self._fd: int | None = None
        self._last_seq: int | None = None
        self.lost = 0

    def start(self) -> None:
        """Open the device; from_now skips the records already in the ring."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            hint = " (needs CAP_SYSLOG or root)" if exc.errno in (errno.EPERM, errno.EACCES) else ""
            raise SourceError(f"cannot read {self.path}: {exc.strerror}{hint}") from exc
        if self._from_now:
            os.lseek(fd, 0, os.SEEK_END)
        self._fd = fd

    def poll(self, timeout_s: float) -> list[HealthEvent]:
        """Wait up to timeout_s for records, then read every one available."""
        if self._fd is None:
            raise SourceError(f"{self.path} is not open: call start() first")
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        if not poller.poll(max(0, int(timeout_s * 1000))):
            return []
        texts = [record[2] for record in self._read_available()]
        return parse_lines(texts, self._clock(), Source.KMSG)

    def _read_available(self) -> list[tuple[int, int, str]]:
        assert self._fd is not None
        records: list[tuple[int, int, str]] = []
        overwritten = False
        while True:
            try:
                raw = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                break
            except BrokenPipeError:  # EPIPE: the next read resumes at the oldest record kept
                overwritten = True
                continue
            except OSError as exc:
                raise SourceError(f"cannot read {self.path}: {exc.strerror}") from exc
            if not raw:
                break
            record = parse_record(raw)
            if record is not None:
                self._count_lost(record[0], overwritten)
                overwritten = False
                records.append(record)
        if overwritten:
            self.lost += 1
        return records

    def _count_lost(self, seq: int, overwritten: bool) -> None:
        """The sequence gap says how many were lost; without a previous seq count one."""
        if self._last_seq is not None and seq > self._last_seq + 1:
            self.lost += seq - self._last_seq - 1
        elif overwritten:
            self.lost += 1
        self._last_seq = seq

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> KmsgSource:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
