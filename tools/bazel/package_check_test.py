"""Every HCS package is installable and honest about itself: pyproject, version, README, typing.

Run by Bazel once per package (tools/bazel/hcs_package.bzl), with HCS_PACKAGE_DIR naming it.
"""

import importlib
import os
import re
import tomllib
from pathlib import Path

import pytest

PACKAGE_DIR = Path(os.environ.get("HCS_PACKAGE_DIR", "packages/hcs-api"))


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((PACKAGE_DIR / "pyproject.toml").read_text())["project"]


@pytest.fixture(scope="module")
def module_name(project) -> str:
    return project["name"].replace("-", "_")


def test_version_in_pyproject_matches_the_module(project, module_name):
    module = importlib.import_module(module_name)
    assert module.__version__ == project["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])


def test_public_names_all_resolve(module_name):
    module = importlib.import_module(module_name)
    assert module.__all__, "a package exports a short __all__"
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.__all__ names missing {name}"


def test_package_is_typed(module_name):
    module = importlib.import_module(module_name)
    assert (Path(module.__file__).parent / "py.typed").exists()


def test_readme_says_what_it_is_how_to_install_and_how_mature(project):
    readme = (PACKAGE_DIR / "README.md").read_text()
    assert readme.startswith(f"# {project['name']}")
    assert "**Maturity:" in readme
    assert re.search(rf"pip install .*packages/{project['name']}", readme), "install instructions"
