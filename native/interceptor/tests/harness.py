"""Runs the probe programs with the interceptor preloaded (shared by the test modules)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

MiB = 1 << 20


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def field(self, prefix: str, key: str) -> list[int]:
        """Integer values of `key=` on every stdout line starting with `prefix`."""
        values = []
        for line in self.lines:
            if line.startswith(prefix):
                for word in line.split():
                    if word.startswith(key + "="):
                        values.append(int(word.split("=", 1)[1]))
        return values


@dataclass
class Harness:
    """Runs probes with the interceptor preloaded and a private shared region."""

    bins: Path
    so: Path
    region: Path

    def env(
        self,
        quota: dict[str, str] | None = None,
        preload: bool = True,
        extra: dict[str, str] | None = None,
    ) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LD_LIBRARY_PATH": str(self.bins),
            "HCS_SHM_PATH": str(self.region),
        }
        if preload:
            env["LD_PRELOAD"] = str(self.so)
        env.update(quota or {})
        env.update(extra or {})
        return env

    def run(self, prog: str, *steps: str, timeout: float = 30, **kwargs) -> Result:
        done = subprocess.run(
            [str(self.bins / prog), *steps],
            env=self.env(**kwargs),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def popen(self, prog: str, *steps: str, **kwargs) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(self.bins / prog), *steps],
            env=self.env(**kwargs),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
