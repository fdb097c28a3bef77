"""The opt-in kind end-to-end script stops at once, naming everything missing, where there is no
Docker engine or kind (as on these build machines), instead of failing half-way."""

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "e2e-kind.sh"


def test_without_docker_or_kind_it_names_what_is_missing(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    docker = fake / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:/usr/bin:/bin", "KIND": str(tmp_path / "no-kind")}
    result = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stderr.startswith("e2e-kind: missing: a running Docker engine")
    assert "kind (go install sigs.k8s.io/kind" in result.stderr
    assert "== " not in result.stdout  # no step started
