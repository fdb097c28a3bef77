"""Quota variables are read as Kubernetes quantities; anything malformed is rejected."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

Ki, Mi, Gi = 1 << 10, 1 << 20, 1 << 30

GOOD = {
    "1048576": 1048576,
    "0": 0,
    "4Gi": 4 * Gi,
    "512Mi": 512 * Mi,
    "1.5Gi": 3 * Gi // 2,
    "100Ki": 100 * Ki,
    "1Ti": 1 << 40,
    "16G": 16 * 10**9,
    "1k": 1000,
    "2M": 2 * 10**6,
    "1e9": 10**9,
    "1.5e3": 1500,
    "0.1": 1,  # a fraction of a byte rounds up, as Kubernetes does
    "+1Mi": Mi,
    "15Ei": 15 << 60,
}
BAD = {
    "": "no number",
    "-1Gi": "negative",
    "Gi": "no number",
    "4 Gi": "unknown unit",
    "4gi": "unknown unit",
    "4GB": "unknown unit",
    "500m": "milli-units are not bytes",
    "16Ei": "too large",
    "1e30": "too large",
    "12345678901234567890": "too many digits",
    "1.2.3": "unknown unit",
    "1e3x": "unexpected text after the exponent",
}


def run(bins: Path, *args: str) -> list[str]:
    done = subprocess.run(
        [str(bins / "prog_quantity"), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


@pytest.mark.parametrize(("text", "value"), GOOD.items(), ids=[f"'{k}'" for k in GOOD])
def test_valid_quantities(bins: Path, text: str, value: int) -> None:
    assert run(bins, text) == [f"ok {value}"]


@pytest.mark.parametrize(("text", "why"), BAD.items(), ids=[f"'{k}'" for k in BAD])
def test_invalid_quantities(bins: Path, text: str, why: str) -> None:
    assert run(bins, text) == [f"error {why}"]


def test_per_device_variables_override_the_all_device_one(bins: Path) -> None:
    out = run(bins, "--env", "HCS_VRAM_QUOTA=8Gi", "HCS_VRAM_QUOTA_1=2Gi", "HCS_SHM_PATH=/x")
    assert out[0] == "active=1 invalid=0"
    assert out[1] == f"quota 0 {8 * Gi} HCS_VRAM_QUOTA=8Gi"
    assert out[2] == f"quota 1 {2 * Gi} HCS_VRAM_QUOTA_1=2Gi"
    assert len([line for line in out if line.startswith("quota")]) == 32
    assert out[-1] == "shm=/x"


def test_only_per_device_variables_limit_only_those_devices(bins: Path) -> None:
    out = run(bins, "--env", "HCS_VRAM_QUOTA_3=1Gi")
    assert [line for line in out if line.startswith("quota")] == [
        f"quota 3 {Gi} HCS_VRAM_QUOTA_3=1Gi"
    ]


def test_no_variable_means_inactive_and_default_region_per_pid_namespace(bins: Path) -> None:
    out = run(bins, "--env", "PATH=/bin")
    assert out[0] == "active=0 invalid=0"
    assert out[-1].startswith("shm=/dev/shm/hcs-interceptor-")


@pytest.mark.parametrize(
    "entry",
    ["HCS_VRAM_QUOTA_32=1Gi", "HCS_VRAM_QUOTA_=1Gi", "HCS_VRAM_QUOTAS=1Gi", "HCS_VRAM_QUOTA=1Gb"],
)
def test_malformed_variables_make_the_configuration_invalid(bins: Path, entry: str) -> None:
    out = run(bins, "--env", "HCS_VRAM_QUOTA_0=1Gi", entry)
    assert out[0] == "active=1 invalid=1"
    assert out[1].startswith(f"problem={entry} is invalid")
