"""Built workload mixes: a shared list resampled so each named kind has its share."""

from collections import Counter

import pytest

from hcs_scheduler.errors import InputError
from hcs_scheduler.sim import mixes
from hcs_scheduler.sim.mixes import KINDS, BuiltMix, resample
from hcs_scheduler.sim.openb import TraceTask


def task(name, num_gpu=1, gpu_milli=1000, spec=()):
    return TraceTask(name, 1000, 1024, num_gpu, gpu_milli if num_gpu else 0, spec)


SOURCE = (
    [task(f"one{i}") for i in range(60)]
    + [task(f"half{i}", gpu_milli=500) for i in range(30)]
    + [task(f"eight{i}", num_gpu=8) for i in range(2)]
    + [task(f"t4{i}", spec=("T4",)) for i in range(5)]
    + [task(f"cpu{i}", num_gpu=0) for i in range(3)]
)


def kind_of(t, mix):
    return next((k for k, _ in mix.shares if KINDS[k](t)), "rest")


def test_each_kind_gets_its_share_and_the_list_keeps_its_length():
    mix = BuiltMix("m", "x", (("multi-gpu", 0.25), ("constrained", 0.10)), "test")
    drawn = resample(SOURCE, mix)
    assert len(drawn) == len(SOURCE)
    counts = Counter(kind_of(t, mix) for t in drawn)
    assert counts == {"multi-gpu": 25, "constrained": 10, "rest": 65}
    assert {t.name for t in drawn if kind_of(t, mix) == "multi-gpu"} == {"eight0", "eight1"}


def test_resampling_is_fixed_per_seed_and_shuffled():
    mix = BuiltMix("m", "x", (("shared-gpu", 0.7),), "test")
    assert resample(SOURCE, mix) == resample(SOURCE, mix)
    assert resample(SOURCE, mix) != resample(SOURCE, mix, seed=1)
    kinds = [KINDS["shared-gpu"](t) for t in resample(SOURCE, mix)]
    assert kinds != sorted(kinds, reverse=True)  # not all the drawn kind first


def test_a_task_counts_as_the_first_kind_it_matches():
    both = [task("eight-t4", num_gpu=8, spec=("T4",)), task("one")]
    mix = BuiltMix("m", "x", (("multi-gpu", 0.5), ("constrained", 0.5)), "test")
    with pytest.raises(InputError, match="no constrained task"):
        resample(both, mix)


def test_shares_over_one_are_refused():
    mix = BuiltMix("m", "x", (("multi-gpu", 0.8), ("cpu-only", 0.3)), "test")
    with pytest.raises(InputError, match="more than 1"):
        resample(SOURCE, mix)


def test_the_kinds():
    assert KINDS["cpu-only"](task("c", num_gpu=0))
    assert KINDS["shared-gpu"](task("s", gpu_milli=999))
    assert not KINDS["shared-gpu"](task("w"))
    assert not KINDS["constrained"](task("c", num_gpu=0, spec=("T4",)))
    assert KINDS["multi-gpu"](task("m", num_gpu=2))


def test_the_built_mixes_resample_shared_lists():
    names = [mix.name for mix in mixes.BUILT]
    assert names == ["built-multigpu25", "built-share70", "built-spec50", "built-multispec"]
    assert all(mix.source in {"default", "gpuspec33"} for mix in mixes.BUILT)
    assert mixes.BY_NAME["built-multigpu25"].shares == (("multi-gpu", 0.25),)
