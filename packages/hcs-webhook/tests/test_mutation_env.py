"""The mutating patch in full: each vendor's env, mounts and volumes, rebinding, and warnings."""

import pytest

from hcs_api import read_pod_request
from hcs_api.names import Vendor
from hcs_webhook.mutation import Binding, Mutation, desired_env, mutate

RUNTIME_MOUNT = {"name": "hcs-runtime", "mountPath": "/usr/local/hcs", "readOnly": True}
RUNTIME_VOLUME = {
    "name": "hcs-runtime",
    "hostPath": {"path": "/var/lib/hcs/runtime", "type": "Directory"},
}


def run(obj, settings, binding=None):
    return mutate(obj, read_pod_request(obj), settings, binding or Binding())


def from_annotation(name, annotation):
    path = f"metadata.annotations['{annotation}']"
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def devices(name):
    return from_annotation(name, "hcs.io/devices.train")


QUOTA = from_annotation("HCS_VRAM_QUOTA", "hcs.io/vram-quota.train")
PRELOAD = {"name": "LD_PRELOAD", "value": "/usr/local/hcs/lib/libhcs_interceptor.so"}


def libraries(*paths):
    return {"name": "LD_LIBRARY_PATH", "value": ":".join(("/usr/local/hcs/lib", *paths))}


@pytest.mark.parametrize(
    ("vendor", "p2p", "expected"),
    [
        (
            None,
            {},
            [
                devices("NVIDIA_VISIBLE_DEVICES"),
                devices("ASCEND_VISIBLE_DEVICES"),
                devices("HIP_VISIBLE_DEVICES"),
                devices("MLU_VISIBLE_DEVICES"),
                QUOTA,
                PRELOAD,
                libraries(),
            ],
        ),
        (
            Vendor.NVIDIA,
            {"NCCL_P2P_DISABLE": "1"},
            [
                devices("NVIDIA_VISIBLE_DEVICES"),
                QUOTA,
                PRELOAD,
                libraries("/usr/local/nvidia/lib64"),
                {"name": "NCCL_P2P_DISABLE", "value": "1"},
            ],
        ),
        (
            Vendor.HYGON,
            {},
            [
                devices("HIP_VISIBLE_DEVICES"),
                QUOTA,
                PRELOAD,
                libraries("/opt/dtk/lib", "/opt/hyhal/lib"),
                {"name": "ROCM_PATH", "value": "/opt/dtk"},
            ],
        ),
        (
            Vendor.CAMBRICON,
            {},
            [
                devices("MLU_VISIBLE_DEVICES"),
                QUOTA,
                PRELOAD,
                libraries("/usr/local/neuware/lib64"),
                {"name": "NEUWARE_HOME", "value": "/usr/local/neuware"},
            ],
        ),
    ],
    ids=["late", "nvidia-without-p2p", "hygon", "cambricon"],
)
def test_each_vendors_env_in_full(kit, settings, vendor, p2p, expected):
    binding = Binding(vendor=vendor, p2p_env=p2p)
    assert desired_env("train", settings, binding) == expected
    obj = kit.pod(kit.container("train", vram="16Gi"))
    patched = kit.apply_patch(obj, run(obj, settings, binding).patch)
    assert patched["spec"]["containers"][0]["env"] == expected


@pytest.mark.parametrize("vendor", [None, Vendor.NVIDIA], ids=["late", "nvidia"])
def test_the_resume_point_is_a_plain_value_in_each_accelerated_container(kit, settings, vendor):
    binding = Binding(vendor=vendor, resume_from="/ckpt/step-30.pt")
    resume = {"name": "HCS_RESUME_FROM", "value": "/ckpt/step-30.pt"}
    assert desired_env("train", settings, binding)[-1] == resume
    assert "HCS_RESUME_FROM" not in {e["name"] for e in desired_env("train", settings, Binding())}
    obj = kit.pod(
        kit.container("train", vram="16Gi"),
        kit.container("logs"),
        init=(kit.container("warm", vram="8Gi"),),
    )
    patched = kit.apply_patch(obj, run(obj, settings, binding).patch)
    assert kit.env_of(patched, "train")["HCS_RESUME_FROM"] == "/ckpt/step-30.pt"
    assert kit.env_of(patched, "warm")["HCS_RESUME_FROM"] == "/ckpt/step-30.pt"
    assert kit.env_of(patched, "logs") == {}
    again = run(patched, settings, binding)
    assert (again.patch, again.warnings) == ([], [])


@pytest.mark.parametrize(
    ("vendor", "drivers"),
    [
        (None, []),
        (Vendor.NVIDIA, ["/usr/local/nvidia"]),
        (Vendor.HYGON, ["/opt/hyhal", "/opt/dtk"]),
    ],
    ids=["late", "nvidia", "hygon"],
)
def test_runtime_and_driver_mounts_in_full(kit, settings, vendor, drivers):
    obj = kit.pod(kit.container("train", vram="16Gi"))
    mutation = run(obj, settings, Binding(vendor=vendor))
    patched = kit.apply_patch(obj, mutation.patch)
    names = [f"hcs-driver-{i}" for i in range(len(drivers))]
    assert patched["spec"]["containers"][0]["volumeMounts"] == [RUNTIME_MOUNT] + [
        {"name": n, "mountPath": p, "readOnly": True} for n, p in zip(names, drivers, strict=True)
    ]
    assert patched["spec"]["volumes"] == [RUNTIME_VOLUME] + [
        {"name": n, "hostPath": {"path": p, "type": "Directory"}}
        for n, p in zip(names, drivers, strict=True)
    ]
    again = run(patched, settings, Binding(vendor=vendor))
    assert (again.patch, again.warnings) == ([], [])


