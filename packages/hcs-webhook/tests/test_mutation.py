"""The mutating decision: the smallest patch that makes an ai.compute/* pod run under HCS, whose
*_VISIBLE_DEVICES resolve to the vendor's own device numbering."""

import copy

import pytest

from hcs_api import ContainerAllocation, PodAllocation, allocation_annotations, read_pod_request
from hcs_api.names import BindPhase, Vendor
from hcs_webhook.mutation import Binding, mutate

VISIBLE = [
    "NVIDIA_VISIBLE_DEVICES",
    "ASCEND_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    "MLU_VISIBLE_DEVICES",
]


def run(obj, settings, binding=None):
    binding = binding or Binding()
    return mutate(obj, read_pod_request(obj), settings, binding)


def test_pod_without_ai_compute_gets_no_patch(kit, settings):
    obj = kit.pod(kit.container())
    assert run(obj, settings).patch == []


def test_late_binding_points_every_vendor_at_the_allocation_annotations(kit, settings):
    obj = kit.pod(kit.container("train", vram="16Gi"))
    patched = kit.apply_patch(obj, run(obj, settings).patch)
    env = kit.env_of(patched, "train")
    for name in VISIBLE:
        ref = env[name]["fieldRef"]["fieldPath"]
        assert ref == "metadata.annotations['hcs.io/devices.train']"
    quota = env["HCS_VRAM_QUOTA"]["fieldRef"]["fieldPath"]
    assert quota == "metadata.annotations['hcs.io/vram-quota.train']"
    assert env["LD_PRELOAD"] == "/usr/local/hcs/lib/libhcs_interceptor.so"
    assert env["LD_LIBRARY_PATH"] == "/usr/local/hcs/lib"
    assert patched["spec"]["schedulerName"] == "hcs-scheduler"
    assert patched["spec"]["volumes"] == [
        {
            "name": "hcs-runtime",
            "hostPath": {"path": "/var/lib/hcs/runtime", "type": "Directory"},
        }
    ]
    mounts = patched["spec"]["containers"][0]["volumeMounts"]
    assert mounts == [{"name": "hcs-runtime", "mountPath": "/usr/local/hcs", "readOnly": True}]
    kit.assert_valid_pod(patched)


def test_patch_is_minimal_and_escapes_slashes(kit, settings):
    body = kit.container("train")
    body["resources"] = {"requests": {"ai.compute/vram": "16Gi", "cpu": "1"}}
    obj = kit.pod(body)
    patch = run(obj, settings).patch
    # Kubernetes requires limits for extended resources: the request is copied, nothing else.
    assert {
        "op": "add",
        "path": "/spec/containers/0/resources/limits",
        "value": {"ai.compute/vram": "16Gi"},
    } in patch
    body["resources"]["limits"] = {"cpu": "1"}
    patch = run(obj, settings).patch
    assert {
        "op": "add",
        "path": "/spec/containers/0/resources/limits/ai.compute~1vram",
        "value": "16Gi",
    } in patch
    paths = [op["path"] for op in patch]
    assert len(paths) == len(set(paths)), "no path is written twice"
    assert all(op["op"] == "add" for op in patch)
    kit.assert_valid_pod(kit.apply_patch(obj, patch))


def test_reinvocation_is_idempotent(kit, settings):
    obj = kit.pod(
        kit.container("train", vram="16Gi", devices="2"),
        kit.container("sidecar"),
        init=(kit.container("warmup", vram="8Gi"),),
    )
    once = kit.apply_patch(obj, run(obj, settings).patch)
    assert run(once, settings).patch == []


