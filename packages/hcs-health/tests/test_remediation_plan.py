"""The remediation plan: sick devices are cordoned at once, lifted only after a quiet period,
their pods evicted once, and the node's taints follow how many devices are still usable."""

import pytest

from hcs_health.analyzer import Assessment, Grade
from hcs_health.errors import AnalyzerConfigError
from hcs_health.remediation.plan import (
    CORDON_PREFIX,
    Cordon,
    DeviceView,
    Eviction,
    Memory,
    Plan,
    PodView,
    RemediationConfig,
    plan,
    remediation_config,
)

CONFIG = RemediationConfig(quiet_period_s=600)


def assessed(**scores):
    def grade(score):
        return Grade.HEALTHY if score >= 80 else Grade.UNHEALTHY if score < 50 else Grade.DEGRADED

    return {
        d.replace("_", "-"): Assessment(d.replace("_", "-"), s, grade(s), (), 0.0, 100)
        for d, s in scores.items()
    }


def devices(*ids, cordoned=()):
    return [
        DeviceView(i, i in cordoned, f"{CORDON_PREFIX}sick" if i in cordoned else None) for i in ids
    ]


def pod(name, *devs):
    return PodView("team-a", name, f"uid-{name}", frozenset(devs))


def test_an_unhealthy_device_is_cordoned_and_its_pods_evicted_once():
    memory = Memory()
    first = plan(
        assessed(nvidia_0=100, nvidia_1=0),
        devices("nvidia-0", "nvidia-1"),
        [pod("train", "nvidia-1"), pod("infer", "nvidia-0")],
        memory,
        10.0,
        CONFIG,
    )
    assert [c.device for c in first.cordon] == ["nvidia-1"]
    assert first.cordon[0].reason.startswith(CORDON_PREFIX + "nvidia-1 UNHEALTHY (score 0)")
    assert [e.pod.name for e in first.evict] == ["train"]
    assert first.taints == {"hcs.io/degraded": "PreferNoSchedule"}
    again = plan(
        assessed(nvidia_0=100, nvidia_1=0),
        devices("nvidia-0", "nvidia-1", cordoned=("nvidia-1",)),
        [pod("train", "nvidia-1")],
        memory,
        11.0,
        CONFIG,
    )
    assert again.empty(), "nothing twice: no second cordon, eviction or taint write"


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({"nvidia_0": 100, "nvidia_1": 100}, {}),
        ({"nvidia_0": 100, "nvidia_1": 70}, {"hcs.io/degraded": "PreferNoSchedule"}),
        ({"nvidia_0": 10, "nvidia_1": 0}, {"hcs.io/unhealthy": "NoExecute"}),
    ],
    ids=["all-healthy-no-taint", "one-degraded", "none-usable-noexecute"],
)
def test_taints_follow_the_devices(scores, expected):
    result = plan(assessed(**scores), devices("nvidia-0", "nvidia-1"), [], Memory(), 0.0, CONFIG)
    assert result.taints == expected


def test_an_operators_cordon_is_never_lifted_nor_makes_the_node_unhealthy():
    views = [DeviceView("nvidia-0", True, "maintenance by ops"), DeviceView("nvidia-1")]
    memory = Memory()
    for now in (0.0, 700.0, 1400.0):
        result = plan(assessed(nvidia_0=100, nvidia_1=100), views, [], memory, now, CONFIG)
        assert result.uncordon == ()
    assert memory.taints == {}


def test_uncordon_only_after_the_quiet_period_without_a_break():
    memory = Memory()
    views = devices("nvidia-0", "nvidia-1", cordoned=("nvidia-1",))
    timeline = [(0.0, 90), (300.0, 90), (400.0, 60), (500.0, 90), (1000.0, 90), (1100.0, 90)]
    lifted_at = None
    for now, score in timeline:
        result = plan(assessed(nvidia_0=100, nvidia_1=score), views, [], memory, now, CONFIG)
        if result.uncordon:
            lifted_at = now
            break
    assert lifted_at == 1100.0, "the dip at 400 s restarts the quiet period (500 + 600)"


def test_a_device_between_the_thresholds_neither_cordons_nor_uncordons():
    memory = Memory()
    views = devices("nvidia-0", "nvidia-1", cordoned=("nvidia-1",))
    for now in (0.0, 1000.0, 5000.0):
        result = plan(assessed(nvidia_0=100, nvidia_1=65), views, [], memory, now, CONFIG)
        assert result.cordon == ()
        assert result.uncordon == ()


def test_switches_turn_each_part_off():
    config = RemediationConfig(cordon=False, evict=False, taint=False)
    result = plan(
        assessed(nvidia_0=0), devices("nvidia-0"), [pod("train", "nvidia-0")], Memory(), 0, config
    )
    assert result.empty()


