"""The hook table, the wrappers in src/ and the library's exported symbols agree."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"


def table() -> tuple[set[str], set[str]]:
    text = (SRC / "hooks.def").read_text()
    hooks = set(re.findall(r"^HCS_HOOK\(\w+, (\w+),", text, re.MULTILINE))
    helpers = set(re.findall(r"^HCS_HELPER\(\w+, (\w+)\)", text, re.MULTILINE))
    return hooks, helpers


def wrappers() -> set[str]:
    names: set[str] = set()
    for source in SRC.glob("*.c"):
        names |= set(re.findall(r"^HCS_EXPORT [\w ]+?\**(\w+)\(", source.read_text(), re.MULTILINE))
    return names


def exported(so: Path) -> set[str]:
    nm = shutil.which("nm")
    if nm is None:
        pytest.fail("nm (binutils) is needed to read the library's dynamic symbols")
    out = subprocess.run(
        [nm, "-D", "--defined-only", str(so)], capture_output=True, text=True, check=True
    ).stdout
    # Global symbols only (upper-case type): gold also lists local TLS symbols ("b").
    rows = [line.split() for line in out.splitlines()]
    return {row[2] for row in rows if len(row) == 3 and row[1].isupper()}


def test_table_lists_every_vendor_api_the_issue_names() -> None:
    hooks, _ = table()
    must = {
        "cuMemAlloc_v2",
        "cuMemAllocPitch_v2",
        "cuMemAllocManaged",
        "cuMemCreate",
        "cuMemRelease",
        "cuMemAllocAsync",
        "cuMemAllocFromPoolAsync",
        "cuMemFree_v2",
        "cuMemFreeAsync",
        "cuMemGetInfo_v2",
        "cuGetProcAddress",
        "cuGetProcAddress_v2",
        "nvmlDeviceGetMemoryInfo",
        "nvmlDeviceGetMemoryInfo_v2",
        "aclrtMalloc",
        "aclrtMallocCached",
        "aclrtFree",
        "aclrtGetMemInfo",
        "hipMalloc",
        "hipMallocManaged",
        "hipFree",
        "hipMemGetInfo",
        "cnrtMalloc",
        "cnrtFree",
        "cnrtMemGetInfo",
    }
    assert must <= hooks


def test_every_hook_has_a_wrapper_and_nothing_else_is_wrapped() -> None:
    hooks, _ = table()
    assert wrappers() == hooks | {"dlsym"}


def test_version_script_lists_exactly_the_hooks() -> None:
    hooks, _ = table()
    text = (SRC / "exports.map").read_text()
    body = text[text.index("global:") + len("global:") : text.index("local:")]
    assert set(re.findall(r"(\w+);", body)) == hooks | {"dlsym"}


def test_library_exports_exactly_the_hooks(interceptor: Path) -> None:
    hooks, helpers = table()
    symbols = exported(interceptor)
    assert symbols == hooks | {"dlsym"}
    assert not symbols & helpers  # helpers are looked up, never replaced
