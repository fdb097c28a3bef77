"""Admission over in-memory ports: node limits, exclusions, codes, namespaces, pinned vendors."""

import base64
import json

import pytest

from hcs_api import PlanResult
from hcs_api.v1alpha1 import ComputeNode, ComputeQuota
from hcs_exchange import Exchange, ProfileDatabase, lacking, load_database
from hcs_webhook.admission import Admission, Deps
from hcs_webhook.errors import BadReviewError, ClusterReadError
from hcs_webhook.ports import FakePlanner, InMemoryCluster
from hcs_webhook.review import AdmissionReview

PREFERENCES = "of one node, within the pod's vendor and model preferences"
PRIVILEGED = {"privileged": True}


def planned(vendor=None, model=None, error=None):
    return FakePlanner(lambda pod: PlanResult(vendor=vendor, model=model, error=error))


def admission(settings, exchange, planner=None, cluster=None):
    return Admission(settings, Deps(cluster or InMemoryCluster(), planner or planned(), exchange))


def request(kit, obj, operation="CREATE", old=None, **fields):
    review = kit.review(obj, operation, old)
    review["request"].update(fields)
    return AdmissionReview.model_validate(review).request


def patched(kit, obj, response):
    assert response.allowed, response.status
    patch = json.loads(base64.b64decode(response.patch)) if response.patch else []
    return kit.apply_patch(obj, patch)


class Unreadable(InMemoryCluster):
    """A Kubernetes API that times out on every read."""

    async def compute_quotas(self, namespace):
        raise ClusterReadError("API server timed out")

    async def pods(self, namespace):
        raise ClusterReadError("API server timed out")

    async def compute_nodes(self):
        raise ClusterReadError("API server timed out")


def quota(namespace="ml", **hard):
    body = {"metadata": {"name": "team", "namespace": namespace}, "spec": {"hard": hard}}
    return ComputeQuota.model_validate(body)


def node(name, *pairs):
    """A ComputeNode with one pair of devices per (vendor, model, P2P-capable link kind)."""
    devices = []
    for vendor, model, link in pairs:
        base = len(devices)
        for i in (0, 1):
            peer = str(base + 1 - i)
            p2p = link != "pcie"
            devices.append(
                {
                    "id": str(base + i),
                    "uuid": f"{name}-{base + i}",
                    "vendor": vendor,
                    "model": model,
                    "vram": "16Gi",
                    "links": [{"type": link, "peers": [peer], "p2p": p2p}],
                }
            )
    spec = {"nodeName": name, "vendors": sorted({p[0] for p in pairs}), "devices": devices}
    return ComputeNode.model_validate({"metadata": {"name": name}, "spec": spec})


@pytest.mark.parametrize(
    ("resources", "annotations", "max_devices", "admitted"),
    [
        ({"vram": "16Gi", "devices": "8"}, {}, 8, True),
        ({"vram": "16Gi", "devices": "9"}, {}, 8, False),
        ({"vram": "16Gi", "devices": "4"}, {}, 4, True),
        ({"vram": "16Gi", "devices": "5"}, {}, 4, False),
        ({"tflops_fp16": "520"}, {"hcs.io/models": "T4"}, 8, True),
        ({"tflops_fp16": "521"}, {"hcs.io/models": "T4"}, 8, False),
        ({"tflops_fp16": "260"}, {"hcs.io/models": "T4"}, 4, True),
        ({"tflops_fp16": "261"}, {"hcs.io/models": "T4"}, 4, False),
    ],
    ids=[
        "exactly-8-devices",
        "9-devices",
        "exactly-the-configured-4",
        "over-the-configured-4",
        "throughput-needs-exactly-8-t4",
        "throughput-needs-9-t4",
        "throughput-needs-exactly-the-configured-4",
        "throughput-over-the-configured-4",
    ],
)
@pytest.mark.asyncio
async def test_the_most_devices_a_node_gives_is_admitted_and_one_more_refused(
    kit, settings, exchange, resources, annotations, max_devices, admitted
):
    # A T4 does 65 TFLOPS fp16: 520 needs exactly 8 of them, 260 exactly 4.
    settings.max_devices_per_node = max_devices
    obj = kit.pod(kit.container("train", **resources), annotations=annotations)
    response = await admission(settings, exchange).validate(request(kit, obj))
    assert response.allowed is admitted
    if not admitted:
        assert response.status.code == 403
        assert response.status.message.startswith("no known accelerator model can serve")


