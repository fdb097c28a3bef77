"""Proves that resuming from the checkpoint HCS picks gives the same loss curve.

(a) a reference run of train.py, 60 steps uninterrupted; (b) a second run SIGKILLed right after
it printed step 37 (after the step-30 checkpoint, before step 40's); (c) a truncated
``step-40.pt.tmp`` left beside it, as a save cut short would; (d) ``hcs_health.checkpoint.scan``
picks the checkpoint and train.py resumes with ``HCS_RESUME_FROM``; (e) steps 31..60 of both
runs are compared. Exits 0 only when every resumed loss equals the reference exactly.
Run with the torch virtualenv's python (tools/bootstrap/torch_venv.sh).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HEALTH_SRC = REPO / "packages" / "hcs-health" / "src"
STEPS, KILL_AFTER, RESUME_FROM = 60, 37, 31


def load_finder() -> Any:
    """Imports hcs_health.checkpoint. The finder is standard-library only, but the package's
    ``__init__`` also pulls in the health monitor's dependencies, which the torch virtualenv
    lacks; then the package is registered bare and only the finder (and errors) are loaded."""
    sys.path.insert(0, str(HEALTH_SRC))
    try:
        return importlib.import_module("hcs_health.checkpoint")
    except ImportError:
        for name in [n for n in sys.modules if n == "hcs_health" or n.startswith("hcs_health.")]:
            del sys.modules[name]
        package = types.ModuleType("hcs_health")
        package.__path__ = [str(HEALTH_SRC / "hcs_health")]
        sys.modules["hcs_health"] = package
        return importlib.import_module("hcs_health.checkpoint")


def train_cmd(ckpt_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(HERE / "train.py"),
        "--steps",
        str(STEPS),
        "--checkpoint-dir",
        str(ckpt_dir),
        *extra,
    ]


def run_to_end(ckpt_dir: Path, env: dict[str, str] | None = None) -> dict[int, float]:
    done = subprocess.run(
        train_cmd(ckpt_dir),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    sys.stderr.write(done.stderr)
    return {(r := json.loads(line))["step"]: r["loss"] for line in done.stdout.splitlines()}


def run_and_kill(ckpt_dir: Path) -> dict[int, float]:
    """Kills train.py with SIGKILL, no chance to clean up, once it printed step KILL_AFTER.
    A 0.1 s pause per step leaves 0.3 s before step 40's save could start."""
    losses: dict[int, float] = {}
    with subprocess.Popen(
        train_cmd(ckpt_dir, "--step-delay", "0.1"), stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            record = json.loads(line)
            losses[record["step"]] = record["loss"]
            if record["step"] == KILL_AFTER:
                proc.send_signal(signal.SIGKILL)
                break
        code = proc.wait(timeout=60)
    print(
        f"(b) killed run: exit {code} (SIGKILL is {-signal.SIGKILL}) after step "
        f"{max(losses)}; files: {sorted(p.name for p in ckpt_dir.iterdir())}"
    )
    return losses


def leave_partial(ckpt_dir: Path) -> Path:
    """A save of step 40 cut short: the first half of a real checkpoint under the .tmp name."""
    whole = (ckpt_dir / "step-30.pt").read_bytes()
    partial = ckpt_dir / "step-40.pt.tmp"
    partial.write_bytes(whole[: len(whole) // 2])
    return partial


def compare(reference: dict[int, float], resumed: dict[int, float]) -> bool:
    print(f"\n(e) {'step':>4}  {'reference loss':>22}  {'resumed loss':>22}  same")
    same_all = True
    for step in range(RESUME_FROM, STEPS + 1):
        ref, got = reference[step], resumed.get(step)
        same = got is not None and got == ref
        same_all &= same
        print(f"    {step:>4}  {ref!r:>22}  {got!r:>22}  {'yes' if same else 'NO'}")
    return same_all


def main() -> int:
    finder = load_finder()
    with tempfile.TemporaryDirectory(prefix="hcs-resume-demo-") as tmp:
        ref_dir, job_dir = Path(tmp, "reference"), Path(tmp, "job")
        reference = run_to_end(ref_dir)
        print(f"(a) reference run: {len(reference)} steps, final loss {reference[STEPS]!r}")
        killed = run_and_kill(job_dir)
        early_same = all(killed[s] == reference[s] for s in killed)
        print(f"    steps 1..{max(killed)} of the killed run equal the reference: {early_same}")
        partial = leave_partial(job_dir)
        print(f"(c) left a partial {partial.name} ({partial.stat().st_size} bytes)")
        result = finder.scan(job_dir)
        print("(d) scan:")
        for path, reason in result.rejected:
            print(f"    rejected {path.name}: {reason}")
        chosen = result.chosen
        if chosen is None or chosen.path.name != "step-30.pt":
            print(f"    FAIL: expected step-30.pt, chose {chosen}")
            return 1
        print(
            f"    chosen   {chosen.path.name}: layout={chosen.layout} step={chosen.step} "
            f"({chosen.reason})"
        )
        resumed = run_to_end(job_dir, {"HCS_RESUME_FROM": str(chosen.path)})
        ok = compare(reference, resumed) and early_same and min(resumed) == RESUME_FROM
    print(
        f"\nresult: {'PASS' if ok else 'FAIL'}: resumed steps {RESUME_FROM}..{STEPS} "
        f"{'equal' if ok else 'differ from'} the uninterrupted run bit for bit"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
