"""hcs-ebpf-loader, for real: driver lines and slow vendor ioctls arrive, everything else not."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import subprocess
import tempfile
import termios
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import Loader, fixture_lines, write_kmsg

# The tags the printk program keeps (README.md, "What each program watches").
TAGS = [
    "NVRM",
    "nvidia",
    "amdgpu",
    "kfd",
    "[drm",
    "davinci",
    "devdrv",
    "devmm",
    "drv_pcie",
    "tsdrv",
    "[ascend]",
    "cambricon",
    "cndrv",
    "pcieport",
    "AER:",
    "Xid",
    "PCIe Bus Error",
]
FIXTURES = [
    "dmesg-ctime-xid31-mmu-fault-xid109_gpud-readme.txt",
    "journal-xid79-fallen-off-bus_rtx5070ti_open-gpu-kernel-modules-1010.txt",
    "syslog-xid48-dbe-xid64-rminitadapter_gpu-operator-1146.txt",
    "dmesg-ascend-devmm-davinci-intf-devdrv-release_atlas200-ep_ascend-samples-16.txt",
    "dmesg-amdgpu-ras-aca-ue-athub-xgmi-wafl-ce-mode1-reset_mi300x-8gpu_rocm6.2.3_rocm-4021.txt",
    "syslog-pcieport-aer-corrected-rxerr-nvme_dell-latitude-5410_linux-pci-2021.txt",
    "dmesg-pcieport-aer-badtlp-data-link-layer_3090-multigpu_hitorilabs-navi.txt",
]
StartLoader = Callable[..., Loader]


def is_driver_line(text: str) -> bool:
    head = text.encode()[: 128 + 15]
    return any(head.find(tag.encode()) in range(128) for tag in TAGS)


def marker() -> str:
    return f"NVRM: hcs test marker {uuid.uuid4().hex}"


def printk_texts(events: list[dict[str, object]]) -> list[str]:
    return [str(ev["msg"]) for ev in events if ev["type"] == "printk"]


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.split("_")[0] for f in FIXTURES])
def test_real_driver_lines_arrive_and_other_lines_do_not(
    start_loader: StartLoader, fixture: str
) -> None:
    loader = start_loader("--no-ioctl", "--coalesce-ms", "0")  # each repeat counted as a line
    lines = [*fixture_lines(fixture), "hcs test: ordinary line"]
    end = marker()
    for text in [*lines, end]:
        write_kmsg(text)
    got = Counter(printk_texts(loader.collect_until(end)))
    driver = Counter(t[:255] for t in lines if is_driver_line(t))
    other = {t for t in lines if not is_driver_line(t)}
    assert driver, "a fixture without driver lines proves nothing"
    assert got & driver == driver, f"driver lines missing: {driver - got}"
    assert other.isdisjoint(got), f"non-driver lines delivered: {other & set(got)}"


def test_unusual_bytes_survive_as_valid_json(start_loader: StartLoader) -> None:
    loader = start_loader("--no-ioctl")
    text = 'NVRM: quote " backslash \\ tab \t braces {} ü end'
    end = marker()
    write_kmsg(text)
    write_kmsg(end)
    assert printk_texts(loader.collect_until(end)) == [text, end]


def test_a_long_line_is_cut_to_255_bytes(start_loader: StartLoader) -> None:
    loader = start_loader("--no-ioctl")
    text = "NVRM: Xid (PCI:0000:3b:00): 13, " + "x" * 400
    end = marker()
    write_kmsg(text)
    write_kmsg(end)
    assert printk_texts(loader.collect_until(end)) == [text[:255], end]


def occurrences(events: list[dict[str, object]], text: str) -> list[int]:
    """The count each record of `text` stands for, in arrival order (no count: one)."""
    return [int(str(ev.get("count", 1))) for ev in events if ev.get("msg") == text]


def test_repeated_lines_arrive_once_then_as_a_count(start_loader: StartLoader) -> None:
    loader = start_loader("--no-ioctl")
    text, other = f"NVRM: hcs flood {uuid.uuid4().hex}", f"NVRM: hcs other {uuid.uuid4().hex}"
    end = marker()
    for _ in range(100):
        write_kmsg(text)
    write_kmsg(other)
    write_kmsg(end)
    first = loader.collect_until(end)
    assert occurrences(first, text)[:1] == [1], "the first occurrence is not sent at once"
    assert "count" not in next(ev for ev in first if ev.get("msg") == text)
    assert occurrences(first, other) == [1]
    counts = occurrences(first + loader.collect_for(1.0), text)
    assert sum(counts) == 100, f"occurrences lost or doubled: {counts}"
    assert len(counts) <= 4, f"100 lines within one window should be few records: {counts}"


def test_coalescing_off_sends_every_line(start_loader: StartLoader) -> None:
    loader = start_loader("--no-ioctl", "--coalesce-ms", "0", "--batch-ms", "0")
    text, end = f"NVRM: hcs flood {uuid.uuid4().hex}", marker()
    for _ in range(100):
        write_kmsg(text)
    write_kmsg(end)
    assert occurrences(loader.collect_until(end), text) == [1] * 100


def test_repeated_slow_ioctls_are_counted_by_file_and_command(
    start_loader: StartLoader, tmp_path: Path
) -> None:
    loader = start_loader("--ioctl-slow-us", "0", "--no-aer", "--no-printk")
    path = tmp_path / "nvidia0"
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    fd = os.open(path, os.O_RDWR)
    try:
        for cmd in [termios.TCGETS] * 20 + [termios.FIONREAD]:
            with contextlib.suppress(OSError):  # ENOTTY: the latency is what counts
                fcntl.ioctl(fd, cmd, bytes(64))
    finally:
        os.close(fd)
    got = ioctl_events(loader.collect_for(1.0))
    by_cmd = Counter[int]()
    for ev in got:
        by_cmd[int(str(ev["cmd"]))] += int(str(ev.get("count", 1)))
    assert by_cmd == {termios.TCGETS: 20, termios.FIONREAD: 1}
    assert len(got) <= 5, f"20 repeats within one window should be few records: {got}"


def ioctl_on(directory: Path, name: str) -> None:
    """An ioctl on a char device named `name` that is /dev/null underneath (1:3)."""
    path = directory / name
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.ioctl(fd, termios.TCGETS, bytes(64))
    except OSError:
        pass  # ENOTTY: the latency is what counts, not the answer
    finally:
        os.close(fd)


def ioctl_events(events: list[dict[str, object]]) -> list[dict[str, object]]:
    return [ev for ev in events if ev["type"] == "ioctl" and ev["pid"] == os.getpid()]


def test_ioctl_on_a_vendor_file_is_reported(start_loader: StartLoader, tmp_path: Path) -> None:
    loader = start_loader("--ioctl-slow-us", "0", "--no-aer")
    ioctl_on(tmp_path, "nvidia0")
    ioctl_on(tmp_path, "ttyfake0")
    end = marker()
    write_kmsg(end)
    got = ioctl_events(loader.collect_until(end))
    assert [(ev["file"], ev["cmd"]) for ev in got] == [("nvidia0", termios.TCGETS)]
    assert got[0]["comm"] == Path("/proc/self/comm").read_text().strip()


def test_device_prefix_replaces_the_default_list(start_loader: StartLoader, tmp_path: Path) -> None:
    loader = start_loader("--ioctl-slow-us", "0", "--device-prefix", "hcsdev")
    ioctl_on(tmp_path, "nvidia0")
    ioctl_on(tmp_path, "hcsdev3")
    end = marker()
    write_kmsg(end)
    assert [ev["file"] for ev in ioctl_events(loader.collect_until(end))] == ["hcsdev3"]


def test_a_fast_ioctl_stays_under_the_default_threshold(
    start_loader: StartLoader, tmp_path: Path
) -> None:
    loader = start_loader()
    ioctl_on(tmp_path, "nvidia0")
    end = marker()
    write_kmsg(end)
    assert ioctl_events(loader.collect_until(end)) == []


def test_aer_attach_status_is_reported(start_loader: StartLoader) -> None:
    loader = start_loader()
    # ras:aer_event cannot be fired from user space: only its attach status is checked here.
    exists = Path("/sys/kernel/tracing/events/ras/aer_event").exists()
    aer = loader.attach["aer"]
    assert aer["ok"] is exists
    if not exists:
        assert aer["error"] == (
            "tracepoint ras:aer_event not found (kernel built without CONFIG_PCIEAER?)"
        )
    assert loader.attach["printk"] == {"type": "attach", "program": "printk", "ok": True}
    assert loader.attach["ioctl"]["ok"] is True


def test_turned_off_programs_say_so_and_stay_off(start_loader: StartLoader) -> None:
    loader = start_loader("--no-printk", "--no-aer", "--ioctl-slow-us", "0")
    assert loader.attach["printk"]["error"] == "turned off (--no-printk)"
    assert loader.attach["aer"]["error"] == "turned off (--no-aer)"
    write_kmsg("NVRM: Xid (PCI:0000:3b:00): 79, pid=1, GPU has fallen off the bus.")
    with pytest.raises(AssertionError, match="not received"):
        loader.collect_until("never", timeout_s=0.5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ioctl-slow-us", "abc"], "--ioctl-slow-us wants microseconds"),
        (["--device-prefix", "x" * 16], "--device-prefix wants 1 to 15 characters"),
        (["--no-printk", "--no-aer", "--no-ioctl"], "every program is turned off"),
        (["--coalesce-ms", "-1"], "--coalesce-ms wants milliseconds (0 to 60000)"),
        (["--batch-ms", "5000"], "--batch-ms wants milliseconds (0 to 1000)"),
    ],
    ids=["bad-threshold", "long-prefix", "all-off", "bad-window", "long-batch"],
)
def test_bad_options_stop_with_a_message(
    loader_binary: Path, args: list[str], message: str
) -> None:
    run = subprocess.run([str(loader_binary), *args], capture_output=True, text=True, timeout=10)
    assert run.returncode == 2
    assert message in run.stderr
    assert run.stdout == ""


def test_without_privilege_it_names_the_capabilities(loader_binary: Path, kmsg_open: None) -> None:
    with tempfile.TemporaryDirectory() as where:  # pytest's tmp_path is closed to others
        Path(where).chmod(0o755)
        copy = Path(where) / "loader"
        shutil.copy(loader_binary, copy)
        copy.chmod(0o755)
        run = subprocess.run(
            [str(copy)],
            capture_output=True,
            text=True,
            timeout=10,
            user=65534,
            group=65534,
            extra_groups=[],
        )
    assert run.returncode == 1
    assert "needs CAP_BPF and CAP_PERFMON (or root)" in run.stderr.splitlines()[-1]


def test_it_exits_0_when_its_reader_goes_away(loader_binary: Path, kmsg_open: None) -> None:
    proc = subprocess.Popen([str(loader_binary)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    assert b'"attach"' in proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=5) == 0
