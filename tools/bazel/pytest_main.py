"""Runs one test file under pytest inside `bazel test`, with the project's pytest settings.

Bazel passes the test file and the config file as arguments; the JUnit XML goes where Bazel
asks (XML_OUTPUT_FILE) so that tools/test_summary.py can count test cases across targets.
"""

import os
import sys

import pytest


def main() -> int:
    args = ["-p", "no:cacheprovider", *sys.argv[1:]]
    xml_output = os.environ.get("XML_OUTPUT_FILE")
    if xml_output:
        args += ["--junitxml", xml_output, "-o", "junit_family=xunit2"]
    return int(pytest.main(args))


if __name__ == "__main__":
    sys.exit(main())
