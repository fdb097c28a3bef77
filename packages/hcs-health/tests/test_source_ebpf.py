"""EbpfSource runs the real loader: a driver line written to the kernel is an event within 1 s."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hcs_health.errors import SourceError
from hcs_health.events import EventKind, HealthEvent, Severity, Source
from hcs_health.sources.ebpf import EbpfSource, decode_lines, find_loader, record_event

FIXTURES = Path(__file__).resolve().parent / "fixtures"
JOURNAL_XID79 = "journal-xid79-fallen-off-bus_rtx5070ti_open-gpu-kernel-modules-1010.txt"
REPO = Path(__file__).resolve().parents[3]
DEVKMSG = Path("/proc/sys/kernel/printk_devkmsg")


def _refused(reason: str) -> None:
    if os.environ.get("HCS_EBPF_ALLOW_SKIP") == "1":
        pytest.skip(reason)
    pytest.fail(f"{reason} (set HCS_EBPF_ALLOW_SKIP=1 to skip where BPF is not allowed)")


def _loader() -> Path:
    """$HCS_EBPF_LOADER, the Bazel runfile, else `make -C native/ebpf` in the checkout."""
    if os.environ.get("HCS_EBPF_LOADER"):
        return Path(os.environ["HCS_EBPF_LOADER"]).resolve()
    runfile = Path("native/ebpf/hcs-ebpf-loader")
    if runfile.is_file():
        return runfile.resolve()
    if not (REPO / "native/ebpf/Makefile").is_file():
        _refused("no hcs-ebpf-loader: set HCS_EBPF_LOADER or run from the checkout")
    subprocess.run(["make", "-s", "-C", str(REPO / "native/ebpf")], check=True, timeout=120)
    return REPO / "native/ebpf/build/hcs-ebpf-loader"


@pytest.fixture
def source() -> Iterator[EbpfSource]:
    if os.geteuid() != 0:
        _refused(f"not root (euid {os.geteuid()}): loading BPF needs CAP_BPF and CAP_PERFMON")
    before = DEVKMSG.read_text().strip()
    DEVKMSG.write_text("on\n")
    ebpf = EbpfSource(_loader())
    try:
        ebpf.start()
    except SourceError as exc:
        _refused(str(exc))
    yield ebpf
    ebpf.close()
    DEVKMSG.write_text(before + "\n")


def test_an_xid_79_line_becomes_an_event_within_a_second(source: EbpfSource) -> None:
    journal = (FIXTURES / JOURNAL_XID79).read_text(encoding="utf-8").splitlines()
    line = next(t for t in journal if "Xid" in t).split(" kernel: ", 1)[1]
    assert source.attached["printk"] is None
    fd = os.open("/dev/kmsg", os.O_WRONLY)
    try:
        os.write(fd, f"<4>{line}\n".encode())
    finally:
        os.close(fd)
    deadline = time.monotonic() + 1.0
    found: list[HealthEvent] = []
    while not found and time.monotonic() < deadline:
        events = source.poll(timeout_s=max(deadline - time.monotonic(), 0))
        found = [e for e in events if e.message == line]
    assert found, "no event for the Xid 79 line within 1 s"
    event = found[0]
    assert event.kind in (EventKind.FALLEN_OFF_BUS, EventKind.XID)
    assert (event.pci, event.code, event.source) == ("0000:01:00.0", 79, Source.EBPF_PRINTK)


def test_attach_status_names_every_program(source: EbpfSource) -> None:
    assert set(source.attached) == {"printk", "aer", "ioctl"}
    assert source.attached["ioctl"] is None
    assert source.poll(timeout_s=0) == [] or True


@pytest.mark.parametrize(
    ("severity", "kind", "level"),
    [
        (2, EventKind.AER_CORRECTABLE, Severity.INFO),
        (0, EventKind.AER_UNCORRECTABLE, Severity.ERROR),
        (1, EventKind.AER_UNCORRECTABLE, Severity.FATAL),
    ],
    ids=["corrected", "non-fatal", "fatal"],
)
def test_aer_records_by_kernel_severity(severity: int, kind: EventKind, level: Severity) -> None:
    rec = {"type": "aer", "ts_ns": 1, "dev": "0000:3b:00.0", "status": 1, "severity": severity}
    event = record_event(rec, at=7.0)
    assert event is not None
    assert (event.kind, event.severity, event.pci, event.at) == (kind, level, "0000:3b:00.0", 7.0)
    assert event.source is Source.EBPF_AER


@pytest.mark.parametrize(
    ("file", "vendor"),
    [
        ("nvidia0", "nvidia"),
        ("nvidiactl", "nvidia"),
        ("davinci3", "ascend"),
        ("devdrv_manager", "ascend"),
        ("kfd", "hygon"),
        ("cambricon_dev0", "cambricon"),
        ("mlu270", "cambricon"),
        ("hcsdev3", None),
    ],
    ids=lambda v: str(v),
)
def test_slow_ioctl_records(file: str, vendor: str | None) -> None:
    rec = {"type": "ioctl", "ts_ns": 1, "pid": 42, "comm": "python", "file": file,
           "cmd": 0x5401, "latency_us": 73500}  # fmt: skip
    event = record_event(rec, at=3.0)
    assert event is not None
    assert (event.kind, event.vendor, event.value) == (EventKind.IOCTL_SLOW, vendor, 73.5)
    assert event.source is Source.EBPF_IOCTL
    assert file in event.message


def test_status_and_unknown_lines_are_no_events() -> None:
    assert record_event({"type": "ready"}, at=0.0) is None
    assert record_event({"type": "printk", "ts_ns": 1, "msg": "hcs: ordinary"}, at=0.0) is None


# The Xid 79 line of the journal-xid79 fixture.
XID79 = "NVRM: Xid (PCI:0000:01:00): 79, pid=6755, name=vivaldi-bin, GPU has fallen off the bus."
# A recorded line (fixtures/dmesg-amdgpu-ras-*): it counts 1533 errors by itself.
AMD_CE = (
    "[76914.190522] amdgpu 0000:9d:00.0: {1}socket: 6, die: 1, 1533 new correctable hardware "
    "errors detected in xgmi_wafl block"
)


@pytest.mark.parametrize(
    ("rec", "count"),
    [
        ({"type": "printk", "ts_ns": 1, "msg": XID79}, 1),
        ({"type": "printk", "ts_ns": 1, "msg": XID79, "count": 37}, 37),
        ({"type": "printk", "ts_ns": 1, "msg": AMD_CE, "count": 4}, 1533 * 4),
        ({"type": "aer", "ts_ns": 1, "dev": "0000:3b:00.0", "status": 1, "severity": 2,
          "count": 250}, 250),
        ({"type": "ioctl", "ts_ns": 1, "pid": 42, "comm": "python", "file": "nvidia0",
          "cmd": 1, "latency_us": 73500, "count": 9}, 9),
    ],
    ids=["first", "xid-repeats", "amd-counted-line-repeats", "aer-repeats", "ioctl-repeats"],
)  # fmt: skip
def test_a_coalesced_record_counts_its_repeats(rec: dict[str, object], count: int) -> None:
    event = record_event(rec, at=1.0)
    assert event is not None
    assert event.count == count


def test_a_batch_with_a_broken_line_keeps_the_good_ones() -> None:
    lines = [b'{"type":"ready"}', b'{"type":"printk",', b"[1]", b'{"type":"lost","total":2}']
    records, bad = decode_lines(lines)
    assert records == [{"type": "ready"}, {"type": "lost", "total": 2}]
    assert bad == [b'{"type":"printk",', b"[1]"]


def test_events_written_with_ready_in_one_batch_are_not_lost(tmp_path: Path) -> None:
    script = tmp_path / "loader"
    line = XID79.replace('"', '\\"')
    script.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' '{{\"type\":\"ready\"}}' "
        f'\'{{"type":"printk","ts_ns":1,"msg":"{line}"}}\' '
        f'\'{{"type":"printk","ts_ns":2,"msg":"{line}","count":99}}\'\n'
        "sleep 5\n"
    )
    script.chmod(0o755)
    source = EbpfSource(script, clock=lambda: 5.0)
    source.start()
    try:
        events = source.poll(timeout_s=2.0)
        while sum(e.count for e in events) < 100:
            more = source.poll(timeout_s=2.0)
            assert more, f"only {[e.count for e in events]} arrived"
            events += more
    finally:
        source.close()
    assert [(e.kind, e.code, e.count) for e in events] == [
        (EventKind.FALLEN_OFF_BUS, 79, 1),
        (EventKind.FALLEN_OFF_BUS, 79, 99),
    ]


def test_find_loader_names_every_place_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HCS_EBPF_LOADER", raising=False)
    with pytest.raises(SourceError) as err:
        find_loader(tmp_path / "missing")
    assert str(tmp_path / "missing") in str(err.value)
    assert "$HCS_EBPF_LOADER: not set" in str(err.value)
    assert "/usr/lib/hcs/hcs-ebpf-loader" in str(err.value)
    script = tmp_path / "loader"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setenv("HCS_EBPF_LOADER", str(script))
    assert find_loader(None) == script


def test_a_loader_that_fails_raises_with_its_stderr(tmp_path: Path) -> None:
    script = tmp_path / "loader"
    script.write_text("#!/bin/sh\necho 'hcs-ebpf-loader: cannot load: needs CAP_BPF' >&2\nexit 1\n")
    script.chmod(0o755)
    with pytest.raises(SourceError, match=r"exited before it was ready \(exit status 1\).*CAP_BPF"):
        EbpfSource(script).start()


def _poll_until_it_raises(source: EbpfSource) -> None:
    for _ in range(50):
        source.poll(timeout_s=0.1)


def test_a_loader_that_stops_is_reported_by_poll(tmp_path: Path) -> None:
    script = tmp_path / "loader"
    script.write_text(
        "#!/bin/sh\n"
        'echo \'{"type":"attach","program":"printk","ok":true}\'\n'
        'echo \'{"type":"attach","program":"aer","ok":false,"error":"not here"}\'\n'
        'echo \'{"type":"ready"}\'\n'
        'echo \'{"type":"lost","total":3}\'\n'
        "echo 'gone' >&2\n"
    )
    script.chmod(0o755)
    source = EbpfSource(script, clock=lambda: 5.0)
    source.start()
    assert source.attached == {"printk": None, "aer": "not here"}
    with pytest.raises(SourceError, match=r"stopped \(exit status 0\): gone"):
        _poll_until_it_raises(source)
    assert source.lost == 3
