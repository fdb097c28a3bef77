"""Quota admission: a pod that would take its namespace over a ComputeQuota is refused by name."""

import pytest

from hcs_api import read_pod_request
from hcs_api.v1alpha1 import ComputeQuota
from hcs_webhook.quota import check_quota
from hcs_webhook.validation import Denied


def quota(name="team", namespace="ml", selector=None, **hard):
    spec = {"hard": hard}
    if selector:
        spec["podSelector"] = {"matchLabels": selector}
    return ComputeQuota.model_validate(
        {"metadata": {"name": name, "namespace": namespace}, "spec": spec}
    )


def check(kit, exchange, new, quotas, running):
    check_quota(new, read_pod_request(new).effective, quotas, running, exchange)


def test_vram_over_quota_names_quota_and_figures(kit, exchange):
    running = [kit.pod(kit.container("a", vram="32Gi"), name="a")]
    new = kit.pod(kit.container("b", vram="16Gi"), name="b")
    with pytest.raises(Denied) as denied:
        check(kit, exchange, new, [quota(vram="40Gi")], running)
    assert str(denied.value) == (
        "ComputeQuota ml/team: VRAM would be 48Gi (in use 32Gi + this pod 16Gi), "
        "over the limit of 40Gi"
    )


def test_acu_over_quota(kit, exchange):
    # 156 TFLOPS fp16 is half an A100-80G (312): 50 ACU each.
    running = [kit.pod(kit.container("a", tflops_fp16="156"), name="a")]
    new = kit.pod(kit.container("b", tflops_fp16="156"), name="b")
    check(kit, exchange, new, [quota(acu="100")], running)
    with pytest.raises(
        Denied, match=r"ACU would be 100 \(in use 50 \+ this pod 50\), over the limit of 80"
    ):
        check(kit, exchange, new, [quota(acu="80")], running)


def test_finished_pods_and_pods_outside_the_scope_do_not_count(kit, exchange):
    done = kit.pod(kit.container("a", vram="32Gi"), name="done")
    done["status"] = {"phase": "Succeeded"}
    other_team = kit.pod(kit.container("a", vram="32Gi"), name="other", labels={"team": "b"})
    new = kit.pod(kit.container("b", vram="16Gi"), name="new", labels={"team": "a"})
    check(kit, exchange, new, [quota(vram="40Gi", selector={"team": "a"})], [done, other_team])


def test_a_quota_that_does_not_select_the_pod_does_not_apply(kit, exchange):
    new = kit.pod(kit.container("b", vram="64Gi"), labels={"team": "b"})
    check(kit, exchange, new, [quota(vram="1Gi", selector={"team": "a"})], [])


def test_the_pod_itself_is_not_counted_twice(kit, exchange):
    new = kit.pod(kit.container("b", vram="16Gi"), name="same")
    check(kit, exchange, new, [quota(vram="16Gi")], [new])


def test_a_pod_is_not_refused_for_a_unit_it_does_not_add_to(kit, exchange):
    # The namespace is over its ACU quota already (the quota was lowered); a VRAM-only pod that
    # fits the VRAM quota adds no ACU and is admitted.
    running = [kit.pod(kit.container("a", tflops_fp16="312"), name="a")]
    new = kit.pod(kit.container("b", vram="8Gi"), name="b")
    check(kit, exchange, new, [quota(acu="50", vram="16Gi")], running)
