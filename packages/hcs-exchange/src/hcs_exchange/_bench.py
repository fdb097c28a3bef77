"""The calibration micro-benchmark: numpy on the CPU, PyTorch on an accelerator.

Both backends time a square matmul (throughput) and a large byte copy (memory bandwidth) with
the clock they are given, after one untimed warm-up of each.
"""

from __future__ import annotations

import importlib
import platform
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hcs_exchange.errors import ExchangeError
from hcs_exchange.profiles import Precision

CPU = "cpu"
"""The device name that selects the numpy backend."""

_TORCH_DTYPES = {
    Precision.FP32: "float32",
    Precision.TF32: "float32",
    Precision.FP16: "float16",
    Precision.BF16: "bfloat16",
}


@dataclass(frozen=True)
class Measurement:
    """What one backend measured, before it becomes a CalibrationRecord."""

    tflops: Decimal
    bandwidth_gbps: Decimal
    device_id: str
    environment: str


def matmul_tflops(size: int, repeats: int, seconds: float) -> Decimal:
    """Throughput of `repeats` square matmuls of `size` (2 n^3 operations each) in `seconds`."""
    if seconds <= 0:
        raise ExchangeError(f"benchmark time {seconds} s is not positive")
    return Decimal(2 * size**3 * repeats) / Decimal(repr(seconds)) / Decimal(10**12)


def copy_bandwidth_gbps(nbytes: int, repeats: int, seconds: float) -> Decimal:
    """Memory bandwidth of `repeats` copies of `nbytes` (each reads and writes them)."""
    if seconds <= 0:
        raise ExchangeError(f"benchmark time {seconds} s is not positive")
    return Decimal(2 * nbytes * repeats) / Decimal(repr(seconds)) / Decimal(10**9)


def _timed(
    run: Callable[[], object],
    repeats: int,
    clock: Callable[[], float],
    sync: Callable[[], None] | None = None,
) -> float:
    """Seconds `repeats` calls of `run` take, after one untimed warm-up call.

    `sync` waits for queued device work (a GPU's stream) before the clock starts and before it
    stops; None on the CPU, where every call has finished when it returns.
    """
    run()
    if sync is not None:
        sync()
    start = clock()
    for _ in range(repeats):
        run()
    if sync is not None:
        sync()
    return clock() - start


# -- numpy on the CPU -------------------------------------------------------------------------


def numpy_benchmark(
    precision: Precision, size: int, repeats: int, copy_bytes: int, clock: Callable[[], float]
) -> Measurement:
    """The benchmark on the CPU with numpy: fp32 only (numpy has no fast fp16, bf16 or tf32)."""
    if precision is not Precision.FP32:
        raise ExchangeError(
            f"the CPU benchmark (numpy) measures fp32, not {precision}: numpy has no bf16 or "
            "tf32, and its fp16 matmul is emulated, far below what the hardware does; "
            "use --precision fp32 on the CPU, or a GPU device with PyTorch"
        )
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    tflops = matmul_tflops(size, repeats, _timed(lambda: np.matmul(a, b), repeats, clock))
    # Filled, not np.empty: untouched pages would all read the one shared zero page.
    source = np.ones(copy_bytes, dtype=np.uint8)
    dest = np.zeros_like(source)
    seconds = _timed(lambda: np.copyto(dest, source), repeats, clock)
    machine = platform.processor() or platform.machine()
    return Measurement(
        tflops=tflops,
        bandwidth_gbps=copy_bandwidth_gbps(copy_bytes, repeats, seconds),
        device_id=CPU,
        environment=f"numpy {np.__version__}, python {platform.python_version()}, {machine}",
    )


# -- PyTorch on an accelerator ----------------------------------------------------------------


def _import_torch(device: str) -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError:
        raise ExchangeError(
            f"measuring {device} needs PyTorch built for it: pip install 'hcs-exchange[bench]' "
            "with a CUDA build of torch (--device cpu measures the CPU with numpy alone)"
        ) from None


def torch_benchmark(
    device: str,
    precision: Precision,
    size: int,
    repeats: int,
    copy_bytes: int,
    clock: Callable[[], float],
) -> Measurement:
    """The benchmark on `device` (cuda:0, ...) with PyTorch, synchronising around each timing."""
    torch = _import_torch(device)
    if precision not in _TORCH_DTYPES:
        raise ExchangeError(f"the benchmark measures {', '.join(_TORCH_DTYPES)}, not {precision}")
    target = torch.device(device)
    if target.type == "cuda" and not torch.cuda.is_available():
        raise ExchangeError(f"{device}: PyTorch sees no CUDA device on this machine")
    dtype = getattr(torch, _TORCH_DTYPES[precision])

    def sync() -> None:
        if target.type == "cuda":
            torch.cuda.synchronize(target)

    previous_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = precision is Precision.TF32
    try:
        a = torch.randn(size, size, device=target).to(dtype)
        b = torch.randn(size, size, device=target).to(dtype)
        seconds = _timed(lambda: torch.matmul(a, b), repeats, clock, sync)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous_tf32
    source = torch.empty(copy_bytes, dtype=torch.uint8, device=target)
    dest = torch.empty_like(source)
    copy_seconds = _timed(lambda: dest.copy_(source), repeats, clock, sync)
    return Measurement(
        tflops=matmul_tflops(size, repeats, seconds),
        bandwidth_gbps=copy_bandwidth_gbps(copy_bytes, repeats, copy_seconds),
        device_id=_torch_device_id(torch, target),
        environment=_torch_environment(torch, target),
    )


def _torch_device_id(torch: Any, target: Any) -> str:
    if target.type != "cuda":
        return str(target.type)
    properties = torch.cuda.get_device_properties(target)
    uuid = getattr(properties, "uuid", None)
    return f"GPU-{uuid}" if uuid is not None else f"cuda:{target.index or 0}"


def _torch_environment(torch: Any, target: Any) -> str:
    parts = [f"torch {torch.__version__}", f"python {platform.python_version()}"]
    if target.type == "cuda":
        parts += [f"cuda {torch.version.cuda}", torch.cuda.get_device_name(target)]
    else:
        parts.append(platform.processor() or platform.machine())
    return ", ".join(parts)
