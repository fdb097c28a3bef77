"""ACL, HIP and CNRT allocations obey the quota like CUDA's; NVML shows the slice."""

from __future__ import annotations

import pytest
from harness import Harness, MiB

QUOTA = {"HCS_VRAM_QUOTA": "64Mi"}

# vendor -> (its out-of-memory code, allocation kinds to try, name in the refusal message)
VENDORS = {
    "acl": (207001, ["plain", "cached"], "aclrtMalloc"),
    "hip": (2, ["plain", "managed"], "hipMalloc"),
    "cnrt": (100100, ["plain"], "cnrtMalloc"),
}
CASES = [
    (v, k, p) for v, (_, kinds, _) in VENDORS.items() for k in kinds for p in ("direct", "dlsym")
]


@pytest.mark.parametrize(("vendor", "kind", "path"), CASES, ids=["-".join(c) for c in CASES])
def test_quota_holds(hx: Harness, vendor: str, kind: str, path: str) -> None:
    oom = VENDORS[vendor][0]
    r = hx.run(
        "probe_vendor",
        vendor,
        f"path={path}",
        f"fill:{kind}:4M",
        "info",
        f"alloc:{kind}:4M",
        "free",
        "info",
        quota=QUOTA,
    )
    # cached / managed are implemented through plain in the stubs: counted once, not twice
    assert r.field("fill", "count") == [16], r.stdout + r.stderr
    assert r.field("alloc", "rc") == [oom]
    assert r.field("info", "total") == [64 * MiB, 64 * MiB]
    assert r.field("info", "free") == [0, 4 * MiB]  # a free credits its bytes back
    refusals = r.stderr.splitlines()
    assert len(refusals) == 2
    assert all("HCS_VRAM_QUOTA=64Mi" in line for line in refusals)


@pytest.mark.parametrize("vendor", VENDORS)
def test_current_device_picks_the_quota(hx: Harness, vendor: str) -> None:
    quota = {"HCS_VRAM_QUOTA_0": "64Mi", "HCS_VRAM_QUOTA_1": "8Mi"}
    r = hx.run("probe_vendor", vendor, "dev=1", "fill:plain:4M", "info", quota=quota)
    assert r.field("fill", "count") == [2]
    assert r.field("info", "total") == [8 * MiB]


def test_acl_partial_memory_attributes_are_left_alone(hx: Harness) -> None:
    r = hx.run("probe_vendor", "acl", "info:1", "info:0", "info:4", quota=QUOTA)
    assert r.field("info", "total") == [64 * MiB, 64 * MiB, 512 * MiB]


@pytest.mark.parametrize("path", ["direct", "dlsym"])
def test_nvml_shows_the_slice(hx: Harness, path: str) -> None:
    holder = hx.popen("probe_cuda", "alloc:mem:16M", "wait", quota=QUOTA)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "alloc mem rc=0"
        r = hx.run("probe_vendor", "nvml", f"path={path}", "info:0", "info:1", quota=QUOTA)
    finally:
        holder.communicate(timeout=30)
    lines = [line.split() for line in r.lines]
    assert lines[0] == ["nvml", "rc=0", f"total={64 * MiB}", f"free={48 * MiB}", f"used={16 * MiB}"]
    assert lines[1][1:] == [
        "rc=0",
        f"total={64 * MiB}",
        f"free={48 * MiB}",
        f"used={16 * MiB}",
        "reserved=0",
    ]
    assert lines[2][2:] == [f"total={64 * MiB}", f"free={64 * MiB}", "used=0"]  # device 1


def test_nvml_without_quota_is_untouched(hx: Harness) -> None:
    r = hx.run("probe_vendor", "nvml", "info:0")
    assert r.lines[1].split()[2:] == [
        f"total={1024 * MiB}",
        f"free={1023 * MiB}",
        "used=0",
        f"reserved={MiB}",
    ]


def test_probe_runs_without_interceptor(hx: Harness) -> None:
    """The stubs alone let a vendor fill its fake device: the limits above are the interceptor's."""
    r = hx.run("probe_vendor", "hip", "fill:plain:64M", preload=False)
    assert r.field("fill", "count") == [16]
