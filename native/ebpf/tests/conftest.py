"""Finds (or builds) hcs-ebpf-loader, opens /dev/kmsg to every line, and starts loaders.

The loader under test is HCS_EBPF_LOADER (Bazel passes its own build); without it,
`make -C native/ebpf` builds one. These tests load real BPF programs: where that is refused
(not root, BPF locked down) they FAIL with the reason, unless HCS_EBPF_ALLOW_SKIP=1 is set.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the test modules import harness.py (pytest runs in importlib mode)


from harness import BpfRefused, Loader  # noqa: E402

DEVKMSG = Path("/proc/sys/kernel/printk_devkmsg")


def _refused(reason: str) -> None:
    if os.environ.get("HCS_EBPF_ALLOW_SKIP") == "1":
        pytest.skip(reason)
    pytest.fail(f"{reason} (set HCS_EBPF_ALLOW_SKIP=1 to skip where BPF is not allowed)")


@pytest.fixture(scope="session")
def loader_binary() -> Path:
    explicit = os.environ.get("HCS_EBPF_LOADER")
    if explicit:
        return Path(explicit).resolve()
    root = HERE.parent
    subprocess.run(["make", "-s", "-C", str(root)], check=True)
    return root / "build" / "hcs-ebpf-loader"


@pytest.fixture(scope="session")
def kmsg_open() -> Iterator[None]:
    """printk.devkmsg=on for the session (ratelimit would drop a burst of test lines)."""
    if os.geteuid() != 0:
        _refused(f"not root (euid {os.geteuid()}): loading BPF needs CAP_BPF and CAP_PERFMON")
    before = DEVKMSG.read_text().strip()
    try:
        DEVKMSG.write_text("on\n")
    except OSError as exc:  # locked by printk.devkmsg= on the kernel command line
        if before != "on":
            pytest.fail(f"cannot set {DEVKMSG} to 'on' (it is {before!r}): {exc}")
    yield
    with contextlib.suppress(OSError):
        DEVKMSG.write_text(before + "\n")


@pytest.fixture
def start_loader(loader_binary: Path, kmsg_open: None) -> Iterator[Callable[..., Loader]]:
    """Starts a loader with the given arguments; every one started is stopped (SIGTERM) after
    the test, which also proves the loader exits 0 on SIGTERM."""
    started: list[Loader] = []

    def start(*args: str) -> Loader:
        try:
            loader = Loader(loader_binary, list(args))
        except BpfRefused as exc:
            _refused(str(exc))
        started.append(loader)
        return loader

    yield start
    statuses = [loader.stop() for loader in started]
    assert statuses == [0] * len(started), f"loader exit statuses on SIGTERM: {statuses}"