@pytest.mark.parametrize(
    ("values", "key"),
    [({"cordon_below": 90, "uncordon_at": 60}, "uncordon_at"), ({"quiet_period_s": -1}, "quiet")],
    ids=["thresholds-would-flap", "negative-quiet-period"],
)
def test_bad_settings_name_the_key(values, key):
    with pytest.raises(AnalyzerConfigError, match=key):
        remediation_config(**values)


@pytest.mark.parametrize(
    ("part", "empty"),
    [
        ({}, True),
        ({"cordon": (Cordon("nvidia-0", CORDON_PREFIX),)}, False),
        ({"uncordon": ("nvidia-0",)}, False),
        ({"evict": (Eviction(pod("train", "nvidia-0"), ("nvidia-0",), "r"),)}, False),
        ({"taints": {}}, False),
    ],
    ids=["nothing", "cordon-only", "uncordon-only", "evict-only", "clear-the-taints"],
)  # fmt: skip
def test_a_plan_with_any_one_action_is_not_empty(part, empty):
    assert Plan(**part).empty() is empty


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"quiet_period_s": -1}, "invalid remediation setting quiet_period_s: "),
        ({"cordon_below": 90, "uncordon_at": 60}, "invalid remediation setting (remediation): "),
    ],
    ids=["field", "whole-model"],
)
def test_bad_setting_message_names_the_key_first(values, message):
    with pytest.raises(AnalyzerConfigError) as caught:
        remediation_config(**values)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("scores", "cordoned", "expected"),
    [
        ({"nvidia_0": 50, "nvidia_1": 50}, (), {"hcs.io/degraded": "PreferNoSchedule"}),
        ({"nvidia_0": 80, "nvidia_1": 100}, (), {}),
        ({"nvidia_0": 70, "nvidia_1": 0}, ("nvidia-0",), {"hcs.io/unhealthy": "NoExecute"}),
    ],
    ids=["exactly-cordon-below-usable", "exactly-uncordon-at-healthy", "still-cordoned-counts"],
)  # fmt: skip
def test_taint_boundaries(scores, cordoned, expected):
    views = devices("nvidia-0", "nvidia-1", cordoned=cordoned)
    assert plan(assessed(**scores), views, [], Memory(), 0.0, CONFIG).taints == expected


def test_with_cordons_off_dead_devices_still_taint_the_node_and_nobody_is_evicted():
    config = RemediationConfig(cordon=False)
    views = devices("nvidia-0", "nvidia-1", cordoned=("nvidia-1",))
    result = plan(
        assessed(nvidia_0=0, nvidia_1=0), views, [pod("train", "nvidia-1")], Memory(), 0, config
    )
    assert result.cordon == ()
    assert result.evict == ()
    assert result.taints == {"hcs.io/unhealthy": "NoExecute"}


def test_exactly_cordon_below_is_not_cordoned():
    result = plan(assessed(nvidia_0=50), devices("nvidia-0"), [], Memory(), 0.0, CONFIG)
    assert result.cordon == ()


def test_exactly_uncordon_at_counts_towards_the_quiet_period():
    memory = Memory()
    views = devices("nvidia-0", cordoned=("nvidia-0",))
    plan(assessed(nvidia_0=80), views, [], memory, 0.0, CONFIG)
    assert plan(assessed(nvidia_0=80), views, [], memory, 600.0, CONFIG).uncordon == ("nvidia-0",)


def test_a_device_missing_from_the_node_does_not_hide_the_next_one():
    views = devices("nvidia-1", cordoned=("nvidia-1",))
    memory = Memory()
    result = plan(
        assessed(nvidia_0=0, nvidia_1=0, nvidia_2=0),
        views + devices("nvidia-2"),
        [],
        memory,
        0.0,
        CONFIG,
    )
    assert [c.device for c in result.cordon] == ["nvidia-2"]
    off = RemediationConfig(cordon=False)
    plan(assessed(nvidia_1=100, nvidia_2=100), views + devices("nvidia-2"), [], memory, 5.0, off)
    assert memory.healthy_since == {"nvidia-1": 5.0, "nvidia-2": 5.0}


def test_eviction_reason_is_each_sick_devices_assessment_or_the_cordon():
    memory = Memory()
    views = devices("nvidia-0", "nvidia-1", "nvidia-2", cordoned=("nvidia-2",))
    scores = assessed(nvidia_0=0, nvidia_1=10)
    pods = [pod("a", "nvidia-0", "nvidia-1"), pod("b", "nvidia-2")]
    result = plan(scores, views, pods, memory, 0.0, CONFIG)
    by_pod = {e.pod.name: e.reason for e in result.evict}
    assert by_pod["a"] == (f"{scores['nvidia-0'].describe()}; {scores['nvidia-1'].describe()}")
    assert by_pod["b"] == "nvidia-2 cordoned by HCS"
    two = plan({}, views[2:] + devices("nvidia-3", cordoned=("nvidia-3",)),
               [pod("c", "nvidia-2", "nvidia-3")], memory, 1.0, CONFIG)  # fmt: skip
    assert [e.reason for e in two.evict] == ["nvidia-2, nvidia-3 cordoned by HCS"]
