"""The validating decision: what is refused, and that the message says why in the user's terms."""

import kubernetes_validate
import pytest

from hcs_webhook.review import AdmissionRequest
from hcs_webhook.validation import Denied, check_decisions, check_satisfiable, read_request


def request_of(kit, obj, operation="CREATE", old=None, username="alice"):
    return AdmissionRequest.model_validate(kit.review(obj, operation, old, username)["request"])


def test_the_pod_validity_check_can_fail(kit):
    obj = kit.pod(kit.container("train", vram="16Gi"))
    obj["spec"]["containers"][0]["notAField"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kit.assert_valid_pod(obj)


@pytest.mark.parametrize(
    "annotation",
    [
        "hcs.io/node",
        "hcs.io/vendor",
        "hcs.io/bind-phase",
        "hcs.io/devices.train",
        "hcs.io/resume-from",
    ],
    ids=["node", "vendor", "bind-phase", "devices-per-container", "resume-from"],
)
def test_decision_annotations_set_at_create_are_refused(kit, settings, annotation):
    obj = kit.pod(kit.container("train", vram="16Gi"), annotations={annotation: "x"})
    with pytest.raises(Denied, match=f"annotation {annotation} is written only by HCS"):
        check_decisions(request_of(kit, obj), settings)


def test_only_hcs_may_create_a_pod_that_resumes_from_a_checkpoint(kit, settings):
    # A user naming any file as the job's "checkpoint" would have HCS hand it to the training
    # code; only hcs-health's replacement of a bare pod carries it.
    annotations = {"hcs.io/checkpoint-dir": "/ckpt", "hcs.io/resume-from": "/ckpt/step-30.pt"}
    obj = kit.pod(kit.container("train", vram="16Gi"), annotations=annotations)
    with pytest.raises(Denied, match=r"annotation hcs\.io/resume-from is written only by HCS"):
        check_decisions(request_of(kit, obj), settings)
    hcs = settings.hcs_service_accounts[0]
    check_decisions(request_of(kit, obj, username=hcs), settings)


def test_the_agent_may_create_a_resuming_pod_and_write_no_other_decision(kit, settings):
    agent = settings.resume_writers[0]
    assert agent == "system:serviceaccount:hcs-system:hcs-agent"
    resuming = {"hcs.io/checkpoint-dir": "/ckpt", "hcs.io/resume-from": "/ckpt/step-30.pt"}
    obj = kit.pod(kit.container("train", vram="16Gi"), annotations=resuming)
    check_decisions(request_of(kit, obj, username=agent), settings)
    placed = {**resuming, "hcs.io/node": "gpu-01"}
    obj = kit.pod(kit.container("train", vram="16Gi"), annotations=placed)
    with pytest.raises(Denied, match=r"annotation hcs\.io/node is written only by HCS"):
        check_decisions(request_of(kit, obj, username=agent), settings)
    plain = kit.pod(
        kit.container("train", vram="16Gi"), annotations={"hcs.io/checkpoint-dir": "/c"}
    )
    check_decisions(request_of(kit, plain, username=agent), settings)  # no resume point: fine
    old = kit.pod(kit.container("train", vram="16Gi"), annotations={"hcs.io/checkpoint-dir": "/c"})
    with pytest.raises(Denied, match="may not add, change or remove it"):
        check_decisions(request_of(kit, obj, "UPDATE", old=old, username=agent), settings)


def test_user_preferences_are_not_decisions(kit, settings):
    obj = kit.pod(kit.container("train", vram="16Gi"), annotations={"hcs.io/vendors": "nvidia"})
    check_decisions(request_of(kit, obj), settings)


def test_update_by_a_user_may_keep_but_not_change_decisions(kit, settings):
    old = kit.pod(annotations={"hcs.io/node": "gpu-1", "hcs.io/devices.train": "0"})
    same = kit.pod(annotations={"hcs.io/node": "gpu-1", "hcs.io/devices.train": "0", "a": "b"})
    check_decisions(request_of(kit, same, "UPDATE", old), settings)
    changed = kit.pod(annotations={"hcs.io/node": "gpu-1", "hcs.io/devices.train": "3"})
    with pytest.raises(Denied, match=r"hcs.io/devices.train .* alice may not"):
        check_decisions(request_of(kit, changed, "UPDATE", old), settings)
    removed = kit.pod(annotations={"hcs.io/devices.train": "0"})
    with pytest.raises(Denied, match=r"hcs\.io/node"):
        check_decisions(request_of(kit, removed, "UPDATE", old), settings)


def test_hcs_service_account_may_write_decisions_on_update(kit, settings):
    old = kit.pod()
    new = kit.pod(annotations={"hcs.io/node": "gpu-1", "hcs.io/devices.train": "0"})
    scheduler = "system:serviceaccount:hcs-system:hcs-scheduler"
    check_decisions(request_of(kit, new, "UPDATE", old, username=scheduler), settings)
    check_decisions(request_of(kit, new, "CREATE", username=scheduler), settings)


@pytest.mark.parametrize(
    ("resources", "annotations", "message"),
    [
        ({"limits": {"ai.compute/vram": "16 Gi"}}, {}, "is not a Kubernetes quantity"),
        ({"limits": {"ai.compute/tflops-fp16": "0.5"}}, {}, "must be whole"),
        (
            {"limits": {"ai.compute/vram": "16Gi"}, "requests": {"ai.compute/vram": "8Gi"}},
            {},
            "requests (8Gi) and limits (16Gi) differ",
        ),
        (
            {"limits": {"ai.compute/vram": "16Gi"}},
            {"hcs.io/vendors": "nvidia", "hcs.io/exclude-vendors": "nvidia"},
            "vendor nvidia is both allowed and excluded",
        ),
        ({"limits": {"ai.compute/gpus": "1"}}, {}, "unknown resource ai.compute/gpus"),
    ],
    ids=["malformed-quantity", "fraction", "limits-differ", "contradictory-vendors", "unknown"],
)
def test_unreadable_requests_are_refused_with_hcs_api_message(kit, resources, annotations, message):
    body = kit.container("train")
    body["resources"] = resources
    with pytest.raises(Denied) as denied:
        read_request(kit.pod(body, annotations=annotations))
    assert message in str(denied.value)


def test_container_name_too_long_for_an_annotation_key_is_refused(kit):
    with pytest.raises(Denied, match="does not fit an annotation key"):
        read_request(kit.pod(kit.container("c" * 60, vram="16Gi")))


@pytest.mark.parametrize(
    ("resources", "annotations"),
    [
        ({"vram": "4Ti"}, {}),
        ({"vram": "16Gi", "devices": "16"}, {}),
        ({"tflops_fp16": "100000"}, {}),
        ({"vram": "200Gi"}, {"hcs.io/models": "T4"}),
        ({"vram": "16Gi"}, {"hcs.io/vendors": "cambricon", "hcs.io/models": "H100"}),
    ],
    ids=[
        "too-much-vram",
        "more-devices-than-a-node",
        "too-much-compute",
        "model-too-small",
        "model-of-excluded-vendor",
    ],
)
def test_requests_no_model_can_serve_are_refused(kit, exchange, resources, annotations):
    request = read_request(kit.pod(kit.container("train", **resources), annotations=annotations))
    with pytest.raises(Denied, match="no known accelerator model can serve"):
        check_satisfiable(request, exchange, max_devices=8)


def test_unknown_model_preference_names_the_nearest(kit, exchange):
    obj = kit.pod(
        kit.container("train", vram="16Gi"), annotations={"hcs.io/models": "H100-SMX5-80G"}
    )
    with pytest.raises(Denied, match="did you mean H100-SXM5-80G"):
        check_satisfiable(read_request(obj), exchange, max_devices=8)


def test_servable_request_lists_candidates(kit, exchange):
    obj = kit.pod(kit.container("train", vram="48Gi", tflops_fp16="100"))
    fits = check_satisfiable(read_request(obj), exchange, max_devices=8)
    assert "H100-SXM5-80G" in {f.model for f in fits}
    assert {f.vendor for f in fits} >= {"nvidia", "ascend"}


@pytest.mark.parametrize(
    ("resources", "annotations", "admitted"),
    [
        ({"vram": "70Gi"}, {}, False),
        ({"vram": "70Gi"}, {"hcs.io/sharded": "true"}, True),
        ({"vram": "70Gi", "devices": "2"}, {}, True),
        ({"vram": "64Gi"}, {}, True),
    ],
    ids=["over-one-device", "sharded", "two-devices", "exactly-one-device"],
)
def test_vram_is_what_one_device_must_hold(kit, exchange, resources, annotations, admitted):
    # Ascend's largest device holds 64Gi: 70Gi fits on none unless it may be spread.
    pinned = {"hcs.io/vendors": "ascend", **annotations}
    request = read_request(kit.pod(kit.container("train", **resources), annotations=pinned))
    if admitted:
        assert check_satisfiable(request, exchange, max_devices=8)
        return
    with pytest.raises(Denied) as denied:
        check_satisfiable(request, exchange, max_devices=8)
    message = str(denied.value)
    assert "ai.compute/vram is what one device must hold" in message
    assert "holds 64Gi" in message
    assert "hcs.io/sharded" in message
