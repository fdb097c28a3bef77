"""One control-plane binary as a child process: started with its output in a log file, waited
on until it answers, stopped without leftovers.

Each child gets its own process group and is told by the kernel to die with its parent
(PR_SET_PDEATHSIG): a test run killed by a timeout leaves no etcd or kube-apiserver behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from hcs_envtest.errors import EnvtestError

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Process:
    """A started binary; `log` holds what it printed."""

    def __init__(
        self, name: str, argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        with log.open("ab") as out:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self) -> int:
        return self._popen.pid

    def running(self) -> bool:
        return self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def wait_until(
        self, ready: Callable[[], bool], timeout: float, what: str, exit_ok: bool = False
    ) -> None:
        """Poll `ready` until it is true; raise with the log's tail if the process exits
        (unless `exit_ok`) or `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not exit_ok and not self.running():
                raise EnvtestError(
                    f"{self.name} exited with status {self._popen.returncode} before {what}; "
                    f"its log ({self.log}) ends with:\n{self.tail()}"
                )
            if ready():
                return
            time.sleep(0.1)
        raise EnvtestError(
            f"{self.name} was not {what} after {timeout:.0f} s; its log ({self.log}) ends "
            f"with:\n{self.tail()}"
        )

    def stop(self, patience: float = 10.0) -> None:
        """SIGTERM to the process group, SIGKILL after `patience` seconds; idempotent."""
        if self._popen.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self._popen.wait(patience)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self._popen.wait()
        # Whatever the binary itself started dies with its group.
        self._signal(signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL at once, as a crash or an OOM kill would end it."""
        self._signal(signal.SIGKILL)
        self._popen.wait()

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._popen.pid, sig)

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
