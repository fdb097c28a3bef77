"""tools/controlplane/build.sh: a clear message without Go, and a built folder reused as is."""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path("tools/controlplane/build.sh")
GO_MOD = Path("tools/controlplane/go.mod")
BASH = shutil.which("bash") or "/bin/bash"


def _run(env):
    return subprocess.run(
        [BASH, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_without_go_the_message_says_what_to_install(tmp_path):
    # A PATH with the shell tools but no go.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("awk", "sha256sum", "cut", "dirname", "mkdir", "rm", "mv", "cat"):
        found = subprocess.run(["which", tool], capture_output=True, text=True, check=False)
        if found.returncode == 0:
            (bin_dir / tool).symlink_to(found.stdout.strip())
    result = _run({"PATH": str(bin_dir), "HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "the Go toolchain is missing" in result.stderr
    assert "Install Go 1.26" in result.stderr


def test_a_complete_folder_for_the_pinned_versions_is_reused(tmp_path):
    text = GO_MOD.read_text()
    kubernetes = next(
        line.split()[1]
        for line in text.splitlines()
        if line.strip().startswith("k8s.io/kubernetes ")
    )
    etcd = next(
        line.split()[-1] for line in text.splitlines() if "go.etcd.io/etcd/server/v3 v" in line
    )
    digest = hashlib.sha256(Path("tools/controlplane/go.sum").read_bytes()).hexdigest()[:12]
    folder = tmp_path / f"kubernetes-{kubernetes}-etcd-{etcd}-{digest}"
    (folder / "bin").mkdir(parents=True)
    (folder / "complete").write_text("built earlier\n")
    env = {**os.environ, "HCS_CONTROLPLANE_CACHE": str(tmp_path)}
    result = _run(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(folder / "bin")
    assert "building" not in result.stderr


@pytest.mark.parametrize("pin", ["k8s.io/kubernetes v1.37.", "go.etcd.io/etcd/server/v3 v3."])
def test_go_mod_pins_the_releases_the_harness_expects(pin):
    assert pin in GO_MOD.read_text()


def test_every_staging_module_is_pinned_to_the_kubernetes_release():
    text = GO_MOD.read_text()
    kubernetes = next(
        line.split()[1]
        for line in text.splitlines()
        if line.strip().startswith("k8s.io/kubernetes ")
    )
    staging = "v0." + kubernetes.removeprefix("v1.")
    replaces = [line.split() for line in text.splitlines() if "=> k8s.io/" in line]
    assert len(replaces) >= 30
    for left, _, right, version in replaces:
        assert left == right
        assert version == staging, f"{left} pinned at {version}, not {staging}"
