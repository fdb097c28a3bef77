"""One quota is shared by every process of a container: races, dead processes, fork."""

from __future__ import annotations

import signal
import subprocess

from harness import Harness, MiB

QUOTA = {"HCS_VRAM_QUOTA": "64Mi"}


def read_until(proc: subprocess.Popen[str], marker: str) -> list[str]:
    """Lines of `proc`'s stdout up to and including the first one equal to `marker`."""
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if lines[-1] == marker:
            return lines
    raise AssertionError(f"{marker!r} never came: {lines}")


def finish(proc: subprocess.Popen[str]) -> str:
    """Closes the probe's stdin (ending its `wait` step); returns the rest of its stderr."""
    return proc.communicate(timeout=30)[1]


def test_eight_racing_processes_never_exceed_the_quota(hx: Harness) -> None:
    paths = ["path=dlsym", "path=proc:12000", "path=proc:13000:ptds", "path=default"]
    procs = [
        hx.popen("probe_cuda", paths[i % 4], "fill:mem:1M", "info", "wait", quota=QUOTA)
        for i in range(8)
    ]
    try:
        outputs = [read_until(p, "ready") for p in procs]
    finally:
        for p in procs:
            finish(p)
    counts = [int(line.split("count=")[1]) for out in outputs for line in out if "count=" in line]
    assert sum(counts) == 64, counts  # every MiB used, not one more
    # Every process saw the container full when it stopped.
    assert all("free=0 " in line for out in outputs for line in out if line.startswith("info"))


def test_racing_threads_never_exceed_the_quota_and_free_everything(hx: Harness) -> None:
    r = hx.run("probe_cuda", "threads:8:1M", "info", "freeall", "info", quota=QUOTA)
    assert r.field("threads", "count") == [64]
    assert r.field("info", "free") == [0, 64 * MiB]


def test_two_processes_share_one_quota(hx: Harness) -> None:
    first = hx.popen("probe_cuda", "alloc:mem:40M", "wait", quota=QUOTA)
    try:
        read_until(first, "ready")
        r = hx.run("probe_cuda", "info", "alloc:mem:32M", "alloc:mem:24M", quota=QUOTA)
    finally:
        finish(first)
    assert r.field("info", "free") == [24 * MiB]
    assert r.field("alloc", "rc") == [2, 0]
    assert f"{40 * MiB} bytes in use by this container" in r.stderr


def test_process_killed_mid_allocation_is_reclaimed(hx: Harness) -> None:
    victim = hx.popen(
        "probe_cuda",
        "alloc:mem:16M",
        "alloc:mem:32M",
        quota=QUOTA,
        extra={"HCS_STUB_ALLOC_SLEEP_MS": "300"},
    )
    read_until(victim, "stub: allocating")
    read_until(victim, "alloc mem rc=0")
    read_until(victim, "stub: allocating")  # 16 MiB held, 32 MiB reserved, the device call running
    during = hx.run("probe_cuda", "info", quota=QUOTA)
    victim.send_signal(signal.SIGKILL)
    finish(victim)
    after = hx.run("probe_cuda", "info", "fill:mem:4M", quota=QUOTA)
    assert during.field("info", "free") == [16 * MiB]  # the reservation counts while it is alive
    assert after.field("info", "free") == [64 * MiB]
    assert after.field("fill", "count") == [16]


def test_killed_process_is_reclaimed_before_it_is_reaped(hx: Harness) -> None:
    victim = hx.popen("probe_cuda", "alloc:mem:48M", "wait", quota=QUOTA)
    read_until(victim, "ready")
    victim.send_signal(signal.SIGKILL)
    try:
        # Not waited for yet: the victim is a zombie, which holds no device memory.
        for _ in range(200):
            with open(f"/proc/{victim.pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        r = hx.run("probe_cuda", "fill:mem:4M", quota=QUOTA)
    finally:
        finish(victim)
    assert r.field("fill", "count") == [16]


def test_forked_child_has_its_own_slot_in_the_shared_quota(hx: Harness) -> None:
    r = hx.run("probe_cuda", "alloc:mem:32M", "forkalloc:32M", "forkalloc:48M", "info", quota=QUOTA)
    # The first child fits beside its parent; the second does not; dead children are reclaimed.
    assert r.field("child", "rc") == [0, 2]
    assert r.field("info", "free") == [32 * MiB]


def test_region_is_created_once_and_reused(hx: Harness) -> None:
    hx.run("probe_cuda", "alloc:mem:1M", quota=QUOTA)
    assert hx.region.stat().st_mode & 0o777 == 0o666  # every user of the container can attach
    r = hx.run("probe_cuda", "info", quota=QUOTA)
    assert r.field("info", "free") == [64 * MiB]  # the first process is gone: reclaimed


def test_exec_returns_the_slot_of_the_program_it_replaced(hx: Harness) -> None:
    # Same PID, same start time: only the new program knows the old one's memory is gone.
    r = hx.run("probe_cuda", "alloc:mem:48M", "execself", "info", "alloc:mem:32M", quota=QUOTA)
    assert r.field("info", "free") == [64 * MiB]
    assert r.field("alloc", "rc") == [0, 0]


def test_process_dying_inside_the_lock_does_not_wedge_the_container(hx: Harness) -> None:
    hx.run("probe_cuda", "alloc:mem:16M", quota=QUOTA)  # creates the region
    died = subprocess.run(
        [str(hx.bins / "prog_lock_and_die"), str(hx.region)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert died.stdout == "locked\n"
    r = hx.run("probe_cuda", "alloc:mem:16M", "info", quota=QUOTA, timeout=30)
    assert r.field("alloc", "rc") == [0]  # EOWNERDEAD: the lock is made consistent and taken
    assert r.field("info", "free") == [48 * MiB]
