"""refit brings a kept fit up to date for several changed rows at once: bookings of shares and
of whole devices, and their release, read exactly as a fit of the whole cluster reads them."""

import numpy as np

from hcs_scheduler import Allocation, build_cluster, uniform_request
from hcs_scheduler.fit import DeviceFit, device_fit, refit

GI = 1024**3
ROWS = 16
SHARE = uniform_request("share", 1, share=500, vram=40 * GI)
WHOLE = uniform_request("whole", 1, whole=2)
WHOLE_ON_3 = Allocation(3, (0, 1), share=1000, vram=80 * GI)
SHARES_ON_5 = Allocation(5, (0, 1), share=600, vram=GI)
SHARE_ON_9 = Allocation(9, (0,), share=100, vram=GI)


def _all_but(*rows: int) -> list[int]:
    return [r for r in range(ROWS) if r not in rows]


def _same(kept: DeviceFit, fresh: DeviceFit) -> bool:
    return all(
        (getattr(kept, mask) == getattr(fresh, mask)).all()
        for mask in ("share_ok", "whole_ok", "nodes")
    )


def test_refit_of_several_rows_follows_bookings_and_releases(make_node):
    cluster = build_cluster([make_node(f"n{i}", devices=2) for i in range(ROWS)])
    share, whole = device_fit(cluster, SHARE), device_fit(cluster, WHOLE)
    for allocation in (WHOLE_ON_3, SHARES_ON_5, SHARE_ON_9):
        cluster.allocate(allocation)
    share, whole = refit(cluster, SHARE, share, [3, 5, 9]), refit(cluster, WHOLE, whole, [3, 5, 9])
    assert np.flatnonzero(share.nodes).tolist() == _all_but(3, 5)
    assert np.flatnonzero(whole.nodes).tolist() == _all_but(3, 5, 9)
    assert share.share_ok[9].tolist() == [True, True]  # 900 of 1000 left on device 0
    assert whole.whole_ok[9].tolist() == [False, True]
    assert _same(share, device_fit(cluster, SHARE))
    assert _same(whole, device_fit(cluster, WHOLE))

    cluster.release(WHOLE_ON_3)
    cluster.release(SHARE_ON_9)
    share, whole = refit(cluster, SHARE, share, [3, 9]), refit(cluster, WHOLE, whole, [3, 9])
    assert np.flatnonzero(share.nodes).tolist() == _all_but(5)
    assert np.flatnonzero(whole.nodes).tolist() == _all_but(5)
    assert _same(share, device_fit(cluster, SHARE))
    assert _same(whole, device_fit(cluster, WHOLE))


def test_refit_leaves_the_rows_it_is_not_given_as_they_were(make_node):
    cluster = build_cluster([make_node(f"n{i}", devices=2) for i in range(ROWS)])
    kept = device_fit(cluster, WHOLE)
    cluster.allocate(WHOLE_ON_3)
    cluster.allocate(SHARE_ON_9)
    assert refit(cluster, WHOLE, kept, []) is kept
    partly = refit(cluster, WHOLE, kept, [9])  # row 3 not named: still read as before
    assert np.flatnonzero(partly.nodes).tolist() == _all_but(9)
    assert kept.nodes.all()  # the kept fit itself is not changed
