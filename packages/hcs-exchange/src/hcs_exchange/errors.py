"""The error hierarchy of hcs_exchange; each message names the model, field or file at fault."""

from hcs_api import HcsApiError


class ExchangeError(HcsApiError):
    """Base of every error hcs_exchange raises for bad input."""


class ProfileFileError(ExchangeError):
    """A profile, override or calibration file that cannot be read or does not validate."""


class UnknownModelError(ExchangeError, KeyError):
    """A model name no profile or alias matches; `suggestions` holds the nearest names."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown model {name!r}{hint}")
        self.name = name
        self.suggestions = suggestions

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])
