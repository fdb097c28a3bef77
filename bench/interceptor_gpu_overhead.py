"""Interceptor overhead on a real NVIDIA GPU with PyTorch, against no interposer.

Four measurements, each in a fresh interpreter, alternating A (no interposer) and B
(libhcs_interceptor.so with a quota larger than the job), median of --runs runs each:
1 MiB cudaMalloc/cudaFree pairs (libcudart through ctypes: the runtime reaches the driver by
cuGetProcAddress, i.e. through the interceptor), kernel launches (a one-element add), one MLP
training step, and a large bf16 matmul. Budgets (DESIGN.md): training step under 1 %,
alloc/free pair under 2 %, kernel launch unchanged. Without torch or a GPU it prints SKIP.
Unverified on hardware so far.

    python bench/interceptor_gpu_overhead.py [--runs 7] [--so PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SO = ROOT / "native" / "interceptor" / "build" / "libhcs_interceptor.so"

# Runs in the child: prints one JSON object of microseconds per operation.
CHILD = r"""
import ctypes, glob, json, os, time, torch

def timed(fn, n):
    fn(); torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / n * 1e6

def cudart():
    lib = os.path.dirname(torch.__file__)
    names = glob.glob(os.path.join(lib, "..", "nvidia", "cuda_runtime", "lib", "libcudart.so*"))
    names += glob.glob(os.path.join(lib, "lib", "libcudart*.so*")) + ["libcudart.so"]
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            pass
    raise SystemExit("libcudart not found")

rt = cudart()
ptr = ctypes.c_void_p()
def pair():
    assert rt.cudaMalloc(ctypes.byref(ptr), ctypes.c_size_t(1 << 20)) == 0
    assert rt.cudaFree(ptr) == 0

x = torch.zeros(1, device="cuda")
def launch():
    x.add_(1)

layers = [m for _ in range(4) for m in (torch.nn.Linear(4096, 4096), torch.nn.GELU())]
model = torch.nn.Sequential(*layers).cuda()
opt = torch.optim.AdamW(model.parameters())
batch = torch.randn(256, 4096, device="cuda")
def step():
    opt.zero_grad(set_to_none=True)
    model(batch).square().mean().backward()
    opt.step()

a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
def matmul():
    a @ a

print(json.dumps({
    "alloc_free_pair_us": timed(pair, 2000),
    "kernel_launch_us": timed(launch, 20000),
    "mlp_step_us": timed(step, 50),
    "bf16_matmul_8192_us": timed(matmul, 50),
}))
"""


def skip_reason() -> str | None:
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    return None if torch.cuda.is_available() else "no CUDA device visible to torch"


def measure(env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--so", type=Path, default=SO)
    args = parser.parse_args()
    reason = skip_reason()
    if reason is not None:
        print(f"SKIP: {reason}; this benchmark needs PyTorch on an NVIDIA GPU")
        return 0
    if not args.so.exists():
        subprocess.run(["make", "-s", "-C", str(args.so.parent.parent)], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        plain = dict(os.environ)
        plain.pop("LD_PRELOAD", None)
        hooked = dict(
            plain,
            LD_PRELOAD=str(args.so.resolve()),
            HCS_VRAM_QUOTA="1Ti",
            HCS_SHM_PATH=str(Path(tmp) / "region"),
        )
        runs: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
        for _ in range(args.runs):
            runs["A"].append(measure(plain))
            runs["B"].append(measure(hooked))
    print(f"median of {args.runs} alternating runs (A: no interposer, B: interceptor + quota)")
    for key in runs["A"][0]:
        a = statistics.median(r[key] for r in runs["A"])
        b = statistics.median(r[key] for r in runs["B"])
        print(f"{key:22} A {a:10.2f} us   B {b:10.2f} us   {100 * (b - a) / a:+6.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
