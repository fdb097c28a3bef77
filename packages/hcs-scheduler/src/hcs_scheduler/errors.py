"""The error hierarchy of hcs_scheduler; every message names the input at fault."""

from hcs_api import HcsApiError


class SchedulerError(HcsApiError):
    """Base of every error hcs_scheduler raises for bad input."""


class ConfigError(SchedulerError):
    """A policy name, option or setting that does not exist or does not parse."""


class InputError(SchedulerError):
    """A cluster or workload file with a problem; the message names the file, line and reason."""
