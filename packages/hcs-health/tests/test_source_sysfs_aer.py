"""sysfs AER counters: real file format, deltas between polls, devices without AER noted once."""

from __future__ import annotations

from pathlib import Path

import pytest

from hcs_health.errors import SourceError
from hcs_health.events import EventKind, Severity, Source
from hcs_health.sources.sysfs_aer import SysfsAerSource, parse_counters

# Shape of drivers/pci/pcie/aer.c aer_stats_dev_attr ("%s %llu\n" per named bit, then TOTAL_*).
CORRECTABLE = (
    "RxErr {rx}\nBadTLP {tlp}\nBadDLLP 0\nRollover 0\nTimeout 0\nNonFatalErr 0\nCorrIntErr 0\n"
    "HeaderOF 0\nTOTAL_ERR_COR {total}\n"
)
NONFATAL = "Undefined 0\nDLP 0\nSDES 0\nTLP 0\nFCP 0\nCmpltTO {cto}\nUnsupReq 0\n" + (
    "TOTAL_ERR_NONFATAL {cto}\n"
)
FATAL = "Undefined 0\nDLP {dlp}\nSDES 0\nTLP 0\nFCP 0\nTOTAL_ERR_FATAL {dlp}\n"
GPU = "0000:3b:00.0"


def write(root: Path, rx: int = 0, tlp: int = 0, cto: int = 0, dlp: int = 0) -> None:
    device = root / "sys/bus/pci/devices" / GPU
    device.mkdir(parents=True, exist_ok=True)
    (device / "aer_dev_correctable").write_text(CORRECTABLE.format(rx=rx, tlp=tlp, total=rx + tlp))
    (device / "aer_dev_nonfatal").write_text(NONFATAL.format(cto=cto))
    (device / "aer_dev_fatal").write_text(FATAL.format(dlp=dlp))


def test_parse_counters_old_and_new_names() -> None:
    # older kernels print long names with spaces (Documentation/ABI sysfs-bus-pci-devices-aer_stats)
    text = (
        "Receiver Error 2\nBad TLP 0\nRELAY_NUM Rollover 0\ndev_cor_errs_bit[9] 1\n"
        "TOTAL_ERR_COR 3\n"
    )
    assert parse_counters(text) == {
        "Receiver Error": 2,
        "Bad TLP": 0,
        "RELAY_NUM Rollover": 0,
        "dev_cor_errs_bit[9]": 1,
        "TOTAL_ERR_COR": 3,
    }


@pytest.mark.parametrize(
    "bad", ["RxErr", "RxErr x", "17"], ids=["no-count", "not-a-number", "no-name"]
)
def test_parse_counters_malformed_line_names_file_and_line(bad: str) -> None:
    with pytest.raises(SourceError, match=r"aer_dev_correctable line 2: expected"):
        parse_counters(f"BadTLP 0\n{bad}\n", "aer_dev_correctable")


def test_first_poll_is_baseline_then_deltas(tmp_path: Path) -> None:
    write(tmp_path, rx=5, tlp=1)
    now = [10.0]
    source = SysfsAerSource(tmp_path, lambda: [GPU], clock=lambda: now[0], every_s=0)
    assert source.poll() == []
    write(tmp_path, rx=8, tlp=1, cto=2, dlp=1)
    now[0] = 11.0
    got = {(e.kind, e.severity, e.count, e.message.split(" ")[1]) for e in source.poll()}
    assert got == {
        (EventKind.AER_CORRECTABLE, Severity.INFO, 3, "RxErr"),
        (EventKind.AER_UNCORRECTABLE, Severity.ERROR, 2, "CmpltTO"),
        (EventKind.AER_UNCORRECTABLE, Severity.FATAL, 1, "DLP"),
    }
    events = source.poll()
    assert events == []  # nothing grew since


def test_event_fields(tmp_path: Path) -> None:
    write(tmp_path)
    source = SysfsAerSource(tmp_path, lambda: [GPU], clock=lambda: 3.0, every_s=0)
    source.poll()
    write(tmp_path, tlp=4)
    [event] = source.poll()
    assert (event.pci, event.source, event.at, event.count) == (GPU, Source.SYSFS_AER, 3.0, 4)
    assert event.message == "aer_dev_correctable BadTLP +4 (now 4)"


def test_counter_reset_is_a_new_baseline(tmp_path: Path) -> None:
    write(tmp_path, rx=9)
    source = SysfsAerSource(tmp_path, lambda: [GPU], every_s=0)
    source.poll()
    write(tmp_path, rx=0)  # device re-enumerated after a reset: counters start over
    assert source.poll() == []
    write(tmp_path, rx=2)
    assert [e.count for e in source.poll()] == [2]


def test_device_without_aer_is_noted_once(tmp_path: Path) -> None:
    (tmp_path / "sys/bus/pci/devices/0000:00:01.0").mkdir(parents=True)
    source = SysfsAerSource(tmp_path, lambda: ["0000:00:01.0", "0000:99:00.0"])
    assert source.poll() == []
    assert "no AER capability" in source.unsupported["0000:00:01.0"]
    assert "no such PCI device" in source.unsupported["0000:99:00.0"]


def test_this_machine_real_sysfs() -> None:
    # The dev VM has virtio PCI devices and none of them is AER-capable: all are noted, none fail.
    devices = Path("/sys/bus/pci/devices")
    addresses = sorted(p.name for p in devices.iterdir()) if devices.is_dir() else []
    source = SysfsAerSource(Path("/"), lambda: addresses)
    source.poll()
    with_aer = [a for a in addresses if (devices / a / "aer_dev_correctable").exists()]
    assert sorted(source.unsupported) == sorted(set(addresses) - set(with_aer))


def test_counters_are_read_at_most_every_interval(tmp_path: Path) -> None:
    write(tmp_path, rx=1)
    now = [0.0]
    source = SysfsAerSource(tmp_path, lambda: [GPU], clock=lambda: now[0], every_s=5)
    assert source.poll(0.1) == []  # baseline
    write(tmp_path, rx=4)
    now[0] = 2.0
    assert source.poll(0.1) == [], "2 s after the last read: not read again yet"
    now[0] = 5.0
    assert [e.count for e in source.poll(0.1)] == [3]
