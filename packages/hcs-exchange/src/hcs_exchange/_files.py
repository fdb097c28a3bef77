"""Reading profile, override and calibration YAML files: the I/O shell around the pure models.

Every failure is a ProfileFileError that names the file, the profile and the field.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hcs_api import describe_validation_error
from hcs_exchange.errors import ExchangeError, ProfileFileError
from hcs_exchange.exchange import RateOverride, Workload
from hcs_exchange.profiles import Precision, ProfileDatabase, Source

BUNDLED = "profiles.yaml"
_M = TypeVar("_M", bound=BaseModel)


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as error:
        raise ProfileFileError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ProfileFileError(f"{path} is not valid YAML: {error}") from None


def load_database(path: Path | None = None) -> ProfileDatabase:
    """The bundled profile database, or the one in `path`."""
    if path is None:
        text = importlib.resources.files("hcs_exchange").joinpath("data", BUNDLED).read_text()
        return parse_database(yaml.safe_load(text), f"bundled {BUNDLED}")
    return parse_database(read_yaml(path), str(path))


def parse_database(document: Any, where: str) -> ProfileDatabase:
    return _validate(ProfileDatabase, document, where)


class _RateEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    precision: Precision
    workload: Workload = Workload.COMPUTE
    rate: Fraction = Field(ge=0)
    reason: str = ""


class _OverrideFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: dict[str, Source] = Field(default_factory=dict)
    profiles: list[dict[str, Any]] = Field(default_factory=list)
    """New models, or changes to existing ones (only the fields given change)."""
    rates: list[_RateEntry] = Field(default_factory=list)


def apply_overrides(
    database: ProfileDatabase, path: Path
) -> tuple[ProfileDatabase, list[RateOverride]]:
    """The database with an operator's override file applied, and the rate overrides in it."""
    overrides = _validate(_OverrideFile, read_yaml(path) or {}, str(path))
    merged = database.model_dump(mode="json", exclude_none=True)
    merged["sources"] |= {k: v.model_dump(mode="json") for k, v in overrides.sources.items()}
    by_model = {p["model"]: p for p in merged["profiles"]}
    for patch in overrides.profiles:
        name = patch.get("model")
        existing = _find(database, name)
        if existing is None:
            merged["profiles"].append(patch)
        else:
            by_model[existing] = _deep_merge(by_model[existing], patch | {"model": existing})
    merged["profiles"] = [by_model.get(p["model"], p) for p in merged["profiles"]]
    result = parse_database(merged, f"{path} (applied over the profiles)")
    try:
        rates = [
            RateOverride(result.get(r.model).model, r.precision, r.workload, r.rate, r.reason)
            for r in overrides.rates
        ]
    except ExchangeError as error:
        raise ProfileFileError(f"{path}: rates: {error}") from None
    return result, rates


def _find(database: ProfileDatabase, name: object) -> str | None:
    if not isinstance(name, str):
        return None
    try:
        return database.get(name).model
    except ExchangeError:
        return None


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _validate(model: type[_M], document: Any, where: str) -> _M:
    try:
        return model.model_validate(document)
    except ValidationError as error:
        problems = [_name_profile(line, document) for line in describe_validation_error(error)]
        raise ProfileFileError(f"{where} is invalid:\n  - " + "\n  - ".join(problems)) from None


def _name_profile(line: str, document: Any) -> str:
    """'profiles[3].vram...' -> 'profiles[3] (H100-SXM5-80G).vram...' so the profile is named."""
    if not line.startswith("profiles[") or not isinstance(document, dict):
        return line
    index = int(line[len("profiles[") : line.index("]")])
    profiles = document.get("profiles") or []
    model = profiles[index].get("model") if index < len(profiles) else None
    if not isinstance(model, str):
        return line
    cut = line.index("]") + 1
    return f"{line[:cut]} ({model}){line[cut:]}"


def iter_yaml_documents(paths: Iterable[Path]) -> Iterable[tuple[Path, Any]]:
    for path in paths:
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except OSError as error:
            raise ProfileFileError(f"cannot read {path}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise ProfileFileError(f"{path} is not valid YAML: {error}") from None
        for document in documents:
            if document is not None:
                yield path, document