def test_rebinding_rewrites_every_app_container_and_no_init_container(kit, settings):
    obj = kit.pod(
        kit.container("train", vram="16Gi"),
        kit.container("eval", vram="8Gi"),
        init=(kit.container("warm", vram="8Gi"),),
        annotations={"hcs.io/rebind-image": "true"},
    )
    binding = Binding(vendor=Vendor.NVIDIA, rebind_image=True)
    patched = kit.apply_patch(obj, run(obj, settings, binding).patch)
    runtime = "nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04"
    inits = patched["spec"]["initContainers"]
    assert [c["name"] for c in inits] == ["hcs-code-train", "hcs-code-eval", "warm"]
    assert inits[2]["image"] == "registry.example.com/ml/app:1"
    for app in patched["spec"]["containers"]:
        assert app["image"] == runtime
        assert app["volumeMounts"] == [
            RUNTIME_MOUNT,
            {"name": "hcs-driver-0", "mountPath": "/usr/local/nvidia", "readOnly": True},
            {"name": f"hcs-code-{app['name']}", "mountPath": "/workspace"},
        ]
        assert app["resources"]["limits"] == app["resources"]["requests"]
        assert [e["name"] for e in app["env"]] == [
            "NVIDIA_VISIBLE_DEVICES",
            "HCS_VRAM_QUOTA",
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
        ]
    kit.assert_valid_pod(patched)


def test_pod_without_ai_compute_gets_no_patch_and_no_warning(kit, settings):
    obj = kit.pod(kit.container())
    assert run(obj, settings) == Mutation([], [])


def test_empty_scheduler_name_is_replaced_without_a_warning(kit, settings):
    obj = kit.pod(kit.container("train", vram="16Gi"))
    obj["spec"]["schedulerName"] = ""
    mutation = run(obj, settings)
    assert kit.apply_patch(obj, mutation.patch)["spec"]["schedulerName"] == "hcs-scheduler"
    assert mutation.warnings == []


def test_users_own_value_is_kept_with_a_warning_saying_so(kit, settings):
    body = kit.container("train", vram="16Gi")
    body["env"] = [{"name": "LD_LIBRARY_PATH", "value": "/opt/mine"}]
    mutation = run(kit.pod(body), settings)
    assert mutation.warnings == [
        "container 'train': env LD_LIBRARY_PATH kept as set in the pod; HCS would have set it "
        "for the device allocation"
    ]
    assert all("LD_LIBRARY_PATH" not in str(op["value"]) for op in mutation.patch)


def test_hcs_env_without_the_defaulted_api_version_is_recognised(kit, settings):
    # The API server defaults fieldRef.apiVersion to v1; an entry written without it is ours.
    body = kit.container("train", vram="16Gi")
    path = "metadata.annotations['hcs.io/devices.train']"
    body["env"] = [
        {"name": "NVIDIA_VISIBLE_DEVICES", "valueFrom": {"fieldRef": {"fieldPath": path}}}
    ]
    mutation = run(kit.pod(body), settings, Binding(vendor=Vendor.NVIDIA))
    assert mutation.warnings == []
    added = [op for op in mutation.patch if op["path"].startswith("/spec/containers/0/env")]
    assert [op["value"]["name"] for op in added] == [
        "HCS_VRAM_QUOTA",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
    ]


def test_a_path_the_user_mounts_is_left_to_them_and_the_rest_still_mounted(kit, settings):
    body = kit.container("train", vram="16Gi")
    body["volumeMounts"] = [{"name": "mine", "mountPath": "/usr/local/hcs"}]
    obj = kit.pod(body)
    obj["spec"]["volumes"] = [{"name": "mine", "emptyDir": {}}]
    mutation = run(obj, settings, Binding(vendor=Vendor.NVIDIA))
    assert mutation.warnings == [
        "container 'train': /usr/local/hcs is already mounted (mine); HCS's hcs-runtime is not "
        "mounted there"
    ]
    mounts = kit.apply_patch(obj, mutation.patch)["spec"]["containers"][0]["volumeMounts"]
    assert mounts == [
        {"name": "mine", "mountPath": "/usr/local/hcs"},
        {"name": "hcs-driver-0", "mountPath": "/usr/local/nvidia", "readOnly": True},
    ]


def test_a_mount_already_in_place_does_not_stop_the_others(kit, settings):
    settings.preload_from_file = True
    body = kit.container("train", vram="16Gi")
    body["volumeMounts"] = [dict(RUNTIME_MOUNT)]
    obj = kit.pod(body)
    mutation = run(obj, settings, Binding(vendor=Vendor.NVIDIA))
    mounts = kit.apply_patch(obj, mutation.patch)["spec"]["containers"][0]["volumeMounts"]
    assert mounts == [
        RUNTIME_MOUNT,
        {
            "name": "hcs-runtime",
            "mountPath": "/etc/ld.so.preload",
            "subPath": "ld.so.preload",
            "readOnly": True,
        },
        {"name": "hcs-driver-0", "mountPath": "/usr/local/nvidia", "readOnly": True},
    ]
    assert mutation.warnings == []


def test_a_value_beside_hcs_field_ref_is_not_hcs_entry(kit, settings):
    body = kit.container("train", vram="16Gi")
    path = "metadata.annotations['hcs.io/devices.train']"
    body["env"] = [
        {
            "name": "NVIDIA_VISIBLE_DEVICES",
            "value": "0",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}},
        }
    ]
    mutation = run(kit.pod(body), settings, Binding(vendor=Vendor.NVIDIA))
    assert mutation.warnings == [
        "container 'train': env NVIDIA_VISIBLE_DEVICES kept as set in the pod; HCS would have "
        "set it for the device allocation"
    ]
