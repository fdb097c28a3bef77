"""The `settings` blocks of the chart's values.schema.json, generated from the components' models.

`agent.settings`, `extender.settings` and `webhook.settings` pass through to AgentSettings,
ExtenderSettings and WebhookSettings. Their schemas come from those pydantic models (types,
ranges, enums; nested models inlined), less the keys the chart sets itself, so a misspelt or
out-of-range setting fails `helm install` instead of the pod's start. A test fails when the
committed schema and the models disagree; `python deploy/helm/settings_schema.py` rewrites it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings

from hcs_agent.settings import AgentSettings
from hcs_scheduler.extender.settings import ExtenderSettings
from hcs_webhook.settings import WebhookSettings

SCHEMA = Path(__file__).parent / "hcs" / "values.schema.json"

CHART_SETS: dict[str, dict[str, str]] = {
    "agent": {
        "node_name": "the downward API's spec.nodeName",
        "sysfs_root": "/host, where the host's /sys is mounted",
        "inventory": "agent.inventory",
        "report": "always on: reporting is the agent's job in a cluster",
        "kubeconfig": "the pod's service account",
        "listen_host": "all addresses, for the probes and Prometheus",
        "listen_port": "agent.metricsPort",
        "overrides": "not offered: it needs a file of its own",
        "kubelet_root": "/host/kubelet, where the host's /var/lib/kubelet/pods is mounted",
        "kmsg_path": "/host/dev/kmsg, the host's kernel log device",
        "ebpf_loader": "the image's /usr/lib/hcs/hcs-ebpf-loader",
    },
    "extender": {
        "host": "all addresses",
        "port": "8888, the port the KubeSchedulerConfiguration calls",
        "cluster": "static mode is not for a cluster",
        "kubeconfig": "the pod's service account",
        "tls_cert": "the serving certificate's Secret",
        "tls_key": "the serving certificate's Secret",
        "client_ca": "HCS's CA, which signs kube-scheduler's client certificate",
        "bind_clients": "hcs-kube-scheduler, the client certificate's CN",
        "token_users": "the webhook's service account",
        "open_bind": "never in a cluster: anyone could bind",
        "leader_elect": "always: replicas must elect one writer",
        "lease_namespace": "the release namespace",
        "identity": "the pod's name",
    },
    "webhook": {
        "host": "all addresses",
        "port": "8443, the Service's target port",
        "tls_cert": "the serving certificate's Secret",
        "tls_key": "the serving certificate's Secret",
        "scheduler_name": "hcs-scheduler, the profile in the KubeSchedulerConfiguration",
        "scheduler_url": "the extender's Service",
        "scheduler_ca": "HCS's CA, which signs the extender's certificate",
        "scheduler_token_file": "the pod's service-account token",
        "hcs_service_accounts": "the extender's service account",
        "runtime_host_path": "runtimeDirectory.hostPath",
        "runtime_mount_path": "runtimeDirectory.mountPath",
        "kubeconfig": "the pod's service account",
    },
}
"""Settings the chart sets itself (or does not offer), with where the value comes from."""

MODELS: dict[str, type[BaseSettings]] = {
    "agent": AgentSettings,
    "extender": ExtenderSettings,
    "webhook": WebhookSettings,
}

_DROPPED = {"title", "description", "default", "format"}


def settings_schema(component: str) -> dict[str, Any]:
    """The JSON schema of `<component>.settings`: the model's fields less CHART_SETS."""
    model = MODELS[component].model_json_schema()
    definitions = model.get("$defs", {})
    properties = {
        name: _inline(schema, definitions)
        for name, schema in model["properties"].items()
        if name not in CHART_SETS[component]
    }
    return {"type": "object", "additionalProperties": False, "properties": properties}


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    """`node` with every $ref replaced by its definition and annotations dropped."""
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _inline(definitions[node["$ref"].rsplit("/", 1)[1]], definitions)
    return {k: _inline(v, definitions) for k, v in node.items() if k not in _DROPPED}


def generated() -> dict[str, Any]:
    """values.schema.json as committed, with the settings blocks regenerated."""
    schema = json.loads(SCHEMA.read_text())
    for component in MODELS:
        schema["properties"][component]["properties"]["settings"] = settings_schema(component)
    return schema


if __name__ == "__main__":
    SCHEMA.write_text(json.dumps(generated(), indent=2) + "\n")
    sys.stdout.write(f"wrote {SCHEMA}\n")
