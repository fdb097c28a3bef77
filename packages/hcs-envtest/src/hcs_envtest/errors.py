"""The harness's one error: a control plane that cannot be found, started or reached."""


class EnvtestError(Exception):
    """The message says which binary or step failed and, for a process, how its log ends."""
