"""The remediation plan: sick devices are cordoned at once, lifted only after a quiet period,
their pods evicted once, and the node's taints follow how many devices are still usable."""

import pytest

from hcs_health.analyzer import Assessment, Grade
from hcs_health.errors import AnalyzerConfigError
from hcs_health.remediation.plan import (
    CORDON_PREFIX,
    DeviceView,
    Memory,
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
