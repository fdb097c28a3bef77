"""`make test`'s closing line counts this run's test cases and never hides a failure."""

import json

import test_summary


def _xml(path, passed=0, failed=0, skipped=0):
    cases = ["<testcase name='p'/>"] * passed
    cases += ["<testcase name='f'><failure message='x'/></testcase>"] * failed
    cases += ["<testcase name='s'><skipped/></testcase>"] * skipped
    path.write_text(f"<testsuites><testsuite>{''.join(cases)}</testsuite></testsuites>")
    return path


def _bep(tmp_path, results):
    lines = []
    for label, status, xml in results:
        outputs = [{"name": "test.xml", "uri": f"file://{xml}"}] if xml else []
        lines.append(
            json.dumps(
                {
                    "id": {"testResult": {"label": label}},
                    "testResult": {"status": status, "testActionOutput": outputs},
                }
            )
        )
    lines.append(json.dumps({"id": {"progress": {}}, "progress": {}}))
    bep = tmp_path / "bep.json"
    bep.write_text("\n".join(lines))
    return bep


def test_counts_cases_over_targets(tmp_path, capsys):
    bep = _bep(
        tmp_path,
        [
            ("//a:t1", "PASSED", _xml(tmp_path / "1.xml", passed=3, skipped=1)),
            ("//a:t2", "FAILED", _xml(tmp_path / "2.xml", passed=2, failed=1)),
        ],
    )
    assert test_summary.main([str(bep), "//a:t1", "//a:t2"]) == 1
    assert capsys.readouterr().out.strip() == "5 passed, 1 failed, 1 skipped"


def test_all_passing_exits_zero(tmp_path, capsys):
    bep = _bep(tmp_path, [("//a:t1", "PASSED", _xml(tmp_path / "1.xml", passed=4))])
    assert test_summary.main([str(bep), "//a:t1"]) == 0
    assert capsys.readouterr().out.strip() == "4 passed, 0 failed"


def test_target_that_did_not_run_is_a_failure(tmp_path, capsys):
    bep = _bep(tmp_path, [("//a:t1", "PASSED", _xml(tmp_path / "1.xml", passed=4))])
    assert test_summary.main([str(bep), "//a:t1", "//a:broken"]) == 1
    assert capsys.readouterr().out.strip() == "4 passed, 1 failed"


def test_crashed_target_without_failed_cases_is_a_failure(tmp_path, capsys):
    bep = _bep(tmp_path, [("//a:t1", "TIMEOUT", None)])
    assert test_summary.main([str(bep), "//a:t1"]) == 1
    assert capsys.readouterr().out.strip() == "0 passed, 1 failed"


def test_nothing_passing_is_not_success(tmp_path):
    bep = _bep(tmp_path, [("//a:t1", "PASSED", _xml(tmp_path / "1.xml"))])
    assert test_summary.main([str(bep), "//a:t1"]) == 1
