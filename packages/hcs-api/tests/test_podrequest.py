"""A pod's ai.compute requests and hcs.io preferences are read as Kubernetes and HCS define them."""

import pytest

from hcs_api import ComputeRequest, Preferences, RequestError, TopologyPreference, read_pod_request
from hcs_api.names import Vendor

GI = 1024**3


def _container(name, requests=None, limits=None, restart_policy=None):
    container = {"name": name, "image": "busybox", "resources": {}}
    if requests is not None:
        container["resources"]["requests"] = requests
    if limits is not None:
        container["resources"]["limits"] = limits
    if restart_policy:
        container["restartPolicy"] = restart_policy
    return container


def _pod(containers, init_containers=(), annotations=None):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": annotations or {}},
        "spec": {"containers": list(containers), "initContainers": list(init_containers)},
    }


EFFECTIVE = [
    (
        "one-app",
        [_container("a", {"ai.compute/vram": "16Gi", "ai.compute/tflops-fp16": "100"})],
        [],
        ComputeRequest(vram=16 * GI, tflops_fp16=100),
    ),
    (
        "apps-add-up",
        [_container("a", {"ai.compute/vram": "16Gi"}), _container("b", {"ai.compute/vram": "8Gi"})],
        [],
        ComputeRequest(vram=24 * GI),
    ),
    (
        "init-larger-than-apps-wins",
        [_container("a", {"ai.compute/vram": "8Gi"})],
        [_container("warm", {"ai.compute/vram": "40Gi"})],
        ComputeRequest(vram=40 * GI),
    ),
    (
        "inits-run-one-at-a-time",
        [_container("a", {"ai.compute/vram": "1Gi"})],
        [
            _container("i1", {"ai.compute/vram": "10Gi"}),
            _container("i2", {"ai.compute/vram": "12Gi"}),
        ],
        ComputeRequest(vram=12 * GI),
    ),
    (
        "sidecar-runs-beside-later-inits-and-apps",
        [_container("a", {"ai.compute/vram": "8Gi"})],
        [
            _container("side", {"ai.compute/vram": "4Gi"}, restart_policy="Always"),
            _container("init", {"ai.compute/vram": "10Gi"}),
        ],
        ComputeRequest(vram=14 * GI),
    ),
    (
        "limits-only-means-request-equals-limit",
        [_container("a", limits={"ai.compute/devices": "2", "ai.compute/vram": "160Gi"})],
        [],
        ComputeRequest(devices=2, vram=160 * GI),
    ),
    (
        "per-resource-maximum",
        [_container("a", {"ai.compute/tflops-fp32": "50"})],
        [_container("i", {"ai.compute/vram": "2Gi"})],
        ComputeRequest(vram=2 * GI, tflops_fp32=50),
    ),
    (
        "hcs-resources-after-other-resources-are-read",
        [_container("a", {"cpu": "2", "memory": "4Gi", "ai.compute/vram": "1Gi"})],
        [],
        ComputeRequest(vram=GI),
    ),
    (
        "other-resources-ignored",
        [_container("a", {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"})],
        [],
        ComputeRequest(),
    ),
]


@pytest.mark.parametrize(
    ("containers", "inits", "expected"), [c[1:] for c in EFFECTIVE], ids=[c[0] for c in EFFECTIVE]
)
def test_effective_request_follows_kubernetes(containers, inits, expected):
    assert read_pod_request(_pod(containers, inits)).effective == expected


def test_per_container_requests_are_kept_with_their_kind():
    request = read_pod_request(
        _pod(
            [_container("train", {"ai.compute/vram": "16Gi"})],
            [_container("side", {"ai.compute/vram": "1Gi"}, restart_policy="Always")],
        )
    )
    assert [(c.name, str(c.kind), c.request.vram) for c in request.containers] == [
        ("side", "sidecar", GI),
        ("train", "app", 16 * GI),
    ]


def test_pod_without_hcs_resources_is_empty():
    assert read_pod_request(_pod([_container("a", {"cpu": "1"})])).is_empty()


@pytest.mark.parametrize(
    ("requests", "limits"),
    [
        ({"ai.compute/vram": "0"}, None),
        (None, {"ai.compute/vram": 0}),
        ({"ai.compute/devices": "0m"}, {"ai.compute/devices": "0"}),
    ],
    ids=["requests-string-zero", "limits-number-zero", "both-zero"],
)
def test_a_zero_amount_asks_for_nothing(requests, limits):
    # Issue 20: a container whose only ai.compute entry was zero crashed the reader (HTTP 500
    # from the webhook and the extender) instead of reading as "asks for nothing".
    request = read_pod_request(_pod([_container("a", requests, limits)]))
    assert request.is_empty()
    assert request.containers[0].request == ComputeRequest()


# The whole message: it is what the user reads in kubectl's admission error.
BAD = [
    (
        "requests-differ-from-limits",
        {"ai.compute/vram": "16Gi"},
        {"ai.compute/vram": "8Gi"},
        "ai.compute/vram requests (16Gi) and limits (8Gi) differ; extended resources cannot be "
        "overcommitted, so set them equal or set only one",
    ),
    (
        "unknown-resource",
        {"ai.compute/tflops-fp8": "10"},
        None,
        "unknown resource ai.compute/tflops-fp8 in requests; HCS knows ai.compute/devices, "
        "ai.compute/tflops-fp16, ai.compute/tflops-fp32, ai.compute/tops-int8, ai.compute/vram",
    ),
    (
        "fractional",
        {"ai.compute/tflops-fp16": "0.5"},
        None,
        "ai.compute/tflops-fp16 is 500m; extended resources must be whole numbers "
        "(ask for 1 TFLOPS, not 500m; for VRAM use a unit such as 512Mi)",
    ),
    (
        "negative",
        {"ai.compute/vram": "-1Gi"},
        None,
        "ai.compute/vram is -1Gi; it cannot be negative",
    ),
    (
        "garbage-quantity",
        {"ai.compute/vram": "lots"},
        None,
        "ai.compute/vram in requests: 'lots' is not a Kubernetes quantity: expected a number "
        "with an optional suffix, such as 16Gi, 500m, 1.5 or 1e3",
    ),
    # Issue 20: JSON numbers this large crashed the reader (decimal.InvalidOperation, HTTP 500).
    (
        "huge-json-number",
        {"ai.compute/vram": 1e71},
        None,
        "ai.compute/vram in requests: 1e+71 is out of the range of a quantity",
    ),
    (
        "huge-json-integer",
        None,
        {"ai.compute/tflops-fp16": 10**80},
        f"ai.compute/tflops-fp16 in limits: {10**80} is out of the range of a quantity",
    ),
]


@pytest.mark.parametrize(
    ("requests", "limits", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_requests_are_refused_naming_container_and_resource(requests, limits, message):
    with pytest.raises(RequestError) as caught:
        read_pod_request(_pod([_container("train", requests, limits)]))
    assert str(caught.value) == f"container 'train': {message}"


MALFORMED = [
    ("no-spec", {"metadata": {}}, "pod.spec is not an object"),
    (
        "init-containers-object",
        {"spec": {"initContainers": {}}},
        "spec.initContainers is not a list",
    ),
    ("containers-object", {"spec": {"containers": {"name": "a"}}}, "spec.containers is not a list"),
    (
        "init-container-string",
        {"spec": {"initContainers": ["a"]}},
        "init container is not an object",
    ),
    ("app-container-string", {"spec": {"containers": ["a"]}}, "app container is not an object"),
    ("init-no-name", {"spec": {"initContainers": [{}]}}, "an init container has no name"),
    (
        "init-number-name",
        {"spec": {"initContainers": [{"name": 5}]}},
        "an init container has no name",
    ),
    (
        "sidecar-no-name",
        {"spec": {"initContainers": [{"restartPolicy": "Always"}]}},
        "a sidecar container has no name",
    ),
    (
        "resources-string",
        {"spec": {"containers": [{"name": "a", "resources": "x"}]}},
        "container 'a' resources is not an object",
    ),
    (
        "requests-string",
        {"spec": {"containers": [{"name": "a", "resources": {"requests": "x"}}]}},
        "container 'a' resources.requests is not an object",
    ),
    (
        "limits-list",
        {"spec": {"containers": [{"name": "a", "resources": {"limits": [1]}}]}},
        "container 'a' resources.limits is not an object",
    ),
    ("metadata-string", {"spec": {}, "metadata": "x"}, "pod.metadata is not an object"),
    (
        "annotations-list",
        {"spec": {}, "metadata": {"annotations": ["x"]}},
        "metadata.annotations is not an object",
    ),
]


@pytest.mark.parametrize(
    ("pod", "message"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_pod_shapes_are_request_errors_naming_the_field(pod, message):
    with pytest.raises(RequestError) as caught:
        read_pod_request(pod)
    assert str(caught.value) == message


def test_an_unnamed_app_container_is_refused():
    with pytest.raises(RequestError) as caught:
        read_pod_request({"spec": {"containers": [{"image": "x"}]}})
    assert str(caught.value) == "an app container has no name"


def test_preferences_are_parsed():
    request = read_pod_request(
        _pod(
            [_container("a", {"ai.compute/vram": "1Gi"})],
            annotations={
                "hcs.io/vendors": "nvidia, ascend",
                "hcs.io/exclude-models": "T4",
                "hcs.io/topology": "required",
                "hcs.io/allow-downgrade": "true",
                "hcs.io/checkpoint-dir": "/ckpt/run-7",
                "hcs.io/sharded": "true",
            },
        )
    )
    prefs = request.preferences
    assert prefs.sharded
    assert prefs.vendors == {Vendor.NVIDIA, Vendor.ASCEND}
    assert prefs.topology is TopologyPreference.REQUIRED
    assert prefs.allow_downgrade
    assert prefs.checkpoint_dir == "/ckpt/run-7"
    assert prefs.allows_vendor(Vendor.ASCEND)
    assert not prefs.allows_vendor(Vendor.HYGON)
    assert not prefs.allows_model("T4")
    assert prefs.allows_model("A100-80G")


# (annotations, field, value read): every preference comes from its own annotation.
PREFERENCE_FIELDS = [
    ({"hcs.io/vendors": "nvidia,ascend"}, "vendors", {Vendor.NVIDIA, Vendor.ASCEND}),
    ({"hcs.io/exclude-vendors": " hygon "}, "exclude_vendors", {Vendor.HYGON}),
    ({"hcs.io/models": "A100-80G, H100-80G"}, "models", {"A100-80G", "H100-80G"}),
    ({"hcs.io/exclude-models": "T4,"}, "exclude_models", {"T4"}),
    ({"hcs.io/topology": "none"}, "topology", TopologyPreference.NONE),
    ({"hcs.io/allow-downgrade": "true"}, "allow_downgrade", True),
    ({"hcs.io/allow-downgrade": "false"}, "allow_downgrade", False),
    ({"hcs.io/checkpoint-dir": "/ckpt"}, "checkpoint_dir", "/ckpt"),
    ({"hcs.io/rebind-image": "true"}, "rebind_image", True),
    ({"hcs.io/rebind-image": "false"}, "rebind_image", False),
    ({"hcs.io/sharded": "true"}, "sharded", True),
    ({"hcs.io/sharded": "false"}, "sharded", False),
]


@pytest.mark.parametrize(
    ("annotations", "field", "value"),
    PREFERENCE_FIELDS,
    ids=[f"{next(iter(p[0]))}={next(iter(p[0].values()))}" for p in PREFERENCE_FIELDS],
)
def test_each_preference_is_read_from_its_annotation(annotations, field, value):
    prefs = read_pod_request(_pod([], annotations=annotations)).preferences
    assert getattr(prefs, field) == value


@pytest.mark.parametrize(
    "pod",
    [_pod([]), {"spec": {}}, {"spec": {}, "metadata": {"annotations": None}}],
    ids=["no-annotations", "no-metadata", "null-annotations"],
)
def test_a_pod_without_preferences_gets_the_defaults(pod):
    assert read_pod_request(pod).preferences == Preferences()


def test_models_allow_list_admits_only_its_models():
    prefs = read_pod_request(_pod([], annotations={"hcs.io/models": "A100-80G"})).preferences
    assert prefs.allows_model("A100-80G")
    assert not prefs.allows_model("T4")


def test_exclude_vendors_shuts_out_only_those_vendors():
    prefs = read_pod_request(_pod([], annotations={"hcs.io/exclude-vendors": "hygon"})).preferences
    assert not prefs.allows_vendor(Vendor.HYGON)
    assert prefs.allows_vendor(Vendor.NVIDIA)


def test_default_preferences_allow_everything():
    prefs = Preferences()
    assert all(prefs.allows_vendor(v) for v in Vendor)
    assert prefs.topology is TopologyPreference.PREFERRED
    assert not prefs.sharded  # VRAM is per device unless the pod says otherwise


BAD_PREFERENCES = [
    (
        "vendor-allowed-and-excluded",
        {"hcs.io/vendors": "nvidia", "hcs.io/exclude-vendors": "nvidia"},
        "vendor nvidia is both allowed and excluded",
    ),
    (
        "model-allowed-and-excluded",
        {"hcs.io/models": "T4", "hcs.io/exclude-models": "T4"},
        "model T4 is both allowed and excluded",
    ),
    (
        "vendors-allowed-and-excluded",
        {"hcs.io/vendors": "nvidia,ascend,hygon", "hcs.io/exclude-vendors": "ascend,nvidia"},
        "vendor ascend, nvidia is both allowed and excluded",
    ),
    ("unknown-vendor", {"hcs.io/vendors": "nvida"}, "unknown vendor nvida"),
    (
        "unknown-vendors",
        {"hcs.io/exclude-vendors": "intel, nvidia,amd"},
        "hcs.io/exclude-vendors names unknown vendor amd, intel; "
        "HCS knows ascend, cambricon, hygon, nvidia",
    ),
    ("bad-rebind-image", {"hcs.io/rebind-image": "True"}, "hcs.io/rebind-image is 'True'; use"),
    ("bad-topology", {"hcs.io/topology": "tight"}, "use one of none, preferred, required"),
    ("bad-boolean", {"hcs.io/allow-downgrade": "yes"}, 'use "true" or "false"'),
    ("bad-sharded", {"hcs.io/sharded": "1"}, 'hcs.io/sharded is \'1\'; use "true" or "false"'),
    ("relative-checkpoint", {"hcs.io/checkpoint-dir": "ckpt"}, "must be an absolute path"),
    # Annotation values are strings in Kubernetes; a hand-made pod can send anything, and an
    # object here crashed the reader (unhashable dict: HTTP 500, or a 400 naming no field).
    ("topology-object", {"hcs.io/topology": {}}, "hcs.io/topology is a dict, not a string"),
    ("vendors-list", {"hcs.io/vendors": ["nvidia"]}, "hcs.io/vendors is a list, not a string"),
    ("checkpoint-number", {"hcs.io/checkpoint-dir": 5}, "hcs.io/checkpoint-dir is an int, not"),
]


@pytest.mark.parametrize(
    ("annotations", "message"),
    [b[1:] for b in BAD_PREFERENCES],
    ids=[b[0] for b in BAD_PREFERENCES],
)
def test_contradictory_or_malformed_preferences_are_refused(annotations, message):
    with pytest.raises(RequestError, match=message):
        read_pod_request(
            _pod([_container("a", {"ai.compute/vram": "1Gi"})], annotations=annotations)
        )
