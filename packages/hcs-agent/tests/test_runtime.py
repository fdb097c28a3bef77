"""The node's runtime directory: the interposer, the local vendor's driver bind-mounted for real,
one lib/ of relative links for LD_LIBRARY_PATH; running it again changes nothing. The bind
mounts are real, so these tests run as root (as CI and `make test` here do)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hcs_agent import runtime


def host_with_ascend(root: Path) -> Path:
    driver = root / "host" / "usr/local/Ascend/driver"
    for sub, name in (("lib64", "libascendcl.so"), ("lib64/driver", "libdrvdsmi_host.so.1")):
        (driver / sub).mkdir(parents=True, exist_ok=True)
        (driver / sub / name).write_text(f"ELF {name}")
    (driver / "lib64" / "README").write_text("not a library")
    return root / "host"


def layout(root: Path) -> runtime.Layout:
    interceptor = root / "image" / "libhcs_interceptor.so"
    interceptor.parent.mkdir(parents=True, exist_ok=True)
    interceptor.write_bytes(b"\x7fELF interposer")
    return runtime.Layout(root / "runtime", host_with_ascend(root), interceptor)


def test_the_plan_binds_the_vendors_present_and_links_their_libraries(tmp_path):
    plan = runtime.plan(layout(tmp_path), runtime.listing)
    assert plan.binds == [
        (tmp_path / "host/usr/local/Ascend/driver", tmp_path / "runtime/drivers/ascend")
    ]
    assert plan.links == {
        "libascendcl.so": "../drivers/ascend/lib64/libascendcl.so",
        "libdrvdsmi_host.so.1": "../drivers/ascend/lib64/driver/libdrvdsmi_host.so.1",
    }
    assert plan.preload == (
        tmp_path / "runtime/ld.so.preload",
        "/usr/local/hcs/lib/libhcs_interceptor.so\n",
    )
    nothing = runtime.plan(runtime.Layout(tmp_path / "r", tmp_path / "empty"), runtime.listing)
    assert (nothing.binds, nothing.links) == ([], {})  # no vendor driver: only the interposer


@pytest.fixture
def prepared(tmp_path):
    paths = layout(tmp_path)
    yield paths
    mount = paths.runtime_dir / "drivers" / "ascend"
    if runtime.is_mount_point(mount):
        subprocess.run(["umount", str(mount)], check=True)


def test_apply_mounts_for_real_and_a_second_run_changes_nothing(prepared):
    plan = runtime.plan(prepared, runtime.listing)
    done = runtime.apply(plan, runtime.is_mount_point, runtime.bind_mount)
    assert any(line.startswith("bind-mounted") for line in done)
    lib = prepared.runtime_dir / "lib"
    assert (lib / "libhcs_interceptor.so").read_bytes() == b"\x7fELF interposer"
    assert (lib / "libascendcl.so").read_text() == "ELF libascendcl.so"  # through the mount
    assert os.readlink(lib / "libascendcl.so") == "../drivers/ascend/lib64/libascendcl.so"
    assert runtime.is_mount_point(prepared.runtime_dir / "drivers" / "ascend")
    with pytest.raises(OSError, match="Read-only file system"):  # the node's driver stays
        (prepared.runtime_dir / "drivers/ascend/lib64/x.so").write_text("x")
    assert runtime.apply(plan, runtime.is_mount_point, runtime.bind_mount) == []
    # The driver gone from the node: its links go with it, the interposer stays.
    gone = runtime.Plan(copy=plan.copy, preload=plan.preload)
    done = runtime.apply(gone, runtime.is_mount_point, runtime.bind_mount)
    assert sorted(p.name for p in lib.iterdir()) == ["libhcs_interceptor.so"]
    assert len(done) == 2


def test_a_missing_interposer_is_named(tmp_path):
    paths = runtime.Layout(tmp_path / "runtime", tmp_path, tmp_path / "nowhere.so")
    with pytest.raises(runtime.RuntimeDirError, match=r"nowhere.so is not readable"):
        runtime.apply(runtime.plan(paths, runtime.listing), runtime.is_mount_point, lambda *a: None)


def test_a_refused_mount_says_what_it_needs(tmp_path, monkeypatch):
    def refuse(argv, **kwargs):
        return subprocess.CompletedProcess(argv, 32, "", "mount: permission denied")

    monkeypatch.setattr(runtime.subprocess, "run", refuse)
    with pytest.raises(runtime.RuntimeDirError, match=r"permission denied.*CAP_SYS_ADMIN"):
        runtime.bind_mount(tmp_path, tmp_path / "x")


def test_the_command_prepares_then_reports_up_to_date(prepared):
    argv = [sys.executable, "-m", "hcs_agent", "runtime", "--runtime-dir",
            str(prepared.runtime_dir), "--host-root", str(prepared.host_root),
            "--interceptor", str(prepared.interceptor)]  # fmt: skip
    first = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert "bind-mounted" in first.stdout
    again = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert again.stdout.strip() == f"{prepared.runtime_dir} is up to date"
    missing = subprocess.run([*argv[:-1], "/nowhere.so"], capture_output=True, text=True)
    assert missing.returncode == 2
    assert "hcs-agent: the interposer /nowhere.so is not readable" in missing.stderr
