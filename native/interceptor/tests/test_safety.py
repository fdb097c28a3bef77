"""Safe as a preload: pass-through without a quota, CPU-only programs untouched, fail closed."""

from __future__ import annotations

import subprocess
import sys

from harness import Harness, MiB

QUOTA = {"HCS_VRAM_QUOTA": "64Mi"}


def test_without_quota_everything_passes_through_and_nothing_is_created(hx: Harness) -> None:
    r = hx.run("probe_cuda", "path=proc:12000", "which:cuMemAlloc", "fill:mem:64M", "info")
    assert r.lines[0] == "which cuMemAlloc libcuda.so.1"  # the driver's own pointer
    assert r.field("fill", "count") == [16]  # the whole (fake) 1 GiB device
    assert r.field("info", "total") == [1024 * MiB]
    assert r.stderr == ""
    assert not hx.region.exists()


def test_dlsym_without_quota_returns_the_vendor_function(hx: Harness) -> None:
    r = hx.run("probe_cuda", "path=dlsym", "which:cuMemAlloc_v2")
    assert r.lines == ["which cuMemAlloc_v2 libcuda.so.1"]


def test_cpu_only_programs_run_unaffected(hx: Harness) -> None:
    env = hx.env(quota=QUOTA)
    env["LD_LIBRARY_PATH"] = ""  # no vendor library anywhere
    for cmd in (["true"], ["sh", "-c", "echo hello"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        assert (done.returncode, done.stderr) == (0, "")
    script = "import ctypes, json; print(json.dumps(ctypes.CDLL(None).getpid() > 0))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "true\n", "")
    assert not hx.region.exists()  # nothing allocated, nothing created


def test_missing_vendor_library_is_not_an_error(hx: Harness) -> None:
    env = hx.env(quota=QUOTA)
    env["LD_LIBRARY_PATH"] = ""
    done = subprocess.run(
        [str(hx.bins / "probe_cuda"), "info"], env=env, capture_output=True, text=True, check=False
    )
    assert done.stdout.startswith("no libcuda")  # the program's own handling, nothing of ours
    assert done.stderr == ""


def test_rtld_next_keeps_meaning_for_other_interposers(hx: Harness) -> None:
    env = hx.env(quota=QUOTA)
    env["LD_PRELOAD"] = f"{hx.so} {hx.bins / 'libchain_shim.so'}"
    done = subprocess.run(
        [str(hx.bins / "prog_chain")], env=env, capture_output=True, text=True, check=False
    )
    assert done.stdout == "chain=42\n", done.stderr


def test_invalid_quota_fails_closed_with_a_clear_message(hx: Harness) -> None:
    r = hx.run("probe_cuda", "alloc:mem:1M", "info", quota={"HCS_VRAM_QUOTA": "lots"})
    assert r.field("alloc", "rc") == [2]
    assert r.field("info", "free") == [0]
    assert "HCS_VRAM_QUOTA=lots is invalid (no number)" in r.stderr
    assert "fail closed" in r.stderr


def test_malformed_per_device_variable_fails_closed(hx: Harness) -> None:
    r = hx.run("probe_cuda", "alloc:mem:1M", quota={"HCS_VRAM_QUOTA_x": "1Gi"})
    assert r.field("alloc", "rc") == [2]
    assert "HCS_VRAM_QUOTA_x=1Gi is invalid" in r.stderr


def test_unusable_region_fails_closed(hx: Harness) -> None:
    r = hx.run(
        "probe_cuda",
        "alloc:mem:1M",
        quota=QUOTA,
        extra={"HCS_SHM_PATH": str(hx.region / "missing-dir" / "region")},
    )
    assert r.field("alloc", "rc") == [2]
    assert "is unusable (open: No such file or directory)" in r.stderr


def test_region_of_another_layout_is_refused_not_overwritten(hx: Harness) -> None:
    hx.region.write_bytes(b"x" * 100)
    r = hx.run("probe_cuda", "alloc:mem:1M", quota=QUOTA)
    assert r.field("alloc", "rc") == [2]
    assert "another interceptor version" in r.stderr
    assert hx.region.read_bytes() == b"x" * 100