@pytest.mark.parametrize(
    ("vendor", "devices", "variable", "visible"),
    [
        (Vendor.ASCEND, ["ascend-0"], "ASCEND_VISIBLE_DEVICES", "0"),
        (Vendor.NVIDIA, ["nvidia-2", "nvidia-3"], "NVIDIA_VISIBLE_DEVICES", "2,3"),
        (Vendor.HYGON, ["hygon-1"], "HIP_VISIBLE_DEVICES", "1"),
    ],
    ids=["ascend", "nvidia-two-devices", "hygon"],
)
def test_visible_devices_resolve_to_the_vendors_own_numbering(
    kit, settings, vendor, devices, variable, visible
):
    # What the kubelet's downward API does with the injected env and the extender's annotations.
    obj = kit.pod(kit.container("train", vram="16Gi"))
    env = kit.env_of(kit.apply_patch(obj, run(obj, settings).patch), "train")
    allocation = PodAllocation(
        node="n",
        vendor=vendor,
        model="m",
        vram=16 << 30,
        share=100,
        containers=[ContainerAllocation(container="train", devices=devices, vram=1, share=100)],
    )
    annotations = allocation_annotations(allocation, BindPhase.BOUND)
    path = env[variable]["fieldRef"]["fieldPath"]
    key = path.removeprefix("metadata.annotations['").removesuffix("']")
    assert annotations[key] == visible


def test_init_and_several_containers_each_get_their_own_annotations(kit, settings):
    obj = kit.pod(
        kit.container("train", vram="16Gi"),
        kit.container("logger"),
        kit.container("eval", vram="8Gi"),
        init=(kit.container("warmup", vram="8Gi"), kit.container("fetch")),
    )
    patched = kit.apply_patch(obj, run(obj, settings).patch)
    for name in ("train", "eval", "warmup"):
        ref = kit.env_of(patched, name)["NVIDIA_VISIBLE_DEVICES"]["fieldRef"]["fieldPath"]
        assert ref == f"metadata.annotations['hcs.io/devices.{name}']"
    assert kit.env_of(patched, "logger") == {}
    assert kit.env_of(patched, "fetch") == {}
    kit.assert_valid_pod(patched)


def test_users_explicit_env_wins_and_is_reported(kit, settings):
    body = kit.container("train", vram="16Gi")
    body["env"] = [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "0"}, {"name": "A", "value": "b"}]
    obj = kit.pod(body)
    mutation = run(obj, settings)
    patched = kit.apply_patch(obj, mutation.patch)
    env = kit.env_of(patched, "train")
    assert env["NVIDIA_VISIBLE_DEVICES"] == "0"
    assert env["A"] == "b"
    assert "HIP_VISIBLE_DEVICES" in env
    assert any("NVIDIA_VISIBLE_DEVICES kept as set" in w for w in mutation.warnings)


def test_process_level_device_variables_are_left_to_the_runtime(kit, settings):
    # nvidia-container-runtime and Ascend's runtime expose only the listed node devices,
    # renumbered from 0: node ids in CUDA_/ASCEND_RT_VISIBLE_DEVICES would pick the wrong ones.
    patched = kit.apply_patch(
        obj := kit.pod(kit.container("train", vram="16Gi")), run(obj, settings).patch
    )
    env = kit.env_of(patched, "train")
    assert "CUDA_VISIBLE_DEVICES" not in env
    assert "ASCEND_RT_VISIBLE_DEVICES" not in env


@pytest.mark.parametrize(
    ("scheduler", "expected", "warned"),
    [
        (None, "hcs-scheduler", False),
        ("default-scheduler", "hcs-scheduler", False),
        ("hcs-scheduler", "hcs-scheduler", False),
        ("volcano", "volcano", True),
    ],
    ids=["unset", "default", "already-hcs", "another-scheduler-kept"],
)
def test_scheduler_name(kit, settings, scheduler, expected, warned):
    obj = kit.pod(kit.container("train", vram="16Gi"))
    if scheduler:
        obj["spec"]["schedulerName"] = scheduler
    mutation = run(obj, settings)
    assert kit.apply_patch(obj, mutation.patch)["spec"]["schedulerName"] == expected
    assert any("schedulerName" in w for w in mutation.warnings) == warned


