"""Counts the test cases of one `bazel test` run and prints the closing line `N passed, M failed`.

Bazel reports test *targets* (a target is a whole test file). This reads the run's Build Event
Protocol file (--build_event_json_file) for each target's status and JUnit XML (written by
pytest through tools/bazel/pytest_main.py), so only this run's results count, cached ones
included, stale ones never. A test target that did not run (it failed to build, or the build
stopped) counts as one failure; so does a failed target whose XML shows no failed case (a crash).

Usage: python tools/test_summary.py BEP_JSON_FILE LABEL...
Exit status: 1 when anything failed or nothing passed.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def add_cases(self, xml_path: Path) -> int:
        """Adds every test case of one JUnit XML file; returns how many failed."""
        failed_here = 0
        for case in ET.parse(xml_path).getroot().iter("testcase"):
            outcomes = {child.tag for child in case}
            if outcomes & {"failure", "error"}:
                failed_here += 1
            elif "skipped" in outcomes:
                self.skipped += 1
            else:
                self.passed += 1
        self.failed += failed_here
        return failed_here

    def line(self) -> str:
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        return f"{self.passed} passed, {self.failed} failed{skipped}"


def test_results(bep_path: Path) -> dict[str, tuple[str, Path | None]]:
    """Label -> (status, path of test.xml) for every test target this run executed or cached."""
    results: dict[str, tuple[str, Path | None]] = {}
    for line in bep_path.read_text().splitlines():
        event = json.loads(line)
        result = event.get("testResult")
        if result is None:
            continue
        label = event["id"]["testResult"]["label"]
        xml = next((o for o in result.get("testActionOutput", []) if o["name"] == "test.xml"), None)
        path = Path(unquote(urlparse(xml["uri"]).path)) if xml else None
        results[label] = (result.get("status", "NO_STATUS"), path)
    return results


def main(argv: list[str]) -> int:
    bep_path, labels = Path(argv[0]), argv[1:]
    results = test_results(bep_path) if bep_path.exists() else {}
    tally = Tally()
    for label in labels:
        if label not in results:
            print(f"{label}: did not run", file=sys.stderr)
            tally.failed += 1
            continue
        status, xml_path = results[label]
        failed_cases = tally.add_cases(xml_path) if xml_path and xml_path.exists() else 0
        if status != "PASSED" and failed_cases == 0:
            print(f"{label}: {status}", file=sys.stderr)
            tally.failed += 1
    print(tally.line())
    return 1 if tally.failed or not tally.passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
