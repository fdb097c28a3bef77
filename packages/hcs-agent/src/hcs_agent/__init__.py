"""hcs_agent: the HCS node agent. Fingerprints a node's accelerators (NVIDIA through NVML, Huawei
Ascend through npu-smi, Hygon DCU through KFD sysfs and hy-smi, Cambricon MLU through cnmon, or a
YAML inventory), places them on the PCIe tree, scores their health, and keeps the node's
ComputeNode and `ai.compute/*` extended resources true.
"""

__version__ = "0.3.0"

from hcs_agent.agent import Agent, make_detectors
from hcs_agent.collect import Collection, Collector
from hcs_agent.computenode import Built, build, extended_resources
from hcs_agent.detect import Detector
from hcs_agent.errors import AgentError, DetectorError, ParseError, ReportError, ToolError
from hcs_agent.model import Detection, DeviceInfo, HealthSignals, PeerLink
from hcs_agent.report import InMemoryKube, KubePort, Reporter
from hcs_agent.settings import AgentSettings, load_settings

__all__ = [
    "Agent",
    "AgentError",
    "AgentSettings",
    "Built",
    "Collection",
    "Collector",
    "Detection",
    "Detector",
    "DetectorError",
    "DeviceInfo",
    "HealthSignals",
    "InMemoryKube",
    "KubePort",
    "ParseError",
    "PeerLink",
    "ReportError",
    "Reporter",
    "ToolError",
    "__version__",
    "build",
    "extended_resources",
    "load_settings",
    "make_detectors",
]
