"""The validating decision's refusals word for word, as kubectl shows them, and its boundaries."""

import pytest

from hcs_webhook.review import AdmissionRequest
from hcs_webhook.validation import Denied, check_decisions, check_satisfiable, read_request

PREFERENCES = "of one node, within the pod's vendor and model preferences"
SPREAD = 'ask ai.compute/devices, or annotate hcs.io/sharded: "true", to spread it'


def request_of(kit, obj, operation="CREATE", old=None, username="alice"):
    return AdmissionRequest.model_validate(kit.review(obj, operation, old, username)["request"])


def refusal(kit, exchange, resources, annotations=None):
    obj = kit.pod(kit.container("train", **resources), annotations=annotations)
    with pytest.raises(Denied) as denied:
        check_satisfiable(read_request(obj), exchange, max_devices=8)
    return str(denied.value)


@pytest.mark.parametrize(
    ("resources", "annotations", "message"),
    [
        (
            {"tflops_fp16": "100000"},
            {},
            f"no known accelerator model can serve 100000 TFLOPS fp16 with at most 8 devices "
            f"{PREFERENCES}",
        ),
        (
            {"vram": "16Gi", "tflops_fp32": "50000", "tops_int8": "7"},
            {},
            "no known accelerator model can serve 16Gi VRAM, 50000 TFLOPS fp32, 7 TOPS int8 with "
            f"at most 8 devices {PREFERENCES}; ai.compute/vram is what one device must hold and "
            f"the largest such device (Ascend-310) holds 8Gi: {SPREAD}",
        ),
        (
            {"vram": "16Gi", "tflops_fp16": "2000", "devices": "2"},
            {"hcs.io/models": "T4"},
            "no known accelerator model can serve 16Gi VRAM, 2000 TFLOPS fp16, on 2 devices with "
            f"at most 2 devices {PREFERENCES}",
        ),
        (
            {"vram": "4Ti"},
            {},
            f"no known accelerator model can serve 4096Gi VRAM with at most 8 devices {PREFERENCES}"
            "; ai.compute/vram is what one device must hold and the largest such device "
            f"(H200-SXM-141G) holds 141Gi: {SPREAD}",
        ),
        (
            {"vram": "70Gi"},
            {"hcs.io/vendors": "ascend"},
            f"no known accelerator model can serve 70Gi VRAM with at most 8 devices {PREFERENCES}"
            "; ai.compute/vram is what one device must hold and the largest such device "
            f"(Ascend-910B1) holds 64Gi: {SPREAD}",
        ),
    ],
    ids=[
        "throughput-only",
        "every-figure-named",
        "devices-the-user-limited-to",
        "vram-over-every-device",
        "vram-over-the-vendors-devices",
    ],
)
def test_unservable_request_message(kit, exchange, resources, annotations, message):
    assert refusal(kit, exchange, resources, annotations) == message


def test_unservable_at_the_smallest_model_names_what_was_asked(kit, exchange):
    # 1.5Gi fits an Ascend-310 (8Gi) but 9 of them are needed for 140 TOPS int8 at 16 each.
    message = refusal(
        kit, exchange, {"vram": "1536Mi", "tops_int8": "140"}, {"hcs.io/models": "310"}
    )
    assert message == (
        "no known accelerator model can serve 1.5Gi VRAM, 140 TOPS int8 with at most 8 devices "
        f"{PREFERENCES}"
    )


def test_too_many_devices_message_names_the_node_limit(kit, exchange):
    message = refusal(kit, exchange, {"vram": "16Gi", "devices": "9"})
    assert message == (
        "no known accelerator model can serve 16Gi VRAM, on 9 devices with at most 8 devices "
        "of one node, within the pod's vendor and model preferences"
    )


