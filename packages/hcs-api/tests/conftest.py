"""Shared fixtures: the repository's files, found alike in the source tree and under Bazel."""

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

# tests/ -> hcs-api/ -> packages/ -> repository root (the runfiles root under `bazel test`).
_REPO_ROOT = Path(__file__).absolute().parents[3]


@pytest.fixture
def repo_root() -> Path:
    return _REPO_ROOT


@pytest.fixture
def examples_dir(repo_root: Path) -> Path:
    return repo_root / "deploy" / "examples"


@pytest.fixture
def load_example(examples_dir: Path) -> Callable[[str], dict]:
    def load(name: str) -> dict:
        return yaml.safe_load((examples_dir / name).read_text())

    return load
