"""Reading device ids written before they were vendor-qualified (hcs-api before 0.3).

Agents then wrote the vendor's bare index ("0") as a device id and as link peers, and extenders
wrote it in status.devices. The models run these as `mode="before"` validators, so such objects
read as `<vendor>-<index>`: a new scheduler works with old agents and old ComputeNodes, no flag
day. Objects are raw dicts from the API (or models built in code); a value these functions do not
understand is passed on untouched for the field validators to name. Can go once no agent older
than hcs-agent 0.2 may still report.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from hcs_api.errors import HcsApiError
from hcs_api.names import Vendor, qualify_device_id, vendor_index

_PREFIXES = tuple(f"{vendor.value}-" for vendor in Vendor)
_ROCE = "roce"
"""RoCE link peers name NICs, not devices: never qualified."""
_ONE = rf"(?:{'|'.join(vendor.value for vendor in Vendor)})-[^\x00]*"
_ALL_QUALIFIED = re.compile(rf"{_ONE}(?:\x00{_ONE})*")
"""Ids joined by NUL, each `<vendor>-...`: one C-speed check for a whole peer list."""


def device(data: Any) -> Any:
    """A Device's input with its id and link peers qualified by its own vendor (old agents
    linked devices of one vendor only)."""
    if not isinstance(data, dict) or not isinstance(data.get("vendor"), str):
        return data
    ident, links = data.get("id"), data.get("links")
    if not _is_bare(ident) and (not isinstance(links, list) or all(map(_link_is_new, links))):
        return data  # the common case, a new agent's node: nothing to copy
    vendor = data["vendor"]
    out = {**data, "id": _qualified(vendor, ident) if isinstance(ident, str) else ident}
    if isinstance(links, list):
        out["links"] = [_link(vendor, link) for link in links]
    return out


def node(data: Any) -> Any:
    """A ComputeNode's input with status.devices ids qualified: each bare index is the spec
    device with that index (the spec alone knows the vendor)."""
    if not isinstance(data, dict):
        return data
    status = data.get("status")
    if not isinstance(status, dict):
        return data
    entries = status.get("devices")
    if not isinstance(entries, list) or not any(_is_bare(_id_of(e)) for e in entries):
        return data
    by_index = _qualified_by_index(data.get("spec"))
    renamed = [_renamed(entry, by_index) for entry in entries]
    return {**data, "status": {**status, "devices": renamed}}


def _qualified(vendor: str, raw: str) -> str:
    if raw.startswith(_PREFIXES):
        return raw
    try:
        return qualify_device_id(vendor, raw)
    except HcsApiError:  # an unknown vendor or a malformed index: the validators say which
        return raw


def _link(vendor: str, link: Any) -> Any:
    if isinstance(link, BaseModel):  # a Link built in code
        peers = getattr(link, "peers", None)
        if getattr(link, "type", None) == _ROCE or not isinstance(peers, list):
            return link
        qualified = [_qualified(vendor, p) for p in peers]
        return link if qualified == peers else link.model_copy(update={"peers": qualified})
    if not isinstance(link, dict) or link.get("type") == _ROCE:
        return link
    raw = link.get("peers")
    if not isinstance(raw, list) or _all_qualified(raw):
        return link
    return {**link, "peers": [_qualified(vendor, p) if isinstance(p, str) else p for p in raw]}


def _all_qualified(values: list[Any]) -> bool:
    """True when every value is a qualified id (the common case, checked at C speed)."""
    try:
        return not values or _ALL_QUALIFIED.fullmatch("\x00".join(values)) is not None
    except TypeError:  # not all strings: the slow path passes them on to the validators
        return False


def _link_is_new(link: Any) -> bool:
    """Nothing in `link` to qualify: RoCE, or every peer qualified already."""
    kind = link.get("type") if isinstance(link, dict) else getattr(link, "type", None)
    peers = link.get("peers") if isinstance(link, dict) else getattr(link, "peers", None)
    return kind == _ROCE or not isinstance(peers, list) or _all_qualified(peers)


def _is_bare(raw: Any) -> bool:
    return isinstance(raw, str) and not raw.startswith(_PREFIXES)


def _id_of(entry: Any) -> Any:
    return entry.get("id") if isinstance(entry, dict) else None


def _qualified_by_index(spec: Any) -> dict[str, str]:
    """Bare index -> qualified id of the spec's devices; an index two vendors share is left out
    (only a new agent writes such a node, and only a new extender its status)."""
    raw = spec.get("devices") if isinstance(spec, dict) else getattr(spec, "devices", None)
    found: dict[str, str | None] = {}
    for entry in raw if isinstance(raw, list) else []:
        pair = _vendor_and_id(entry)
        if pair is None:
            continue
        qualified = _qualified(*pair)
        try:
            index = vendor_index(qualified)
        except HcsApiError:
            continue
        found[index] = qualified if found.get(index, qualified) == qualified else None
    return {index: qualified for index, qualified in found.items() if qualified is not None}


def _vendor_and_id(entry: Any) -> tuple[str, str] | None:
    if isinstance(entry, BaseModel):  # a Device built in code
        vendor, ident = getattr(entry, "vendor", None), getattr(entry, "id", None)
    elif isinstance(entry, dict):
        vendor, ident = entry.get("vendor"), entry.get("id")
    else:
        return None
    return (str(vendor), ident) if isinstance(vendor, str) and isinstance(ident, str) else None


def _renamed(entry: Any, by_index: dict[str, str]) -> Any:
    raw = _id_of(entry)
    if not _is_bare(raw) or raw not in by_index:
        return entry
    return {**entry, "id": by_index[raw]}
