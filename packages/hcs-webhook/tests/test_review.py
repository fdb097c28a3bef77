"""AdmissionReview v1 and JSON Patch on the wire: upstream's field names, base64, RFC 6901."""

import base64
import json

import pytest

from hcs_webhook._patch import pointer
from hcs_webhook.review import AdmissionReview, Operation, allow, deny


def test_recorded_upstream_review_parses_with_every_field_we_read(kit):
    review = AdmissionReview.model_validate(kit.recorded("create-pod-nvidia.json"))
    request = review.request
    assert request.uid == "9e5b4a3c-2f1d-4c8e-9a7b-6d0e1f2a3b4c"
    assert (request.kind.kind, request.resource.resource) == ("Pod", "pods")
    assert request.request_kind.kind == "Pod"
    assert request.operation is Operation.CREATE
    assert (request.namespace, request.name) == ("ml-team", "train-llama")
    assert request.user_info.groups == ["system:masters", "system:authenticated"]
    assert request.object["spec"]["containers"][0]["name"] == "train"
    assert request.old_object is None
    assert request.dry_run is False
    assert request.is_pod()


def test_response_uses_upstream_names_and_base64_patch():
    patch = [{"op": "add", "path": "/spec/schedulerName", "value": "hcs-scheduler"}]
    wire = AdmissionReview(response=allow("u1", patch, ["kept your env"])).to_wire()
    assert wire == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": "u1",
            "allowed": True,
            "patchType": "JSONPatch",
            "patch": base64.b64encode(json.dumps(patch, separators=(",", ":")).encode()).decode(),
            "warnings": ["kept your env"],
        },
    }
    denial = AdmissionReview(response=deny("u2", "no", 403)).to_wire()["response"]
    assert denial == {"uid": "u2", "allowed": False, "status": {"code": 403, "message": "no"}}


def test_allowed_without_changes_has_no_patch_fields():
    assert AdmissionReview(response=allow("u")).to_wire()["response"] == {
        "uid": "u",
        "allowed": True,
    }


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (
            ("spec", "containers", 0, "resources", "limits", "ai.compute/vram"),
            "/spec/containers/0/resources/limits/ai.compute~1vram",
        ),
        (("metadata", "annotations", "a~b/c"), "/metadata/annotations/a~0b~1c"),
        (("x", "~1"), "/x/~01"),
    ],
    ids=["slash", "tilde-and-slash", "tilde-before-one"],
)
def test_pointer_escapes_per_rfc_6901(tokens, expected):
    assert pointer(*tokens) == expected