EIGHTY = [
    "A100-PCIE-80G",
    "A100-SXM4-80G",
    "A800-SXM4-80G",
    "H100-PCIE-80G",
    "H100-SXM5-80G",
    "H20",
    "H200-SXM-141G",
    "H800-SXM5-80G",
]
"""Every profiled model whose one device holds 80Gi."""


@pytest.mark.parametrize(
    ("excluded", "admitted"),
    [(EIGHTY, False), (EIGHTY[:2] + EIGHTY[3:], True)],
    ids=["every-model-that-could-serve", "all-but-the-a800"],
)
@pytest.mark.asyncio
async def test_exclude_models_is_honoured_at_admission(kit, settings, exchange, excluded, admitted):
    annotations = {"hcs.io/exclude-models": ",".join(excluded)}
    obj = kit.pod(kit.container("train", vram="80Gi"), annotations=annotations)
    response = await admission(settings, exchange).validate(request(kit, obj))
    assert response.allowed is admitted


@pytest.mark.asyncio
async def test_unreadable_computenodes_refuse_an_unservable_pod_with_503_and_the_reason(
    kit, settings, exchange
):
    # Some bundled profiles lack a VRAM figure a node could fill: the webhook must ask first.
    obj = kit.pod(kit.container("train", tflops_fp16="100000"))
    app = admission(settings, exchange, cluster=Unreadable())
    response = await app.validate(request(kit, obj))
    assert (response.allowed, response.status.code) == (False, 503)
    assert response.status.message == (
        "no known accelerator model can serve 100000 TFLOPS fp16 with at most 8 devices "
        f"{PREFERENCES} (HCS could not read ComputeNodes now: API server timed out; retry)"
    )


@pytest.mark.asyncio
async def test_profiles_with_every_figure_refuse_with_403_without_reading_nodes(kit, settings):
    full = load_database()
    complete = [p for p in full.profiles if not lacking(full, [p.model])]
    exchange = Exchange(ProfileDatabase(sources=full.sources, profiles=complete))
    obj = kit.pod(kit.container("train", tflops_fp16="100000"))
    response = await admission(settings, exchange, cluster=Unreadable()).validate(request(kit, obj))
    assert (response.allowed, response.status.code) == (False, 403)
    assert response.status.message == (
        f"no known accelerator model can serve 100000 TFLOPS fp16 with at most 8 devices "
        f"{PREFERENCES}"
    )


@pytest.mark.asyncio
async def test_unreadable_quota_refuses_with_503_saying_retry(kit, settings, exchange):
    obj = kit.pod(kit.container("train", vram="16Gi"))
    response = await admission(settings, exchange, cluster=Unreadable()).validate(request(kit, obj))
    assert (response.allowed, response.status.code) == (False, 503)
    assert response.status.message == (
        "HCS could not check ComputeQuota now (API server timed out); retry"
    )


@pytest.mark.parametrize(
    ("enforce", "cluster", "admitted"),
    [
        (True, InMemoryCluster(quotas=[quota(vram="8Gi")]), False),
        (False, InMemoryCluster(quotas=[quota(vram="8Gi")]), True),
        (False, Unreadable(), True),
    ],
    ids=["enforced", "not-enforced", "not-enforced-never-reads"],
)
@pytest.mark.asyncio
async def test_quota_is_checked_only_when_enforced(
    kit, settings, exchange, enforce, cluster, admitted
):
    settings.enforce_quota = enforce
    obj = kit.pod(kit.container("train", vram="16Gi"))
    response = await admission(settings, exchange, cluster=cluster).validate(request(kit, obj))
    assert response.allowed is admitted


