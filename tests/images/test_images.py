"""Each image recipe installs its component at its pyproject's version, as the declared user,
labelled, and starts a command its package really has; without building anything."""

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

BUILD = Path("tools/images/build.sh")
BASH = shutil.which("bash") or "/bin/bash"
COMPONENTS = ["agent", "scheduler", "webhook"]
USERS = {"agent": "0:0", "scheduler": "65532:65532", "webhook": "65532:65532"}
OCI = "org.opencontainers.image."


def _pyproject(component: str) -> dict:
    text = Path(f"packages/hcs-{component}/pyproject.toml").read_text()
    return tomllib.loads(text)["project"]


def _instructions(component: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    lines = Path(f"images/{component}/Containerfile").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    out = []
    for instruction in re.sub(r"\\\n", " ", text).splitlines():
        if instruction.strip():
            keyword, _, args = instruction.strip().partition(" ")
            out.append((keyword.upper(), args.strip()))
    return out


def _stages(component: str) -> list[list[tuple[str, str]]]:
    """The instructions of each stage, the global ARGs before the first FROM as stage 0."""
    stages: list[list[tuple[str, str]]] = [[]]
    for keyword, args in _instructions(component):
        if keyword == "FROM":
            stages.append([])
        stages[-1].append((keyword, args))
    return stages


def _final(component: str, keyword: str) -> list[str]:
    return [args for k, args in _stages(component)[-1] if k == keyword]


def _plan(env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASH, str(BUILD), "--plan"], env=env, capture_output=True, text=True, timeout=30
    )


def test_the_plan_names_each_image_after_its_pyproject_version():
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    result = _plan(env)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    expected = []
    for c in COMPONENTS:
        version = _pyproject(c)["version"]
        expected.append(
            [c, f"hcs-{c}", version, f"localhost/hcs-{c}:{version}", f"images/{c}/Containerfile"]
        )
    assert rows == expected


@pytest.mark.parametrize("component", COMPONENTS)
def test_installs_its_own_package_at_the_version_passed_offline(component):
    install = _stages(component)[1]
    assert ("ARG", "VERSION") in install, "VERSION must be declared inside the install stage"
    runs = " ".join(args for k, args in install if k == "RUN")
    assert f'"hcs-{component}==${{VERSION}}"' in runs
    assert "--no-index" in runs
    assert "-c /wheels/constraints.txt" in runs


@pytest.mark.parametrize("component", COMPONENTS)
def test_both_stages_start_from_the_base_build_sh_passes(component):
    stages = _stages(component)
    assert stages[0] == [("ARG", "BASE")], "BASE has no default: build.sh passes the pinned one"
    assert [s[0] for s in stages[1:]] == [("FROM", "${BASE} AS install"), ("FROM", "${BASE}")]
    assert _final(component, "COPY")[0] == "--from=install /opt/hcs /opt/hcs"


@pytest.mark.parametrize("component", COMPONENTS)
def test_runs_as_the_declared_numeric_user(component):
    assert _final(component, "USER") == [USERS[component]]


@pytest.mark.parametrize("component", COMPONENTS)
def test_labels_carry_the_version_and_revision_of_the_build(component):
    # An ARG declared only before FROM is empty after it: the labels would say nothing.
    declared = set(_final(component, "ARG"))
    labels = dict(
        pair.split("=", 1) for args in _final(component, "LABEL") for pair in shlex.split(args)
    )
    assert labels[OCI + "title"] == f"hcs-{component}"
    for key, arg in [("version", "VERSION"), ("revision", "REVISION"), ("created", "CREATED")]:
        assert labels[OCI + key] == f"${{{arg}}}", key
        assert arg in declared, arg
    assert labels[OCI + "base.name"] == "${BASE}"
    assert "BASE" in declared
    assert labels[OCI + "licenses"] == _pyproject(component)["license"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_entrypoint_is_a_console_script_with_the_default_command(component):
    (entrypoint,) = _final(component, "ENTRYPOINT")
    (cmd,) = _final(component, "CMD")
    scripts = _pyproject(component)["scripts"]
    assert json.loads(entrypoint) == [f"hcs-{component}"]
    assert f"hcs-{component}" in scripts
    module, _, attribute = scripts[f"hcs-{component}"].partition(":")
    group = getattr(importlib.import_module(module), attribute)
    assert json.loads(cmd)[0] in group.commands


@pytest.mark.parametrize("component", COMPONENTS)
def test_python_writes_no_bytecode_on_a_read_only_root(component):
    env = " ".join(_final(component, "ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PATH=/opt/hcs/venv/bin:" in env


def test_the_agent_ships_the_interposer_where_hcs_agent_runtime_looks():
    from hcs_agent import cli, runtime

    copies = [args.split() for args in _final("agent", "COPY")]
    assert ["lib/libhcs_interceptor.so", str(runtime.Layout().interceptor)] in copies
    assert "runtime" in cli.main.commands, "the chart's init container runs `hcs-agent runtime`"


def test_the_agent_ships_the_ebpf_loader_where_hcs_health_looks():
    from hcs_health.sources.ebpf import DEFAULT_LOADER

    copies = [args.split() for args in _final("agent", "COPY")]
    assert ["bin/hcs-ebpf-loader", str(DEFAULT_LOADER)] in copies


def test_nothing_uses_the_kubernetes_asyncio_client_the_images_drop():
    for component in COMPONENTS:
        root = Path(importlib.import_module(f"hcs_{component}").__file__).parent
        for source in root.rglob("*.py"):
            text = source.read_text()
            assert not re.search(r"kubernetes\.aio|from kubernetes import .*\baio\b", text), source


def test_the_base_record_pins_a_dated_bookworm_base_with_python_3_11():
    text = Path("images/base/packages.txt").read_text()
    assert re.search(r"^# image: localhost/hcs-base:bookworm-\d{8}$", text, re.M)
    packages = dict(line.split(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert packages["python3.11"].startswith("3.11.")
    assert "libc6" in packages
    assert "mount" in packages


def test_without_buildah_the_build_names_what_is_missing(tmp_path):
    # A PATH with python3 and the shell's basics but no buildah: it must stop before any work.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "id", "uname"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    (bin_dir / "python3").symlink_to(sys.executable)
    result = subprocess.run(
        [BASH, str(BUILD)],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "hcs: cannot build the images: missing:" in result.stderr
    assert "buildah (Debian/Ubuntu: apt-get install buildah)" in result.stderr
    assert not (tmp_path / ".cache").exists(), "nothing may be written before the check"
