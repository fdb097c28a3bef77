"""The agent's errors: one small hierarchy, translated to a message once at the edge (CLI, log)."""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error hcs_agent raises on purpose."""


class ParseError(AgentError):
    """A vendor tool printed something its parser does not recognise."""


class ToolError(AgentError):
    """A vendor tool is missing, hung, or failed."""


class DetectorError(AgentError):
    """One vendor's detection failed; the other vendors still report."""

    def __init__(self, vendor: str, message: str) -> None:
        super().__init__(f"{vendor}: {message}")
        self.vendor = vendor
        self.message = message


class ReportError(AgentError):
    """Writing to the Kubernetes API failed (after retries)."""