@pytest.mark.parametrize(
    ("request_namespace", "pod_namespace", "admitted"),
    [
        ("ml", "ml", False),
        ("", "ml", False),
        ("ml", None, False),
        ("other", None, True),
        ("", "other", True),
    ],
    ids=["both", "pod-only", "review-only", "review-elsewhere", "pod-elsewhere"],
)
@pytest.mark.asyncio
async def test_quota_of_the_pods_namespace_is_counted(
    kit, settings, exchange, request_namespace, pod_namespace, admitted
):
    obj = kit.pod(kit.container("train", vram="16Gi"))
    obj["metadata"].pop("namespace")
    if pod_namespace:
        obj["metadata"]["namespace"] = pod_namespace
    cluster = InMemoryCluster(quotas=[quota("ml", vram="8Gi")])
    app = admission(settings, exchange, cluster=cluster)
    response = await app.validate(request(kit, obj, namespace=request_namespace))
    assert response.allowed is admitted


@pytest.mark.parametrize(
    ("request_namespace", "pod_namespace", "admitted"),
    [
        ("trusted", "trusted", True),
        ("trusted", None, True),
        ("", "trusted", True),
        ("ml", None, False),
        ("", "ml", False),
    ],
    ids=["both", "review-only", "pod-only", "untrusted-review", "untrusted-pod"],
)
@pytest.mark.parametrize("decide", ["validate", "mutate"])
@pytest.mark.asyncio
async def test_isolation_is_judged_in_the_pods_namespace(
    kit, settings, exchange, request_namespace, pod_namespace, admitted, decide
):
    settings.trusted_namespaces = ["trusted"]
    settings.enforce_quota = False
    body = kit.container("train", vram="16Gi")
    body["securityContext"] = PRIVILEGED
    obj = kit.pod(body)
    obj["metadata"].pop("namespace")
    if pod_namespace:
        obj["metadata"]["namespace"] = pod_namespace
    app = admission(settings, exchange)
    response = await getattr(app, decide)(request(kit, obj, namespace=request_namespace))
    assert response.allowed is admitted
    if not admitted:
        assert response.status.message == (
            "this pod could switch off the device slice HCS gives it: container 'train': "
            "securityContext.privileged would see every device. Remove them (HCS sets its "
            "own), or ask an operator to add the namespace to the webhook's trusted_namespaces"
        )


def with_debugger(obj, privileged):
    debugged = json.loads(json.dumps(obj))
    debugger = {"name": "debug", "image": "busybox"}
    if privileged:
        debugger["securityContext"] = PRIVILEGED
    debugged["spec"]["ephemeralContainers"] = [debugger]
    return debugged


@pytest.mark.parametrize(
    ("resources", "sub_resource", "privileged", "admitted"),
    [
        ({"vram": "16Gi"}, "ephemeralcontainers", True, False),
        ({"vram": "16Gi"}, "ephemeralcontainers", False, True),
        ({}, "ephemeralcontainers", True, True),
    ],
    ids=["privileged-debugger", "plain-debugger", "pod-without-a-slice"],
)
@pytest.mark.asyncio
async def test_ephemeral_containers_added_on_update_are_judged_on_isolation(
    kit, settings, exchange, resources, sub_resource, privileged, admitted
):
    old = kit.pod(kit.container("train", **resources))
    new = with_debugger(old, privileged)
    app = admission(settings, exchange, cluster=Unreadable())
    response = await app.validate(request(kit, new, "UPDATE", old, subResource=sub_resource))
    assert response.allowed is admitted
    if not admitted:
        assert "ephemeral container 'debug': securityContext.privileged" in (
            response.status.message
        )


@pytest.mark.asyncio
async def test_a_plain_update_is_not_judged_on_isolation(kit, settings, exchange):
    # Kubernetes refuses adding containers by a plain UPDATE; resources are fixed at CREATE.
    old = kit.pod(kit.container("train", vram="16Gi"))
    new = with_debugger(old, privileged=True)
    response = await admission(settings, exchange).validate(request(kit, new, "UPDATE", old))
    assert response.allowed


