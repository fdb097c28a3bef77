"""Multi-device sets take the best-linked devices; single devices leave good groups whole."""

import numpy as np
import pytest

from hcs_api.v1alpha1 import ComputeNodeSpec
from hcs_scheduler.topology import (
    DIRECT_LINK,
    SAME_NUMA,
    UNKNOWN,
    best_subset,
    isolated_first,
    link_matrix,
    linked_subset,
)


def _islands(size=8, island=4):
    """Two NVLink islands of `island` devices, PCIe across them."""
    q = np.full((size, size), 10, dtype=np.int16)
    for i in range(size):
        for j in range(size):
            if i // island == j // island:
                q[i, j] = 100
    np.fill_diagonal(q, 0)
    return q


CASES = [
    ("four-take-one-island", _islands(), list(range(8)), 4, (0, 1, 2, 3)),
    ("four-take-the-whole-free-island", _islands(), [0, 1, 4, 5, 6, 7], 4, (4, 5, 6, 7)),
    ("two-stay-inside-an-island", _islands(), [3, 4, 5], 2, (4, 5)),
    ("all-candidates-when-k-equals-them", _islands(), [1, 6], 2, (1, 6)),
    ("sixteen-devices-exact", _islands(16, 8), list(range(16)), 8, tuple(range(8))),
    ("twenty-devices-greedy", _islands(20, 5), list(range(20)), 5, (0, 1, 2, 3, 4)),
]


@pytest.mark.parametrize(
    ("quality", "candidates", "k", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_best_subset_maximises_link_quality(quality, candidates, k, expected):
    assert best_subset(quality, candidates, k) == expected


def test_single_device_comes_from_the_weakest_group():
    # Devices 0-3 are a full island; 4 and 5 are what is left of the other one.
    order = isolated_first(_islands(), [0, 1, 2, 3, 4, 5])
    assert order[0] in (4, 5)
    assert best_subset(_islands(), [0, 1, 2, 3, 4, 5], 1) == (4,)


def _spec(devices):
    return ComputeNodeSpec.model_validate(
        {"nodeName": "n", "vendors": ["nvidia"], "devices": devices}
    )


def _device(i, numa=None, links=()):
    return {
        "id": f"nvidia-{i}",
        "uuid": f"u{i}",
        "vendor": "nvidia",
        "model": "T4",
        "vram": "16Gi",
        "numaNode": numa,
        "links": list(links),
    }


def test_link_matrix_from_computenode():
    spec = _spec(
        [
            _device(
                0,
                numa=0,
                links=[
                    {"type": "nvlink", "peers": ["nvidia-1"]},
                    {"type": "pcie", "peers": ["nvidia-2"], "pcieScope": "switch"},
                ],
            ),
            _device(1, numa=0),
            _device(2, numa=0),
            _device(3, numa=1, links=[{"type": "roce", "peers": ["nic0"]}]),
            _device(4),
        ]
    )
    q = link_matrix(spec)
    assert q[0][1] == q[1][0] == DIRECT_LINK
    assert q[0][2] == 60  # same PCIe switch
    assert q[1][2] == SAME_NUMA
    assert q[0][3] == UNKNOWN  # across NUMA nodes
    assert q[3][4] == UNKNOWN
    assert all(q[i][i] == 0 for i in range(5))


LINKED = [
    # (case, quality, candidates, k, the fully direct-linked set or None)
    ("inside-one-island", _islands(), [2, 3, 4, 5, 6], 3, (4, 5, 6)),
    ("across-islands-there-is-none", _islands(), [2, 3, 4, 5], 3, None),
    ("fewer-candidates-than-asked", _islands(), [0, 1], 3, None),
    ("one-device-needs-no-link", _islands(), [3, 4], 1, (3,)),
    ("an-island-among-strays", _islands(20, 5), [3, 4, 10, 11, 12, 13], 4, (10, 11, 12, 13)),
    ("twenty-devices-greedy", _islands(20, 5), list(range(20)), 4, (0, 1, 2, 3)),
    ("twenty-devices-in-pairs-greedy-none", _islands(20, 2), list(range(20)), 3, None),
]


@pytest.mark.parametrize(
    ("quality", "candidates", "k", "expected"),
    [c[1:] for c in LINKED],
    ids=[c[0] for c in LINKED],
)
def test_a_linked_subset_has_every_pair_direct_linked_or_there_is_none(
    quality, candidates, k, expected
):
    assert linked_subset(quality, candidates, k) == expected
