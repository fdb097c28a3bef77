"""PyTorch on a real NVIDIA GPU under libhcs_interceptor.so: the checks of issue 7.

1. PyTorch allocates up to the quota, then raises torch.OutOfMemoryError (default caching
   allocator, and expandable segments, which allocate through cuMemCreate);
2. torch.cuda.mem_get_info() reports the quota as total;
3. two processes share one quota;
4. nvidia-smi inside the "container" shows the slice.

Each check runs in a fresh interpreter with LD_PRELOAD set. Without torch or a CUDA device it
prints SKIP with the reason and exits 0. Unverified on hardware so far (no GPU was lent to the
session that wrote it): run it where one is, and paste its output.

    python native/interceptor/gpu/verify_torch.py [--so PATH] [--quota-gib 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
GiB = 1 << 30

FILL = """
import torch
held, chunk = [], 256 << 20
try:
    while True:
        held.append(torch.empty(chunk, dtype=torch.uint8, device="cuda"))
except torch.OutOfMemoryError:
    print("OOM", len(held) * chunk)
"""
INFO = """
import torch
free, total = torch.cuda.mem_get_info()
print("INFO", free, total, torch.version.cuda)
"""
HOLD = """
import sys, torch
x = torch.empty({size}, dtype=torch.uint8, device="cuda")
torch.cuda.synchronize()
print("HELD", flush=True)
sys.stdin.read()
"""


def skip_reason() -> str | None:
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA device visible to torch"
    return None


class Checks:
    def __init__(self, so: Path, quota: int, region: Path) -> None:
        self.quota = quota
        self.env = dict(
            os.environ, LD_PRELOAD=str(so), HCS_VRAM_QUOTA=str(quota), HCS_SHM_PATH=str(region)
        )
        self.failed = 0

    def python(self, code: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            env={**self.env, **extra},
            timeout=600,
            check=False,
        )

    def report(self, name: str, ok: bool, detail: str) -> None:
        self.failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")

    def fill(self, name: str, **extra: str) -> None:
        r = self.python(FILL, **extra)
        got = [int(line.split()[1]) for line in r.stdout.splitlines() if line.startswith("OOM")]
        ok = bool(got) and got[0] <= self.quota and "hcs-interceptor:" in r.stderr
        detail = (
            f"allocated {got[0] / GiB:.2f} GiB of a {self.quota / GiB:.2f} GiB quota"
            if got
            else r.stderr[-500:]
        )
        self.report(name, ok, detail)

    def info(self) -> None:
        r = self.python(INFO)
        words = r.stdout.split()
        ok = len(words) == 4 and int(words[2]) == self.quota
        self.report("mem_get_info shows the quota", ok, r.stdout.strip() or r.stderr[-500:])

    def shared(self) -> None:
        first = int(self.quota * 0.75)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD.format(size=first)],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            ready = holder.stdout.readline().strip() == "HELD"
            r = self.python(FILL)
        finally:
            holder.communicate(timeout=60)
        got = [int(line.split()[1]) for line in r.stdout.splitlines() if line.startswith("OOM")]
        ok = ready and bool(got) and first + got[0] <= self.quota
        self.report(
            "two processes share one quota",
            ok,
            f"first holds {first / GiB:.2f} GiB, second got {got[0] / GiB:.2f} GiB"
            if got
            else r.stderr[-500:],
        )

    def nvidia_smi(self) -> None:
        smi = shutil.which("nvidia-smi")
        if smi is None:
            print("SKIP nvidia-smi shows the slice: nvidia-smi not on PATH")
            return
        r = subprocess.run(
            [
                smi,
                "--query-gpu=memory.total,memory.used",
                "--format=csv,noheader,nounits",
                "-i",
                "0",
            ],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        total = int(r.stdout.split(",")[0]) if r.returncode == 0 else -1
        self.report(
            "nvidia-smi shows the slice", total == self.quota >> 20, r.stdout.strip() or r.stderr
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--so", type=Path, default=HERE.parent / "build" / "libhcs_interceptor.so")
    parser.add_argument("--quota-gib", type=float, default=4.0)
    args = parser.parse_args()
    reason = skip_reason()
    if reason is not None:
        print(f"SKIP: {reason}; these checks need PyTorch on an NVIDIA GPU")
        return 0
    if not args.so.exists():
        subprocess.run(["make", "-s", "-C", str(HERE.parent)], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        checks = Checks(args.so.resolve(), int(args.quota_gib * GiB), Path(tmp) / "region")
        checks.info()
        checks.fill("torch raises OutOfMemoryError at the quota")
        checks.fill(
            "same with expandable segments (cuMemCreate)",
            PYTORCH_CUDA_ALLOC_CONF="expandable_segments:True",
        )
        checks.shared()
        checks.nvidia_smi()
    print(f"{checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
