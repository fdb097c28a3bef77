"""Shared fixtures: the bundled database and an Exchange over it."""

from pathlib import Path

import pytest

from hcs_exchange import Exchange, load_database

_REPO_ROOT = Path(__file__).absolute().parents[3]


@pytest.fixture(scope="session")
def database():
    return load_database()


@pytest.fixture(scope="session")
def exchange(database):
    return Exchange(database)


@pytest.fixture
def repo_root() -> Path:
    return _REPO_ROOT
