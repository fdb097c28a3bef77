"""Peer efficiency: the median, the exact slow and window boundaries, and bad-input messages."""

from __future__ import annotations

import pytest

from hcs_health.analyzer import Analyzer, AnalyzerConfig, Grade
from hcs_health.errors import AnalyzerConfigError, HealthError

DEV = "nvidia-9"


def run(analyzer: Analyzer, peers: list[float], value: float, times: list[float]) -> None:
    """Peers (nvidia-0..) then DEV report at each of `times`."""
    for t in times:
        for i, peer in enumerate(peers):
            analyzer.observe_efficiency(f"nvidia-{i}", "H100", peer, t)
        analyzer.observe_efficiency(DEV, "H100", value, t)


@pytest.mark.parametrize(
    ("peers", "median"),
    [([1.0, 2.0, 4.0], "2"), ([4.0, 1.0, 8.0, 2.0], "3"), ([1.0, 3.0], "2")],
    ids=["odd-count", "even-count", "two-peers"],
)
def test_evidence_names_the_peers_median(peers: list[float], median: str) -> None:
    analyzer = Analyzer()
    run(analyzer, peers, 0.1, [0.0, 300.0])
    result = analyzer.assess(DEV, 300.0)
    assert (result.score, result.grade) == (70, Grade.DEGRADED)
    assert f"peers' median {median} for 300 s" in result.evidence[0].detail


def test_samples_exactly_one_window_apart_keep_the_streak_and_the_peers() -> None:
    analyzer = Analyzer()
    run(analyzer, [1.0, 1.0], 0.5, [0.0])
    analyzer.observe_efficiency(DEV, "H100", 0.5, 300.0)  # peers last seen 300 s ago
    assert analyzer.assess(DEV, 300.0).grade is Grade.DEGRADED


@pytest.mark.parametrize(
    ("reference", "value", "grade"),
    [(1.0, 0.7, Grade.HEALTHY), (2.0, 1.0, Grade.DEGRADED), (2.0, 1.4, Grade.HEALTHY)],
    ids=["exactly-the-ratio-is-not-slow", "half-of-a-reference-of-two", "ratio-of-two"],
)
def test_slow_means_below_ratio_times_median(reference: float, value: float, grade: Grade) -> None:
    analyzer = Analyzer()
    analyzer.set_peer_reference("H100", reference)
    run(analyzer, [], value, [0.0, 150.0, 300.0])
    assert analyzer.assess(DEV, 300.0).grade is grade


def test_a_new_model_starts_a_new_streak() -> None:
    analyzer = Analyzer()
    run(analyzer, [1.0, 1.0], 0.5, [0.0, 120.0, 240.0])
    for t in (270.0, 330.0):
        for i in range(2):
            analyzer.observe_efficiency(f"amd-{i}", "A100", 1.0, t)
        analyzer.observe_efficiency(DEV, "A100", 0.5, t)
    assert analyzer.assess(DEV, 330.0).grade is Grade.HEALTHY


def test_an_efficiency_sample_alone_makes_the_device_known() -> None:
    analyzer = Analyzer()
    analyzer.observe_efficiency(DEV, "H100", 0.0, 5.0)  # zero is a valid reading
    analyzer.set_peer_reference("H100", 0.0)
    assert analyzer.devices() == [DEV]
    assert analyzer.assess(DEV, 5.0).score == 100


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.set_baseline(DEV, 101, (), 0.0),
         "baseline score of nvidia-9 must be in 0..100, got 101"),
        (lambda a: a.set_baseline(DEV, 50, (), float("nan")),
         "now must be a finite number of seconds, got nan"),
        (lambda a: a.observe_efficiency(DEV, "H100", 1.0, float("inf")),
         "now must be a finite number of seconds, got inf"),
        (lambda a: a.observe_efficiency(DEV, "H100", -0.5, 0.0),
         "efficiency of nvidia-9 must be a finite number >= 0, got -0.5"),
        (lambda a: a.set_peer_reference("H100", float("nan")),
         "peer reference of H100 must be a finite number >= 0, got nan"),
    ],
    ids=["baseline-score", "baseline-time", "efficiency-time", "efficiency-value", "reference"],
)  # fmt: skip
def test_bad_input_message(call: object, message: str) -> None:
    with pytest.raises(HealthError) as caught:
        call(Analyzer())  # type: ignore[operator]
    assert str(caught.value) == message


def test_unknown_setting_lists_the_known_ones() -> None:
    with pytest.raises(AnalyzerConfigError) as caught:
        AnalyzerConfig.from_mapping({"fatal_hold": 5})
    assert str(caught.value).startswith(
        "fatal_hold is not an analyzer setting (efficiency_cap, efficiency_ratio, "
    )


def test_describe_joins_every_finding_or_says_there_is_none() -> None:
    analyzer = Analyzer()
    assert analyzer.assess(DEV, 0.0).describe() == "nvidia-9 HEALTHY (score 100): no findings"
    analyzer.set_baseline(DEV, 60, ("Xid 48",), 0.0)
    run(analyzer, [1.0, 1.0], 0.1, [0.0, 300.0])
    line = analyzer.assess(DEV, 300.0).describe()
    assert line.startswith(
        "nvidia-9 DEGRADED (score 60): agent snapshot score 60: Xid 48; efficiency "
    )
