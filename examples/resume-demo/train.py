"""A tiny deterministic PyTorch CPU training run that checkpoints atomically and resumes.

Everything that decides the next loss is in the checkpoint: the weights, SGD's momentum
buffers and the global RNG (it draws each mini-batch), so a resumed run continues the same
loss curve bit for bit. One JSON line per step on stdout: {"step": s, "loss": ...}.
Resumes from $HCS_RESUME_FROM when set (what HCS hands a rescheduled pod).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

SAMPLES, FEATURES, HIDDEN, BATCH = 512, 8, 32, 32


def dataset() -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed regression set, drawn from its own seeded generator, so every run sees it."""
    gen = torch.Generator().manual_seed(1234)
    x = torch.randn(SAMPLES, FEATURES, generator=gen)
    w = torch.randn(FEATURES, 1, generator=gen)
    y = torch.sin(x @ w) + 0.1 * torch.randn(SAMPLES, 1, generator=gen)
    return x, y


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, 1))


def save(path: Path, net: nn.Module, opt: torch.optim.Optimizer, step: int) -> None:
    """Writes ``<path>.tmp``, fsyncs it, then renames: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    state = {
        "model": net.state_dict(),
        "optimizer": opt.state_dict(),
        "step": step,
        "rng": torch.get_rng_state(),
    }
    with open(tmp, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def resume(path: str, net: nn.Module, opt: torch.optim.Optimizer) -> int:
    """Loads weights, optimizer state and the RNG (last: building the model consumed it)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    print(f"train: resumed from {path} at step {state['step']}", file=sys.stderr)
    return int(state["step"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--checkpoint-dir", type=Path, required=True)
    parser.add_argument("--every", type=int, default=10, help="checkpoint every N steps")
    parser.add_argument(
        "--step-delay",
        type=float,
        default=0.0,
        help="seconds to sleep per step (lets a demo kill it mid-run)",
    )
    args = parser.parse_args()

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    x, y = dataset()
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    start = 0
    if os.environ.get("HCS_RESUME_FROM"):
        start = resume(os.environ["HCS_RESUME_FROM"], net, opt)

    for step in range(start + 1, args.steps + 1):
        batch = torch.randint(0, SAMPLES, (BATCH,))
        loss = nn.functional.mse_loss(net(x[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        print(json.dumps({"step": step, "loss": loss.item()}), flush=True)
        if step % args.every == 0:
            save(args.checkpoint_dir / f"step-{step}.pt", net, opt, step)
        if args.step_delay:
            time.sleep(args.step_delay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
