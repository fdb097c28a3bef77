"""The README's score table is the analyzer's own rules, and its example prints what it says."""

from __future__ import annotations

import re
from pathlib import Path

from hcs_health import Analyzer, EventKind, HealthEvent, Severity, Source
from hcs_health.analyzer import AnalyzerConfig, rules_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_score_table_is_generated_from_the_rules() -> None:
    text = README.read_text()
    block = re.search(
        r"<!-- score rules: begin.*?-->\n(.*?)\n<!-- score rules: end -->", text, re.S
    )
    assert block is not None, "the README lost its score-rules markers"
    config = AnalyzerConfig()
    expected = rules_markdown(
        floor=config.error_floor_per_min,
        burst=config.error_burst_per_min,
        factor=config.trend_factor,
        short_s=config.short_half_life_s,
        long_s=config.long_half_life_s,
    )
    assert block.group(1).strip() == expected.strip()


def test_the_library_example_prints_what_the_readme_says() -> None:
    analyzer = Analyzer()
    event = HealthEvent(
        at=10.0,
        kind=EventKind.XID,
        severity=Severity.FATAL,
        source=Source.KMSG,
        device="nvidia-3",
        code=79,
    )
    analyzer.observe(event)
    printed = analyzer.assess("nvidia-3", now=10.5).describe()
    assert f"# {printed}" in README.read_text()