@pytest.mark.parametrize(
    ("operation", "resource", "decide"),
    [
        ("CREATE", "configmaps", "validate"),
        ("DELETE", "pods", "validate"),
        ("CONNECT", "pods", "validate"),
        ("CREATE", "configmaps", "mutate"),
        ("UPDATE", "pods", "mutate"),
        ("DELETE", "pods", "mutate"),
    ],
    ids=[
        "validate-other-resource",
        "validate-delete",
        "validate-connect",
        "mutate-other-resource",
        "mutate-update",
        "mutate-delete",
    ],
)
@pytest.mark.asyncio
async def test_what_is_not_a_pod_create_or_update_passes_untouched(
    kit, settings, exchange, operation, resource, decide
):
    # A decision annotation and an unreadable quantity: refused were the pod judged.
    obj = kit.pod(kit.container("train", vram="lots"), annotations={"hcs.io/node": "n"})
    if operation == "DELETE":
        obj = None
    review = request(
        kit, obj, operation, resource={"group": "", "version": "v1", "resource": resource}
    )
    response = await getattr(admission(settings, exchange), decide)(review)
    assert (response.uid, response.allowed, response.patch, response.status) == (
        "uid-1",
        True,
        None,
        None,
    )


@pytest.mark.parametrize("decide", ["validate", "mutate"])
@pytest.mark.asyncio
async def test_a_pod_review_without_the_pod_is_a_bad_review(kit, settings, exchange, decide):
    app = admission(settings, exchange)
    with pytest.raises(BadReviewError) as error:
        await getattr(app, decide)(request(kit, None))
    assert str(error.value) == "request.object is missing for a pod CREATE"


@pytest.mark.asyncio
async def test_mutation_warnings_reach_the_user(kit, settings, exchange):
    obj = kit.pod(kit.container("train", vram="16Gi"))
    obj["spec"]["schedulerName"] = "volcano"
    del obj["metadata"]["name"]
    response = await admission(settings, exchange).mutate(request(kit, obj))
    assert response.allowed
    assert response.warnings == [
        "schedulerName 'volcano' kept as set; ai.compute/* resources are placed only by "
        "'hcs-scheduler'"
    ]


@pytest.mark.parametrize("rebind", [False, True], ids=["pinned", "pinned-and-rebound"])
@pytest.mark.asyncio
async def test_a_pinned_vendor_is_kept_when_the_planner_answers_another(
    kit, settings, exchange, rebind
):
    annotations = {"hcs.io/vendors": "nvidia"}
    if rebind:
        annotations["hcs.io/rebind-image"] = "true"
    obj = kit.pod(kit.container("train", vram="16Gi"), annotations=annotations)
    app = admission(settings, exchange, planned("ascend", "Ascend-910B3"))
    result = patched(kit, obj, await app.mutate(request(kit, obj)))
    container = result["spec"]["containers"][0]
    env = kit.env_of(result, "train")
    assert [n for n in env if n.endswith("_VISIBLE_DEVICES")] == ["NVIDIA_VISIBLE_DEVICES"]
    assert env["LD_LIBRARY_PATH"] == "/usr/local/hcs/lib:/usr/local/nvidia/lib64"
    assert [m["mountPath"] for m in container["volumeMounts"]][:2] == [
        "/usr/local/hcs",
        "/usr/local/nvidia",
    ]
    assert not any("Ascend" in json.dumps(v) for v in result["spec"]["volumes"])
    terms = result["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert terms == [
        {"matchExpressions": [{"key": "hcs.io/vendor", "operator": "In", "values": ["nvidia"]}]}
    ]
    image = "nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04" if rebind else kit.container()["image"]
    assert container["image"] == image


@pytest.mark.asyncio
async def test_planner_without_a_vendor_or_reason_is_refused_saying_so(kit, settings, exchange):
    obj = kit.pod(kit.container("train", vram="16Gi"), annotations={"hcs.io/rebind-image": "true"})
    response = await admission(settings, exchange, planned()).mutate(request(kit, obj))
    assert (response.allowed, response.status.code) == (False, 403)
    assert response.status.message == "no vendor can serve this pod now: no reason given"


MIXED = node("gpu-1", ("nvidia", "T4", "pcie"), ("nvidia", "H100-SXM5-80G", "nvlink"))
ASCEND_PCIE = node("npu-1", ("ascend", "Ascend-910B3", "pcie"))
H100_NVLINK = node("gpu-2", ("nvidia", "H100-SXM5-80G", "nvlink"))