def test_early_binding_ascend_mounts_driver_and_pins_the_vendor(kit, settings):
    obj = kit.pod(kit.container("train", vram="32Gi"), annotations={"hcs.io/vendors": "ascend"})
    patched = kit.apply_patch(obj, run(obj, settings, Binding(vendor=Vendor.ASCEND)).patch)
    env = kit.env_of(patched, "train")
    assert "ASCEND_VISIBLE_DEVICES" in env
    assert "NVIDIA_VISIBLE_DEVICES" not in env
    assert env["LD_LIBRARY_PATH"].startswith("/usr/local/hcs/lib:/usr/local/Ascend/driver/lib64")
    mounts = {m["mountPath"]: m for m in patched["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["/usr/local/Ascend/driver"]["readOnly"] is True
    terms = patched["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert terms == [
        {"matchExpressions": [{"key": "hcs.io/vendor", "operator": "In", "values": ["ascend"]}]}
    ]
    kit.assert_valid_pod(patched)
    again = run(patched, settings, Binding(vendor=Vendor.ASCEND))
    assert again.patch == []


def test_vendor_affinity_is_anded_into_each_existing_term(kit, settings):
    obj = kit.pod(kit.container("train", vram="16Gi"))
    zone = {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}
    obj["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [zone]},
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]},
                ]
            }
        }
    }
    patched = kit.apply_patch(obj, run(obj, settings, Binding(vendor=Vendor.NVIDIA)).patch)
    terms = patched["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    vendor = {"key": "hcs.io/vendor", "operator": "In", "values": ["nvidia"]}
    assert terms[0]["matchExpressions"] == [zone, vendor]
    assert terms[1]["matchExpressions"] == [vendor]
    kit.assert_valid_pod(patched)


def test_image_rebinding_copies_the_code_in_through_an_init_container(kit, settings):
    body = kit.container("train", vram="16Gi")
    body["workingDir"] = "/src"
    body["imagePullPolicy"] = "Always"
    obj = kit.pod(body, init=(kit.container("fetch"),), annotations={"hcs.io/rebind-image": "true"})
    binding = Binding(vendor=Vendor.NVIDIA, rebind_image=True)
    patched = kit.apply_patch(obj, run(obj, settings, binding).patch)
    app = patched["spec"]["containers"][0]
    assert app["image"] == "nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04"
    copier, fetch = patched["spec"]["initContainers"]
    assert fetch["name"] == "fetch"
    assert copier["name"] == "hcs-code-train"
    assert copier["image"] == "registry.example.com/ml/app:1"
    assert copier["command"] == ["cp", "-a", "/src/.", "/hcs-code/"]
    assert copier["imagePullPolicy"] == "Always"
    assert {"name": "hcs-code-train", "mountPath": "/src"} in app["volumeMounts"]
    assert {"name": "hcs-code-train", "emptyDir": {}} in patched["spec"]["volumes"]
    kit.assert_valid_pod(patched)
    assert run(patched, settings, binding).patch == []


def test_p2p_switches_are_set_in_accelerated_containers(kit, settings):
    obj = kit.pod(kit.container("train", vram="16Gi", devices="4"))
    binding = Binding(p2p_env={"NCCL_P2P_DISABLE": "1"})
    env = kit.env_of(kit.apply_patch(obj, run(obj, settings, binding).patch), "train")
    assert env["NCCL_P2P_DISABLE"] == "1"


def test_a_mount_path_the_user_already_uses_is_left_to_them(kit, settings):
    body = kit.container("train", vram="16Gi")
    body["volumeMounts"] = [{"name": "mine", "mountPath": "/usr/local/hcs"}]
    obj = kit.pod(body)
    obj["spec"]["volumes"] = [{"name": "mine", "emptyDir": {}}]
    mutation = run(obj, settings)
    patched = kit.apply_patch(copy.deepcopy(obj), mutation.patch)
    assert patched["spec"]["containers"][0]["volumeMounts"] == body["volumeMounts"]
    assert any("/usr/local/hcs is already mounted" in w for w in mutation.warnings)
    kit.assert_valid_pod(patched)
