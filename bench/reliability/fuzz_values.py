"""The values fuzz_bodies.py mutates bodies with: what a careless or hostile client sends where
HCS reads a quantity, an annotation, a name or an enum, and which keys HCS reads at all."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Raw:
    """A JSON number (or other literal) written exactly as `text`: 1e400, NaN, 10^5000 brackets."""

    text: str


def deep(depth: int) -> Raw:
    """`depth` nested JSON arrays, written out (too deep for json.dumps to build)."""
    return Raw("[" * depth + "0" + "]" * depth)


QUANTITIES: tuple[object, ...] = (
    "0", 0, 0.0, "0Gi", "0m", "-0", "-1", -1, "-16Gi", -0.5, "0.5", 0.5, "500m", "1.5Gi",
    "16Gi", "80Gi", "1", 1, "2", 8, "100", "100000", 1e71, 1e72, 1e300, 1.7976931348623157e308,
    Raw("1e400"), Raw("-1e400"), Raw("1e-400"), Raw("1E71"), "1e71", "1e400", "1e-400",
    10**80, -(10**80), str(10**80), 10**70, "1e30", Raw("1" + "0" * 5000), 2**63, 2**63 - 1,
    2**64, "9223372036854775808", "1Ei", "8Ei", "1e18", "16 Gi", "16GB", "16gi", "Gi", "",
    " 16Gi", "16Gi\n", "\u0661\u0666Gi",
    "0x10", "1_000", "+16Gi", ".5", "5.", "1e", "1e+3", "NaN", Raw("NaN"), Raw("Infinity"),
    Raw("-Infinity"), True, None, [], {}, ["16Gi"], {"value": "16Gi"},
)  # fmt: skip
STRINGS: tuple[str, ...] = (
    "", " ", "\x00", "\ud800", "\udfff", "caf\u00e9", "\u540d\u524d", "\U0001f680" * 8,
    "\u202egnp.exe", "a" * 64, "a" * 254, "a" * 10_000, "../../etc/passwd", "%s%n%x",
    "${jndi:ldap://x}", "null", "true", "-1", "NaN", "\n", "\r\n\t", "ai.compute/vram",
    "hcs.io/node", "train", "Train", "tr ain", "tr.ain", "-train", "x" * 63 + "y",
    # what HCS enforces through (a pod that sets or mounts one is refused, never a 5xx)
    "LD_PRELOAD", "NVIDIA_VISIBLE_DEVICES", "ASCEND_VISIBLE_DEVICES", "HCS_VRAM_QUOTA",
    "HCS_VRAM_QUOTA_0", "HCS_SHM_PATH", "all", "/usr/local/hcs", "/usr/local/hcs/lib",
    "/etc/ld.so.preload", "/usr/local/nvidia", "/dev", "/dev/nvidia0", "/", "hcs-runtime",
    "hcs-driver-0",
)  # fmt: skip
WRONG_TYPES: tuple[object, ...] = (
    None, True, False, 0, -1, 1.5, [], {}, [None], {"": None}, "x", 10**30, Raw("1e400"),
    Raw("-0"), [[[]]], {"a": {"b": {}}},
)  # fmt: skip
RESOURCES = (
    "ai.compute/vram", "ai.compute/tflops-fp16", "ai.compute/tflops-fp32",
    "ai.compute/tops-int8", "ai.compute/devices", "ai.compute/bogus", "ai.compute/VRAM",
    "ai.compute/", "nvidia.com/gpu", "cpu", "memory",
)  # fmt: skip
ANNOTATIONS = (
    "hcs.io/vendors", "hcs.io/exclude-vendors", "hcs.io/models", "hcs.io/exclude-models",
    "hcs.io/topology", "hcs.io/allow-downgrade", "hcs.io/checkpoint-dir", "hcs.io/rebind-image",
    "hcs.io/sharded", "hcs.io/node", "hcs.io/vendor", "hcs.io/allocation", "hcs.io/bind-phase",
    "hcs.io/bind-time", "hcs.io/devices.", "hcs.io/vram-quota.",
)  # fmt: skip
ANNOTATION_VALUES: tuple[object, ...] = (
    "nvidia", "ascend", "hygon,cambricon", "nvidia,nvidia", "nvidia, ascend", "amd", "NVIDIA",
    "", ",", "true", "false", "True", "yes", "none", "preferred", "required", "/ckpt", "ckpt",
    "H100-SXM5-80G", "A100-SXM4-40G,Ascend-910B1", "no-such-model", "0,1", "reserved", "bound",
    '{"node": "gpu-h100"}', "{}", "[]", "2026-11-23T10:00:00Z", 5, None, [], {},
)  # fmt: skip
ENUMS: dict[str, tuple[object, ...]] = {
    "operation": ("CREATE", "UPDATE", "DELETE", "CONNECT", "create", "PATCH"),
    "resource": ("pods", "Pods", "deployments", "pods/binding"),
    "subResource": ("", "status", "binding", "ephemeralcontainers"),
    "restartPolicy": ("Always", "Never", "OnFailure", "always"),
    "kind": ("Pod", "AdmissionReview", "Deployment", "pod", ""),
    "apiVersion": ("v1", "admission.k8s.io/v1", "admission.k8s.io/v1beta1", "apps/v1"),
    "username": ("system:serviceaccount:hcs-system:hcs-scheduler", "alice", ""),
    "group": ("", "apps", "batch"),
    "version": ("v1", "v1beta1", ""),
}
HOT_KEYS = frozenset(
    {
        "request", "uid", "operation", "object", "oldObject", "kind", "resource", "userInfo",
        "subResource", "metadata", "annotations", "name", "namespace", "spec", "containers",
        "initContainers", "resources", "requests", "limits", "restartPolicy", "env",
        "volumeMounts", "volumes", "affinity", "image", "workingDir", "Pod", "pod", "NodeNames",
        "Nodes", "items", "PodName", "PodNamespace", "PodUID", "Node", "nodeName",
        "ephemeralContainers", "securityContext", "privileged", "hostPath", "path",
        "mountPath", "subPath", "envFrom", "valueFrom", "fieldRef", "fieldPath", "value",
    }
)  # fmt: skip