@pytest.mark.parametrize(
    ("resources", "annotations", "admitted"),
    [
        ({"vram": "1Gi", "tflops_fp16": "520"}, {"hcs.io/models": "T4"}, True),
        ({"vram": "1Gi", "tflops_fp16": "521"}, {"hcs.io/models": "T4"}, False),
        (
            {"vram": "1Gi", "tflops_fp16": "521"},
            {"hcs.io/models": "T4", "hcs.io/allow-downgrade": "true"},
            False,
        ),
        ({"vram": "16Gi", "tflops_fp16": "100"}, {"hcs.io/models": "Ascend-910B3"}, False),
        (
            {"vram": "16Gi", "tflops_fp16": "100"},
            {"hcs.io/models": "Ascend-910B3", "hcs.io/allow-downgrade": "true"},
            True,
        ),
        (
            {"vram": "512Gi", "tflops_fp16": "100"},
            {
                "hcs.io/models": "Ascend-910B3",
                "hcs.io/allow-downgrade": "true",
                "hcs.io/sharded": "true",
            },
            True,
        ),
        (
            {"vram": "513Gi", "tflops_fp16": "100"},
            {
                "hcs.io/models": "Ascend-910B3",
                "hcs.io/allow-downgrade": "true",
                "hcs.io/sharded": "true",
            },
            False,
        ),
    ],
    ids=[
        "throughput-needs-exactly-8",
        "throughput-needs-9",
        "downgrade-does-not-shrink-a-known-count",
        "unknown-throughput-refused",
        "unknown-throughput-with-downgrade-counts-vram",
        "downgrade-vram-exactly-8-devices",
        "downgrade-vram-over-8-devices",
    ],
)
def test_device_count_at_the_node_limit(kit, exchange, resources, annotations, admitted):
    # A T4 does 65 TFLOPS fp16 (8 x 65 = 520); an Ascend-910B3 holds 64Gi and has no
    # published fp16 figure, so only allow-downgrade lets VRAM alone count its devices.
    request = read_request(kit.pod(kit.container("train", **resources), annotations=annotations))
    if admitted:
        assert [f.model for f in check_satisfiable(request, exchange, max_devices=8)] == [
            annotations["hcs.io/models"]
        ]
        return
    with pytest.raises(Denied, match=r"^no known accelerator model can serve"):
        check_satisfiable(request, exchange, max_devices=8)


EIGHTY = {
    "H200-SXM-141G",
    "H20",
    "A100-PCIE-80G",
    "A100-SXM4-80G",
    "A800-SXM4-80G",
    "H100-PCIE-80G",
    "H100-SXM5-80G",
    "H800-SXM5-80G",
}
"""Every profiled model whose one device holds 80Gi (all NVIDIA)."""


@pytest.mark.parametrize(
    ("excluded", "left"),
    [
        ({"H20"}, EIGHTY - {"H20"}),
        (EIGHTY - {"A800-SXM4-80G"}, {"A800-SXM4-80G"}),
    ],
    ids=["one-excluded", "all-but-one-excluded"],
)
def test_excluded_models_are_not_candidates(kit, exchange, excluded, left):
    annotations = {"hcs.io/exclude-models": ",".join(sorted(excluded))}
    obj = kit.pod(kit.container("train", vram="80Gi"), annotations=annotations)
    assert {f.model for f in check_satisfiable(read_request(obj), exchange, max_devices=8)} == left


def test_excluding_every_model_that_could_serve_refuses(kit, exchange):
    annotations = {"hcs.io/exclude-models": ",".join(sorted(EIGHTY))}
    assert refusal(kit, exchange, {"vram": "80Gi"}, annotations) == (
        f"no known accelerator model can serve 80Gi VRAM with at most 8 devices {PREFERENCES}"
        "; ai.compute/vram is what one device must hold and the largest such device "
        f"(Ascend-910B1) holds 64Gi: {SPREAD}"
    )


def test_unknown_excluded_model_is_refused_naming_the_annotation(kit, exchange):
    message = refusal(kit, exchange, {"vram": "16Gi"}, {"hcs.io/exclude-models": "H100-SMX5-80G"})
    assert message.startswith("hcs.io/models or hcs.io/exclude-models: ")
    assert "did you mean H100-SXM5-80G" in message


def test_decisions_at_create_message(kit, settings):
    obj = kit.pod(annotations={"hcs.io/vendor": "nvidia", "hcs.io/node": "gpu-1"})
    with pytest.raises(Denied) as denied:
        check_decisions(request_of(kit, obj), settings)
    assert str(denied.value) == (
        "annotation hcs.io/node, hcs.io/vendor is written only by HCS (the scheduler's "
        "decision); remove it from the pod"
    )


@pytest.mark.parametrize(
    ("username", "who"), [("alice", "alice"), ("", "this user")], ids=["named", "anonymous"]
)
def test_decisions_changed_on_update_message(kit, settings, username, who):
    old = kit.pod(annotations={"hcs.io/node": "gpu-1", "hcs.io/vendor": "nvidia"})
    new = kit.pod(annotations={"hcs.io/node": "gpu-2", "hcs.io/devices.train": "0"})
    with pytest.raises(Denied) as denied:
        check_decisions(request_of(kit, new, "UPDATE", old, username), settings)
    assert str(denied.value) == (
        "annotation hcs.io/devices.train, hcs.io/node, hcs.io/vendor is written only by HCS; "
        f"{who} may not add, change or remove it"
    )


def test_malformed_old_metadata_reads_as_no_decisions(kit, settings):
    # oldObject is not shape-checked at the edge: a list there must not crash the review.
    new = kit.pod(annotations={"hcs.io/node": "gpu-1"})
    request = request_of(kit, new, "UPDATE", {"metadata": ["not", "a", "map"]})
    with pytest.raises(Denied, match=r"^annotation hcs\.io/node is written only by HCS; alice "):
        check_decisions(request, settings)
