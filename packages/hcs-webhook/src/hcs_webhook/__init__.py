"""hcs_webhook: HCS's admission webhook for pods that ask for `ai.compute/*`.

It refuses what HCS cannot honour (unreadable requests, requests no model can serve, decision
annotations written by users, pods over a ComputeQuota) and makes the rest runnable: the
scheduler's name, the device env resolved through the downward API at bind (late binding), or
the vendor's runtime chosen at admission (early binding).
"""

from hcs_webhook.admission import Admission, Deps
from hcs_webhook.errors import WebhookError
from hcs_webhook.mutation import Binding, mutate
from hcs_webhook.server import create_app
from hcs_webhook.settings import WebhookSettings, load_settings

__version__ = "0.3.0"

__all__ = [
    "Admission",
    "Binding",
    "Deps",
    "WebhookError",
    "WebhookSettings",
    "__version__",
    "create_app",
    "load_settings",
    "mutate",
]
