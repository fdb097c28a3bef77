"""The one error hierarchy of hcs_webhook, translated to HTTP once, in the server's middleware.

An admission *denial* (the pod is bad) is not an error: it is a normal answer with
`allowed: false`. Errors are for the review itself being unusable (400) or for the webhook's
configuration or its neighbours failing.
"""


class WebhookError(Exception):
    """Base of every error hcs_webhook raises on purpose."""


class BadReviewError(WebhookError):
    """The HTTP request is not a usable AdmissionReview (not JSON, too big, wrong shape): 400."""


class ConfigError(WebhookError):
    """A setting is invalid; the message names the key."""


class PlanError(WebhookError):
    """hcs-scheduler's `POST /plan` could not be asked or gave no usable answer."""


class ClusterReadError(WebhookError):
    """A read from the Kubernetes API failed (quota, pods, ComputeNodes)."""
