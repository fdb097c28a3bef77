"""Interceptor overhead on the CPU: a 1 MiB cuMemAlloc/cuMemFree pair and an unwrapped call.

Builds the test suite's stub driver (native/interceptor/tests/stubs/stub_cuda.c) and
interceptor_alloc_free.c, then runs the program alternately without the interposer, with it
but no quota (pass-through) and with it enforcing a quota, each several times; prints the
median ns per call and the added ns. The stub's allocation is a malloc, far cheaper than a real
cuMemAlloc, so the added nanoseconds, not the percentage, are the figure to carry to a GPU;
native/interceptor/gpu/ has the PyTorch-on-CUDA benchmark, which needs hardware.

    .venv/bin/python bench/interceptor_overhead.py [--pairs 200000] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native" / "interceptor"
MODES = {
    "no interposer": {},
    "interposer, no quota": {"LD_PRELOAD": "SO"},
    "interposer, quota": {"LD_PRELOAD": "SO", "HCS_VRAM_QUOTA": "64Gi"},
}


def build(out: Path) -> Path:
    """Builds the interceptor (make), the stub driver and the timing program into `out`."""
    subprocess.run(["make", "-s", "-C", str(NATIVE)], check=True)
    cc = ["cc", "-O2", "-std=gnu11", f"-I{NATIVE / 'include'}"]
    stub = NATIVE / "tests" / "stubs" / "stub_cuda.c"
    subprocess.run(
        [
            *cc,
            "-shared",
            "-fPIC",
            "-Wl,-soname,libcuda.so.1",
            "-o",
            str(out / "libcuda.so.1"),
            str(stub),
        ],
        check=True,
    )
    prog = Path(__file__).with_name("interceptor_alloc_free.c")
    subprocess.run([*cc, "-o", str(out / "alloc_free"), str(prog), "-ldl"], check=True)
    return NATIVE / "build" / "libhcs_interceptor.so"


def run_once(out: Path, so: Path, mode: dict[str, str], pairs: int) -> tuple[float, float]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LD_LIBRARY_PATH": str(out),
        "HCS_SHM_PATH": str(out / "region"),
        "HCS_STUB_VRAM": str(1 << 40),
    }
    env.update({k: str(so) if v == "SO" else v for k, v in mode.items()})
    line = subprocess.run(
        [str(out / "alloc_free"), str(pairs), str(1 << 20)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fields = dict(word.split("=") for word in line.split())
    return float(fields["pair_ns"]), float(fields["unwrapped_call_ns"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        so = build(out)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in MODES}
        for _ in range(args.runs):  # alternate the modes so drift hits all of them alike
            for name, mode in MODES.items():
                samples[name].append(run_once(out, so, mode, args.pairs))
    base_pair = statistics.median(s[0] for s in samples["no interposer"])
    base_call = statistics.median(s[1] for s in samples["no interposer"])
    print(f"{args.runs} alternating runs of {args.pairs:,} pairs (1 MiB) each; median per call")
    print(f"{'':24} {'alloc+free pair':>16} {'added':>9} {'unwrapped call':>15} {'added':>8}")
    for name in MODES:
        pair = statistics.median(s[0] for s in samples[name])
        call = statistics.median(s[1] for s in samples[name])
        print(
            f"{name:24} {pair:13.1f} ns {pair - base_pair:+6.1f} ns {call:12.2f} ns "
            f"{call - base_call:+5.2f} ns"
        )


if __name__ == "__main__":
    main()
