"""The README's example runs and prints what the README shows."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from hcs_agent.cli import main

PACKAGE = Path(__file__).resolve().parent.parent


def test_detect_example_prints_what_the_readme_shows() -> None:
    readme = (PACKAGE / "README.md").read_text()
    block = re.search(r"```\n\$ hcs-agent detect --inventory (\S+)\n(.*?)```", readme, re.S)
    assert block is not None
    inventory = PACKAGE / block[1].removeprefix("packages/hcs-agent/")
    result = CliRunner().invoke(main, ["detect", "--inventory", str(inventory)])
    assert result.exit_code == 0, result.output
    timing = re.compile(r"collected in [0-9.]+ ms")
    assert timing.sub("", result.output) == timing.sub("", block[2])
