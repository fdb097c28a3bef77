"""Builds the stub vendor libraries and probe programs, and runs probes under LD_PRELOAD.

The interceptor under test is HCS_INTERCEPTOR_SO (Bazel passes its own build); without it,
`make -C native/interceptor` builds one. The stubs and probes are compiled here with the
system C compiler into a per-session directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the test modules import harness.py (pytest runs in importlib mode)

from harness import Harness  # noqa: E402

ROOT = HERE.parent
CFLAGS = ["-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"]
INCLUDES = [f"-I{ROOT / 'include'}", f"-I{ROOT / 'src'}", f"-I{HERE / 'stubs'}"]

# soname -> stub source
STUBS = {
    "libcuda.so.1": "stub_cuda.c",
    "libnvidia-ml.so.1": "stub_nvml.c",
    "libascendcl.so": "stub_acl.c",
    "libamdhip64.so": "stub_hip.c",
    "libcnrt.so": "stub_cnrt.c",
    "libchain_base.so": "chain_base.c",
    "libchain_shim.so": "chain_shim.c",
}


def _cc(*args: str | Path) -> None:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.fail("no C compiler (cc or gcc) on PATH: the tests build their stub libraries")
    cmd = [compiler, *CFLAGS, *INCLUDES, *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"compiling failed: {' '.join(cmd)}\n{done.stderr}")


@pytest.fixture(scope="session")
def interceptor() -> Path:
    """The libhcs_interceptor.so under test."""
    given = os.environ.get("HCS_INTERCEPTOR_SO")
    if given:
        return Path(given).resolve()
    subprocess.run(["make", "-s", "-C", str(ROOT)], check=True)
    return ROOT / "build" / "libhcs_interceptor.so"


@pytest.fixture(scope="session")
def bins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the stub vendor libraries and the probe programs."""
    out = tmp_path_factory.mktemp("bin")
    for soname, source in STUBS.items():
        _cc(
            "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", out / soname, HERE / "stubs" / source
        )
    progs = HERE / "progs"
    _cc("-o", out / "probe_cuda", progs / "probe_cuda.c", "-ldl", "-lpthread")
    _cc(
        "-DPROBE_LINKED",
        "-o",
        out / "probe_cuda_linked",
        progs / "probe_cuda.c",
        out / "libcuda.so.1",
        "-ldl",
        "-lpthread",
    )
    vendors = [out / name for name in ("libascendcl.so", "libamdhip64.so", "libcnrt.so")]
    _cc(
        "-o",
        out / "probe_vendor",
        progs / "probe_vendor.c",
        *vendors,
        out / "libnvidia-ml.so.1",
        "-ldl",
    )
    _cc("-o", out / "prog_chain", progs / "prog_chain.c", out / "libchain_base.so")
    _cc("-o", out / "prog_quantity", progs / "prog_quantity.c", ROOT / "src" / "quota.c")
    _cc(
        "-o",
        out / "prog_lock_and_die",
        progs / "prog_lock_and_die.c",
        ROOT / "src" / "region.c",
        "-lpthread",
    )
    return out


@pytest.fixture
def hx(bins: Path, interceptor: Path, tmp_path: Path) -> Harness:
    return Harness(bins=bins, so=interceptor, region=tmp_path / "region")
