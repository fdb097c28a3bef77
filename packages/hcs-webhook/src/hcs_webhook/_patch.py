"""RFC 6902 JSON Patch operations, with RFC 6901 pointers built from path tokens."""

from __future__ import annotations

from typing import Any

Op = dict[str, Any]


def pointer(*tokens: str | int) -> str:
    """A JSON pointer; `~` becomes `~0` and `/` becomes `~1` (in that order, per RFC 6901)."""
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in tokens)


def add(tokens: tuple[str | int, ...], value: Any) -> Op:
    return {"op": "add", "path": pointer(*tokens), "value": value}


def replace(tokens: tuple[str | int, ...], value: Any) -> Op:
    return {"op": "replace", "path": pointer(*tokens), "value": value}


def add_to_list(
    parent: dict[str, Any], key: str, tokens: tuple[str | int, ...], items: list[Any]
) -> list[Op]:
    """Append `items` to `parent[key]`: one `add` of the whole list when the key is absent."""
    if not items:
        return []
    if not isinstance(parent.get(key), list):
        return [add((*tokens, key), items)]
    return [add((*tokens, key, "-"), item) for item in items]


def add_to_map(
    parent: dict[str, Any], key: str, tokens: tuple[str | int, ...], entries: dict[str, Any]
) -> list[Op]:
    """Set `entries` in the map `parent[key]`: one `add` of the whole map when it is absent."""
    if not entries:
        return []
    if not isinstance(parent.get(key), dict):
        return [add((*tokens, key), entries)]
    return [add((*tokens, key, name), value) for name, value in entries.items()]
