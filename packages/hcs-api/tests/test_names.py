"""Wire names are spelled once, split into user and HCS-only keys; per-container keys are valid."""

import pytest

from hcs_api import HcsApiError
from hcs_api.names import (
    DECISION_ANNOTATIONS,
    USER_ANNOTATIONS,
    Annotation,
    Resource,
    devices_annotation,
    is_decision_annotation,
    vram_quota_annotation,
)


def test_every_annotation_is_either_user_or_decision():
    assert set(Annotation) == USER_ANNOTATIONS | DECISION_ANNOTATIONS
    assert not USER_ANNOTATIONS & DECISION_ANNOTATIONS


@pytest.mark.parametrize(
    ("key", "decision"),
    [
        ("hcs.io/node", True),
        ("hcs.io/allocation", True),
        ("hcs.io/devices.train", True),
        ("hcs.io/vram-quota.train", True),
        ("hcs.io/resume-from", True),
        ("hcs.io/vendors", False),
        ("hcs.io/checkpoint-dir", False),
        ("example.com/node", False),
    ],
)
def test_decision_annotations_are_recognised(key, decision):
    assert is_decision_annotation(key) is decision


def test_per_container_keys():
    assert devices_annotation("train") == "hcs.io/devices.train"
    assert vram_quota_annotation("train") == "hcs.io/vram-quota.train"
    with pytest.raises(HcsApiError, match="does not fit an annotation key"):
        devices_annotation("x" * 60)


def test_resource_names_share_the_prefix():
    assert all(str(r).startswith("ai.compute/") for r in Resource)
