"""The CUDA quota holds on every allocation path (direct, dlsym, cuGetProcAddress) and API."""

from __future__ import annotations

import pytest
from harness import Harness, MiB

QUOTA = {"HCS_VRAM_QUOTA": "64Mi"}
OOM = 2  # CUDA_ERROR_OUT_OF_MEMORY

PATHS = {
    "direct": ("probe_cuda_linked", "path=direct"),
    "dlsym": ("probe_cuda", "path=dlsym"),
    "rtld-default": ("probe_cuda_linked", "path=default"),
    "getproc-v1-11.3": ("probe_cuda", "path=proc:11030:v1"),
    "getproc-v2-12.0": ("probe_cuda", "path=proc:12000"),
    "getproc-v2-12.8-ptds": ("probe_cuda", "path=proc:12080:ptds"),
    "getproc-v2-13.0": ("probe_cuda", "path=proc:13000"),
}
APIS = ["mem", "pitch", "managed", "create", "async", "pool"]


def chunks_that_fit(api: str, chunk: int = 4 * MiB) -> int:
    """How many `chunk` allocations fit in 64 MiB (pitch pads each row to 512 bytes)."""
    if api == "pitch":
        width = chunk // 4 + 100
        chunk = (width + 511) // 512 * 512 * 4
    return 64 * MiB // chunk


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_quota_holds_on_every_path_and_api(hx: Harness, path: tuple[str, str], api: str) -> None:
    prog, mode = path
    r = hx.run(prog, mode, f"fill:{api}:4M", "info", "freeall", "info", quota=QUOTA)
    assert r.field("fill", "count") == [chunks_that_fit(api)], r.stdout + r.stderr
    free, total = r.field("info", "free"), r.field("info", "total")
    assert total == [64 * MiB, 64 * MiB]
    assert free[0] < 4 * MiB  # full up to less than one chunk
    assert free[1] == 64 * MiB  # every free credited the right amount
    assert r.field("freeall", "failed") == [0]


def test_refusal_returns_oom_allocates_nothing_and_says_which_quota(hx: Harness) -> None:
    r = hx.run("probe_cuda", "alloc:mem:48M", "alloc:mem:32M", "stubused", quota=QUOTA)
    assert r.field("alloc", "rc") == [0, OOM]
    assert r.field("stubused", "dev0") == [48 * MiB]  # the refused call never reached the device
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert "cuMemAlloc_v2 of 33554432 bytes on device 0 refused" in lines[0]
    assert "HCS_VRAM_QUOTA=64Mi (67108864 bytes)" in lines[0]


def test_single_allocation_larger_than_quota_is_refused(hx: Harness) -> None:
    r = hx.run("probe_cuda", "alloc:mem:65M", "alloc:mem:64M", quota=QUOTA)
    assert r.field("alloc", "rc") == [OOM, 0]


def test_mem_get_info_reports_the_slice(hx: Harness) -> None:
    r = hx.run("probe_cuda", "info", "alloc:mem:16M", "info", quota=QUOTA)
    assert r.field("info", "total") == [64 * MiB, 64 * MiB]
    assert r.field("info", "free") == [64 * MiB, 48 * MiB]


def test_mem_get_info_never_promises_more_than_the_device_has(hx: Harness) -> None:
    r = hx.run(
        "probe_cuda", "alloc:mem:16M", "info", quota=QUOTA, extra={"HCS_STUB_VRAM": str(32 * MiB)}
    )
    assert r.field("info", "total") == [32 * MiB]
    assert r.field("info", "free") == [16 * MiB]


def test_per_device_quota_overrides_the_all_device_one(hx: Harness) -> None:
    quota = {"HCS_VRAM_QUOTA": "64Mi", "HCS_VRAM_QUOTA_1": "16Mi"}
    r = hx.run("probe_cuda", "dev=1", "fill:mem:4M", "info", "dev=0", "fill:mem:4M", quota=quota)
    assert r.field("fill", "count") == [4, 16]
    assert "HCS_VRAM_QUOTA_1=16Mi" in r.stderr.splitlines()[0]