@pytest.mark.parametrize(
    ("resources", "annotations", "plan", "nodes", "expected"),
    [
        ({"vram": "1Gi", "devices": "2"}, {"hcs.io/vendors": "nvidia"}, "T4", [MIXED], True),
        (
            {"vram": "1Gi", "devices": "2"},
            {"hcs.io/vendors": "nvidia"},
            "H100-SXM5-80G",
            [MIXED],
            False,
        ),
        ({"tflops_fp16": "130"}, {"hcs.io/vendors": "nvidia"}, "T4", [MIXED], True),
        ({"tflops_fp16": "65"}, {"hcs.io/vendors": "nvidia"}, "T4", [MIXED], False),
        (
            {"vram": "32Gi"},
            {"hcs.io/vendors": "nvidia", "hcs.io/sharded": "true"},
            "T4",
            [MIXED],
            True,
        ),
        (
            {"vram": "1Gi", "devices": "2"},
            {"hcs.io/rebind-image": "true"},
            None,
            [ASCEND_PCIE, H100_NVLINK],
            False,
        ),
    ],
    ids=[
        "planned-model-without-p2p",
        "planned-model-with-nvlink",
        "throughput-needs-two-planned-devices",
        "throughput-needs-one-planned-device",
        "sharded-vram-needs-two-planned-devices",
        "other-vendors-nodes-do-not-count",
    ],
)
@pytest.mark.asyncio
async def test_p2p_switch_follows_the_planned_vendor_model_and_device_count(
    kit, settings, exchange, resources, annotations, plan, nodes, expected
):
    # gpu-1 has a T4 pair on plain PCIe and an H100 pair on NVLink; npu-1 an Ascend pair on PCIe.
    obj = kit.pod(kit.container("train", **resources), annotations=annotations)
    app = admission(
        settings, exchange, planned("nvidia", plan), cluster=InMemoryCluster(nodes=nodes)
    )
    env = kit.env_of(patched(kit, obj, await app.mutate(request(kit, obj))), "train")
    assert ("NCCL_P2P_DISABLE" in env) is expected
    assert not any(name.startswith("HCCL_") for name in env)


@pytest.mark.parametrize(
    ("sidecar", "admitted"),
    [("8Gi", True), ("12Gi", False)],
    ids=["init-beside-sidecar-fits", "init-beside-sidecar-over-one-device"],
)
@pytest.mark.asyncio
async def test_sidecar_init_and_app_containers_make_the_effective_request(
    kit, settings, exchange, sidecar, admitted
):
    # On one A100-40G: apps 16 + 4 + sidecar = 28 or 32Gi fit; the init container's 30Gi runs
    # beside the sidecar, so 38Gi fits and 42Gi does not.
    side = kit.container("side", vram=sidecar)
    side["restartPolicy"] = "Always"
    obj = kit.pod(
        kit.container("train", vram="16Gi"),
        kit.container("eval", vram="4Gi"),
        init=(side, kit.container("warm", vram="30Gi")),
        annotations={"hcs.io/models": "A100-SXM4-40G"},
    )
    app = admission(settings, exchange)
    response = await app.validate(request(kit, obj))
    assert response.allowed is admitted
    if not admitted:
        assert response.status.message.startswith(
            "no known accelerator model can serve 42Gi VRAM with at most 8 devices"
        )
        return
    result = patched(kit, obj, await app.mutate(request(kit, obj)))
    for name in ("side", "warm", "train", "eval"):
        env = kit.env_of(result, name)
        assert env["NVIDIA_VISIBLE_DEVICES"]["fieldRef"]["fieldPath"] == (
            f"metadata.annotations['hcs.io/devices.{name}']"
        )
        assert env["HCS_VRAM_QUOTA"]["fieldRef"]["fieldPath"] == (
            f"metadata.annotations['hcs.io/vram-quota.{name}']"
        )


@pytest.mark.asyncio
async def test_a_review_naming_no_namespace_is_judged_in_the_empty_one(kit, settings, exchange):
    body = kit.container("train", vram="16Gi")
    body["securityContext"] = PRIVILEGED
    obj = kit.pod(body)
    del obj["metadata"]["namespace"]
    settings.trusted_namespaces = [""]
    cluster = InMemoryCluster(quotas=[quota("", vram="8Gi")])
    app = admission(settings, exchange, cluster=cluster)
    assert (await app.mutate(request(kit, obj, namespace=""))).allowed, "trusted: isolation"
    response = await app.validate(request(kit, obj, namespace=""))
    assert response.status.message.startswith("ComputeQuota /team: VRAM would be 16Gi")
