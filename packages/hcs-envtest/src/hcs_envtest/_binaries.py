"""Where the control plane's binaries are: the folder `make controlplane` builds them into."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hcs_envtest.errors import EnvtestError

ENV = "HCS_CONTROLPLANE_BIN"
"""The environment variable naming the folder (`make test` sets it for every test)."""
NAMES = ("etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager")


@dataclass(frozen=True)
class Binaries:
    directory: Path

    @classmethod
    def locate(cls, directory: str | Path | None = None) -> Binaries:
        """`directory`, else $HCS_CONTROLPLANE_BIN; every binary must be there."""
        where = directory if directory is not None else os.environ.get(ENV)
        if not where:
            raise EnvtestError(
                f"no control plane binaries: set {ENV} to the folder that "
                "`make controlplane` (tools/controlplane/build.sh) prints"
            )
        folder = Path(where)
        missing = [n for n in NAMES if not os.access(folder / n, os.X_OK)]
        if missing:
            raise EnvtestError(
                f"{folder} lacks {', '.join(missing)}: run `make controlplane` and point {ENV} "
                "at the folder it prints"
            )
        return cls(folder)

    def path(self, name: str) -> str:
        return str(self.directory / name)
