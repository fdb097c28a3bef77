"""`hcs-scheduler simulate` prints the comparison, writes reports, and refuses bad input plainly."""

import json

from click.testing import CliRunner

from hcs_scheduler.cli import main


def _run(*args):
    return CliRunner().invoke(main, ["simulate", *args])


def test_default_scenario_compares_all_policies():
    result = _run()
    assert result.exit_code == 0, result.output
    for policy in [
        "default",
        "fgd",
        "random-fit",
        "best-fit",
        "gpu-packing",
        "gpu-clustering",
        "dot-product",
    ]:
        assert f"\n{policy} " in result.output
    assert "UNALLOCATED-%" in result.output


def test_json_and_report(tmp_path):
    result = _run(
        "--policies", "default,best-fit", "--output", "json", "--report", str(tmp_path / "r")
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document["policies"]) == {"default", "best-fit"}
    full = document["policies"]["default"]["atFullWorkload"]
    assert 0 <= full["unallocatedPercent"] <= 100
    assert len(document["policies"]["default"]["arrivedPercent"]) >= 19
    assert (tmp_path / "r" / "unallocated.png").stat().st_size > 10_000
    assert "best-fit" in (tmp_path / "r" / "index.html").read_text()


def test_vendor_lock_scenario():
    result = _run("--protocol", "vendor-lock")
    assert result.exit_code == 0, result.output
    assert "hcs (any vendor)" in result.output
    assert "vendor-locked" in result.output


def test_bad_row_stops_with_file_and_line_or_is_skipped(tmp_path):
    pods = tmp_path / "pods.csv"
    pods.write_text(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,1024,1,500\np1,1000,1024,1,abc\n"
    )
    stopped = _run("--pods", str(pods), "--policies", "best-fit")
    assert stopped.exit_code == 1
    assert f"{pods}:3: gpu_milli is 'abc', not a whole number" in stopped.output
    assert "Traceback" not in stopped.output
    skipped = _run("--pods", str(pods), "--policies", "best-fit", "--on-error", "skip")
    assert skipped.exit_code == 0
    assert f"warning: {pods}:3:" in skipped.output


def test_unknown_policy_is_refused():
    result = _run("--policies", "tetris")
    assert result.exit_code == 1
    assert "unknown policy 'tetris'" in result.output


def test_trace_replay_protocol():
    result = _run("--protocol", "replay", "--policies", "default,best-fit", "--output", "json")
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)["runs"]
    assert set(runs) == {"default", "best-fit"}
    assert runs["default"]["placed"] + runs["default"]["failed"] == 1200


def test_replay_needs_creation_times(tmp_path):
    pods = tmp_path / "pods.csv"
    pods.write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,1024,1,500\n")
    result = _run("--protocol", "replay", "--pods", str(pods))
    assert result.exit_code == 1
    assert "no task has a creation_time" in result.output