def test_device_without_quota_is_not_limited(hx: Harness) -> None:
    r = hx.run(
        "probe_cuda",
        "dev=1",
        "fill:mem:4M",
        "info",
        quota={"HCS_VRAM_QUOTA_0": "16Mi"},
        extra={"HCS_STUB_VRAM": str(128 * MiB)},
    )
    assert r.field("fill", "count") == [32]  # up to the (fake) device's own size
    assert r.field("info", "total") == [128 * MiB]
    assert r.stderr == ""


def test_vmm_handles_are_accounted_on_the_property_device(hx: Harness) -> None:
    quota = {"HCS_VRAM_QUOTA_0": "64Mi", "HCS_VRAM_QUOTA_1": "8Mi"}
    r = hx.run(
        "probe_cuda",
        "dev=1",
        "alloc:create:8M",
        "alloc:create:1M",
        "free",
        "free",
        "alloc:create:8M",
        quota=quota,
    )
    assert r.field("alloc", "rc") == [0, OOM, 0]
    assert r.field("free", "rc") == [0]


def test_host_located_vmm_allocations_are_not_vram(hx: Harness) -> None:
    r = hx.run("probe_cuda", "alloc:hostcreate:100M", quota=QUOTA)
    assert r.field("alloc", "rc") == [0]


def test_nested_vendor_call_is_counted_once(hx: Harness) -> None:
    # The stub's cuMemAllocManaged calls cuMemAlloc_v2 through its PLT, i.e. the interceptor.
    r = hx.run("probe_cuda", "alloc:managed:40M", "info", quota=QUOTA)
    assert r.field("alloc", "rc") == [0]
    assert r.field("info", "free") == [24 * MiB]


def test_pitch_padding_is_counted(hx: Harness) -> None:
    r = hx.run("probe_cuda", "alloc:pitch:4M", "info", quota=QUOTA)
    pitch = (4 * MiB // 4 + 100 + 511) // 512 * 512
    assert r.field("info", "free") == [64 * MiB - pitch * 4]


LOOKUPS = [
    ("path=dlsym", "which:cuMemAlloc_v2", "libhcs_interceptor.so"),
    ("path=dlsym", "which:cuCtxGetDevice", "libcuda.so.1"),
    ("path=proc:12000", "which:cuMemAlloc", "libhcs_interceptor.so"),
    ("path=proc:12000", "which:cuGetProcAddress", "libhcs_interceptor.so"),
    ("path=proc:11030:v1", "which:cuGetProcAddress", "libhcs_interceptor.so"),
    ("path=proc:12000", "which:cuCtxGetDevice", "libcuda.so.1"),
    ("path=proc:12000", "which:cuInit", "libcuda.so.1"),
    ("path=proc:3000", "which:cuMemAlloc", "libcuda.so.1"),  # the 32-bit ABI: not ours
    ("path=proc:14000", "which:cuMemAlloc", "libhcs_interceptor.so"),  # same function: wrapped
    ("path=proc:99000", "which:cuMemAlloc", "libcuda.so.1"),  # an unknown variant: untouched
    ("path=proc:12000", "which:cuNoSuchThing", "none"),
]


@pytest.mark.parametrize(
    ("path", "step", "owner"), LOOKUPS, ids=[f"{p}-{s}" for p, s, _ in LOOKUPS]
)
def test_lookups_return_wrappers_only_for_hooked_entry_points(
    hx: Harness, path: str, step: str, owner: str
) -> None:
    r = hx.run("probe_cuda", path, step, quota=QUOTA)
    assert r.lines == [f"{step.replace(':', ' ', 1)} {owner}"]


def test_unknown_future_variant_is_reported(hx: Harness) -> None:
    r = hx.run("probe_cuda", "path=proc:99000", "which:cuMemAlloc", quota=QUOTA)
    assert "variant this interceptor does not know" in r.stderr


def test_errno_is_preserved(hx: Harness) -> None:
    r = hx.run("probe_cuda", "errno:mem:1M", "fill:mem:8M", "errno:mem:8M", "info", quota=QUOTA)
    assert r.lines[0] == "errno rc=0 preserved"  # first call: initialisation, region creation
    assert r.lines[2] == f"errno rc={OOM} preserved"  # refusal: message, dead-slot scan
