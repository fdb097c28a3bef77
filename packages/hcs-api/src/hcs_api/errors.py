"""The one error hierarchy of hcs_api: every failure a caller can act on names its input."""

from pydantic import ValidationError


class HcsApiError(ValueError):
    """Base of every error hcs_api raises for bad input."""


class QuantityError(HcsApiError):
    """A string or number that is not a Kubernetes quantity (or not one this field allows)."""


class RequestError(HcsApiError):
    """A pod whose `ai.compute/*` requests or `hcs.io/` preferences cannot be honoured."""


def a_type(value: object) -> str:
    """'a dict', 'an int': the type a client sent, named in a message without printing the
    value (which can be megabytes, or nested past the recursion limit)."""
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def describe_validation_error(error: ValidationError, prefix: str = "") -> list[str]:
    """One line per problem, naming the field path as a user wrote it (spec.devices[0].vram)."""
    lines = []
    for problem in error.errors(include_url=False):
        path = prefix
        for part in problem["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{path or '(document)'}: {message}")
    return lines
