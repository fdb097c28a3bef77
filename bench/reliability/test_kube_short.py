"""The extender under concurrent binds and under kill -9 mid-stream loses no allocation, gives no
device twice and answers no 5xx (short runs of binds.py and restarts.py on a real API server)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The parts are scripts beside this file, importable once their folder is on the path (pytest's
# importlib mode does not put it there).
sys.path.insert(0, str(Path(__file__).parent))
import binds
import restarts
from kube_checks import Held, over_capacity
from kube_flow import Answer
from kube_part import Settings
from kube_setup import Generation

pytest_plugins = ["hcs_envtest.pytest_plugin"]

GIB = 2**30


def _settings(tmp_path: Path) -> Settings:
    # 2 nodes x 8 H100s: about a third of what 100 pods of the mix ask for, so binds collide
    # on the last capacity and most pods are refused.
    return Settings(pods=100, clients=20, kills=2, seed=7, nodes=2, workdir=tmp_path)


@pytest.mark.timeout(180)
def test_concurrent_binds_lose_nothing_and_give_no_device_twice(control_plane, tmp_path):
    result = binds.run(control_plane, _settings(tmp_path))

    assert (result.row.lost, result.row.duplicated, result.row.server_errors) == (0, 0, 0)
    assert result.problems == []
    assert result.audit.bound > 0
    assert result.audit.pending > 0, "every pod fit: the run did not fill the cluster"
    assert result.tally.collisions > 0, "no group of binds went to one node at once"


@pytest.mark.timeout(180)
def test_kill_9_mid_stream_loses_nothing_and_answers_nothing_before_resync(control_plane, tmp_path):
    result = restarts.run(control_plane, _settings(tmp_path))

    assert (result.row.lost, result.row.duplicated, result.row.server_errors) == (0, 0, 0)
    assert result.row.faults == "2 x kill -9"
    assert result.problems == []
    assert result.audit.bound > 0


CAPACITY = {("n", "0"): 80 * GIB}


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        pytest.param(Held(80 * GIB, 1000, ["a", "b"]), 0, id="full-but-not-over"),
        pytest.param(Held(81 * GIB, 500, ["a", "b"]), 1, id="vram-over"),
        pytest.param(Held(20 * GIB, 1001, ["a", "b"]), 1, id="share-over"),
        pytest.param(Held(80 * GIB, 1000, ["a", "b"], ["a"]), 1, id="whole-device-shared"),
        pytest.param(Held(80 * GIB, 1000, ["a"], ["a"]), 0, id="whole-device-alone"),
    ],
)
def test_the_capacity_check_counts_a_device_over_capacity(held, expected):
    assert len(over_capacity({("n", "0"): held}, CAPACITY)) == expected


def test_the_resync_check_flags_an_answer_before_the_process_synced(tmp_path):
    log = tmp_path / "hcs-scheduler-00.log"
    log.write_text("2026-12-06 15:04:05,500 INFO cache synced: 2 nodes, 0 pods\n")
    synced = Generation(0, 0.0, log, process=None).synced_at()  # type: ignore[arg-type]
    assert synced is not None
    generation = Generation(0, synced - 5, log, process=None)  # type: ignore[arg-type]
    before = Answer("filter", 200, synced - 1, synced - 0.5)
    refused = Answer("filter", 503, synced - 1, synced - 0.5, "cache is not synced")
    after = Answer("bind", 200, synced - 0.1, synced + 0.01)

    assert len(restarts.early_answers([before, refused, after], [generation])) == 1
