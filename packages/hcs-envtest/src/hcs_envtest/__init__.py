"""A real Kubernetes control plane for tests: etcd, kube-apiserver, kube-scheduler and
kube-controller-manager built from pinned Go modules (tools/controlplane), started on loopback.

    with ControlPlane(tmp_path) as plane:
        api = plane.api_client()
        ...

The pytest plugin `hcs_envtest.pytest_plugin` gives one control plane per test session and a
namespace per test.
"""

from hcs_envtest._binaries import ENV, Binaries
from hcs_envtest._components import start_controller_manager, start_scheduler, wait_for
from hcs_envtest._controlplane import ADMISSION_PLUGINS, DRA_FEATURE_GATES, ControlPlane
from hcs_envtest._http import get as http_status
from hcs_envtest._http import tls_context
from hcs_envtest._pki import CertPair
from hcs_envtest._process import Process, free_port
from hcs_envtest.errors import EnvtestError

__version__ = "0.1.0"
__all__ = [
    "ADMISSION_PLUGINS",
    "DRA_FEATURE_GATES",
    "ENV",
    "Binaries",
    "CertPair",
    "ControlPlane",
    "EnvtestError",
    "Process",
    "free_port",
    "http_status",
    "start_controller_manager",
    "start_scheduler",
    "tls_context",
    "wait_for",
]
