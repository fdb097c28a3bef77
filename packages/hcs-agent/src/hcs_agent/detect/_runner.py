"""Running a vendor tool: a thin shell with a timeout, every failure turned into a ToolError."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from typing import Protocol

from hcs_agent.errors import ToolError


class ToolMissing(ToolError):
    """The tool is not installed (not on PATH): the vendor is simply absent here."""


class Runner(Protocol):
    def __call__(self, argv: Sequence[str], timeout: float) -> str:
        """The tool's standard output; ToolError (ToolMissing when absent) on any failure."""
        ...


def run_tool(argv: Sequence[str], timeout: float) -> str:
    """Run `argv` without a shell and return its stdout."""
    command = " ".join(argv)
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise ToolMissing(f"{argv[0]} not found on PATH") from None
    except PermissionError:
        raise ToolError(f"{argv[0]} is not executable by this user") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"'{command}' did not answer within {timeout:g} s") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        detail = f": {said[-1]}" if said else ""
        raise ToolError(f"'{command}' exited with status {done.returncode}{detail}")
    return done.stdout


class ToolDetector:
    """What every detector that asks a vendor CLI shares: the tool, how it is run and within
    what time, and where a PCI device's NUMA node is read (sysfs by default in the agent)."""

    def __init__(
        self,
        runner: Runner,
        timeout: float,
        tool: str,
        numa_of: Callable[[str], int | None] | None,
    ) -> None:
        self._run = runner
        self._timeout = timeout
        self._tool = tool
        self._numa_of = numa_of or (lambda bus_id: None)

    def _call(self, *args: str) -> str:
        """The tool's output for `args`; ToolError (ToolMissing when absent) on any failure."""
        return self._run([self._tool, *args], self._timeout)
